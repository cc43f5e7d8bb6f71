# Two quickstart targets, each self-installing on a fresh machine:
#   make render   render every Pulumi.<stack>.yaml offline into ./rendered
#   make test     run the test suite
# The virtualenv is built from locks exported from uv.lock, so every machine and CI run installs
# the same versions: requirements-render.lock (the package and its cloud extras: enough to
# render and validate) or requirements.lock (every extra: tests, lab, delivery, release tools).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: help install render example validate test test-stress lab lab-bench e2e bench-e2e bench golden docs lock clean

# `make` alone lists the targets. Each target's help is the `## ` comment on its rule line, so the
# list cannot drift from the Makefile (tests/repository/test_makefile.py checks every target has one).
.DEFAULT_GOAL := help

help: ## list the targets
	@echo "usage: make <target>   (each target installs .venv first if needed: render and validate from requirements-render.lock, the others from requirements.lock)"
	@awk 'BEGIN { FS = ":.*## " } /^[a-z][a-z0-9_-]*:.*## / { printf "  %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

install: $(VENV)/.installed ## create .venv from requirements.lock (every target but render and validate does this first)

# pyproject.toml's requires-python (>=3.11,<3.14) as a check any python can run: "<version> ok|unsupported".
SUPPORTED := import sys; v = sys.version_info; print("%d.%d.%d" % tuple(v[:3]), "ok" if (3, 11) <= tuple(v[:2]) <= (3, 13) else "unsupported")
NEEDS     := this project needs Python 3.11, 3.12 or 3.13 (requires-python in pyproject.toml). Install one and run: make PYTHON=python3.12 $(or $(MAKECMDGOALS),install)
# A .venv whose Python no longer runs (upgraded or removed) or was made by an unsupported python3
# would fail every later run while its stamp says "installed": notice it here and rebuild it.
comma := ,
VENV_PYTHON := $(if $(wildcard $(VENV)),$(shell $(BIN)/python -c '$(SUPPORTED)' 2>/dev/null))
VENV_STATE  := $(if $(wildcard $(VENV)),$(or $(word 2,$(VENV_PYTHON)),broken))
VENV_REBUILD := $(if $(filter unsupported,$(VENV_STATE)),$(VENV) was made by Python $(word 1,$(VENV_PYTHON))$(comma) which this project cannot use,$(if $(filter broken,$(VENV_STATE)),$(VENV)'s Python does not run (its interpreter was upgraded or removed)))
ifneq ($(VENV_REBUILD),)
.PHONY: $(VENV)/.installed $(VENV)/.render-installed
endif

# Check the Python, then create (or rebuild) the venv with a current pip.
define MAKE_VENV
	@found=$$($(PYTHON) -c '$(SUPPORTED)' 2>/dev/null); case "$$found" in *" ok") ;; \
	  "") echo "make: $(PYTHON) is not found; $(NEEDS)" >&2; exit 1 ;; \
	  *) echo "make: $(PYTHON) is Python $${found% *}; $(NEEDS)" >&2; exit 1 ;; esac
	$(if $(VENV_REBUILD),@echo "make: $(VENV_REBUILD); rebuilding it with $(PYTHON)" >&2)
	$(PYTHON) -m venv $(if $(VENV_REBUILD),--clear )$(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
endef

$(VENV)/.installed: pyproject.toml requirements.lock
	$(MAKE_VENV)
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(VENV)/.render-installed $@

# The first `make render` on a fresh clone: about 2½ minutes and 0.7 GB on a busy 2-core machine,
# the render included (half of what `make install` takes), most of it downloading the cloud SDKs;
# pip names each package as it goes.
# requirements.lock holds every pin of requirements-render.lock, so a full install covers it.
$(VENV)/.render-installed: pyproject.toml requirements-render.lock
	@echo "make: [1/3] creating $(VENV) (first render only)"
	$(MAKE_VENV)
	@echo "make: [2/3] installing the package's $$(grep -c '==' requirements-render.lock) dependencies from requirements-render.lock (the cloud SDKs take most of the time)"
	$(BIN)/python -m pip install --progress-bar off -r requirements-render.lock
	@echo "make: [3/3] installing triton-platform itself"
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

render: $(VENV)/.render-installed ## render every Pulumi.<stack>.yaml offline into ./rendered/<stack>/
	$(BIN)/triton-platform render --out rendered

# A user's own project (examples/triton-server-only) under the same mocks: no Pulumi CLI needed.
example: $(VENV)/.render-installed ## render examples/triton-server-only offline into ./rendered/examples/triton-server-only/
	cd examples/triton-server-only && $(abspath $(BIN))/triton-platform render --out $(CURDIR)/rendered/examples/triton-server-only

validate: $(VENV)/.render-installed ## check every stack's configuration only
	$(BIN)/triton-platform validate

test: install ## lint, format check, type check, import contracts + the whole suite, the lab of real programs included (the first step of .ci/run)
	bash tests/install-prereqs
	$(BIN)/ruff check --no-cache .
	$(BIN)/ruff format --check --no-cache .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q

# The suite must hold on a busy machine: `make test` STRESS_RUNS times in a row while stress-ng (from
# Debian, installed if missing) keeps every core busy; stress-ng is stopped at the end.
STRESS_RUNS ?= 3
test-stress: install ## `make test` 3 times in a row with stress-ng on every core (STRESS_RUNS=n; installs stress-ng)
	STRESS_RUNS=$(STRESS_RUNS) bash .ci/test-stress

lab: install ## the lab only: real Triton, Prometheus, promtool and bucket emulators on 127.0.0.1 (about 3 min)
	bash tests/install-prereqs
	$(BIN)/python -m pytest tests/lab -m lab -q

lab-bench: install ## measured reaction of the autoscaling signal to a 2x load step (about 6 min)
	bash tests/install-prereqs
	$(BIN)/python benchmarks/lab_reaction_time.py --repeat 3

# The real Pulumi CLI deploys Pulumi.local.yaml to a local control plane (tests/e2e/README.md).
# The first run builds the Go toolchain (.ci/toolchain/build, ~50 min cold on 2 cores); then ~5 min warm.
# `make e2e` proves each behaviour once, its modules side by side (E2E_WORKERS at a time, each with
# a control plane of its own: they wait mostly on Kubernetes', KEDA's and Envoy's clocks, not on the
# CPU; E2E_WORKERS=0 runs them one after another; up to 8 have port ranges of their own, see
# tests/support/ports.py); the repeated timings (`bench`-marked tests) are
# `make bench-e2e`, one at a time so that nothing else runs while they measure.
E2E_WORKERS ?= 4
E2E_PYTEST := $(BIN)/python -m pytest -p no:cacheprovider --durations=25 tests/e2e
e2e: install ## the real Pulumi CLI deploys Pulumi.local.yaml to a local control plane (builds the Go toolchain once)
	bash .ci/toolchain/build >/dev/null
	bash .ci/component-package/build >/dev/null
	$(E2E_PYTEST) -m "e2e and not bench" $(if $(filter-out 0,$(E2E_WORKERS)),-n $(E2E_WORKERS) --dist loadfile)

bench-e2e: install ## the e2e measurements (~11 min warm): autoscaling and wake-up timings, stack vs plain, YAML vs Python
	bash .ci/toolchain/build >/dev/null
	bash .ci/component-package/build >/dev/null
	$(E2E_PYTEST) -m "e2e and bench"

bench: install ## full benchmark (~3 min), writes benchmarks/results.json
	$(BIN)/triton-platform bench

# The configuration reference is generated from the config models' field docs; a test fails when the
# committed file differs from what this writes.
docs: $(VENV)/.render-installed ## regenerate docs/configuration.md from the config models (after changing a setting)
	$(BIN)/triton-platform config-reference --out docs/configuration.md

# Maintainers only: re-resolve the lock after changing dependency ranges in pyproject.toml.
lock: ## maintainers: re-resolve uv.lock, requirements.lock and requirements-render.lock after editing pyproject ranges
	uv lock
	uv export --frozen --all-extras --no-hashes --no-emit-project --no-header > requirements.lock
	uv export --frozen --extra gcp --extra aws --no-hashes --no-emit-project --no-header > requirements-render.lock

clean: ## remove .venv, ./rendered and caches
	rm -rf $(VENV) rendered .pytest_cache .mypy_cache

# Re-record tests/golden after an intended change, and after adding, renaming or removing a
# Pulumi.<stack>.yaml: renders of removed stacks go, and GitLab's stack list (which cannot be
# computed at run time as GitHub's is) follows. Review the diff like code.
golden: install ## re-record tests/golden and GitLab's stack list after a change or a new stack (review the diff)
	$(BIN)/triton-platform render --out tests/golden --prune
	$(BIN)/python .ci/gitlab_stacks.py
