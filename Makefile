# Two quickstart targets, each self-installing on a fresh machine:
#   make render   render every Pulumi.<stack>.yaml offline into ./rendered
#   make test     run the test suite
# The virtualenv is built from requirements.lock (exported from uv.lock), so every
# machine and CI run installs the same versions.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install render validate test bench lock clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

render: install
	$(BIN)/triton-platform render --out rendered

validate: install
	$(BIN)/triton-platform validate

test: install
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/triton-platform bench

# Maintainers only: re-resolve the lock after changing dependency ranges in pyproject.toml.
lock:
	uv lock
	uv export --frozen --all-extras --no-hashes --no-emit-project --no-header > requirements.lock

clean:
	rm -rf $(VENV) rendered .pytest_cache

# Re-record tests/golden after an intended change; review the diff like code.
golden: install
	$(BIN)/triton-platform render --out tests/golden
