"""`make render` installs only what rendering needs: the package and its cloud extras, from a lock of
their own (requirements-render.lock, exported from uv.lock like requirements.lock), with progress;
`make golden` does what the "adding a stack" steps say."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RENDER_LOCK = ROOT / "requirements-render.lock"
FULL_LOCK = ROOT / "requirements.lock"
UV = ROOT / ".venv" / "bin" / "uv"
#: The extras rendering and validating never import: tests, lab, model delivery, release tools.
NOT_FOR_RENDERING = ("test", "lab", "delivery", "delivery-gcs", "delivery-s3", "release", "e2e")


def _pins(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", path.read_text(), re.MULTILINE))


@pytest.fixture(autouse=True)
def make_is_installed():
    assert shutil.which("make"), "make is not installed: apt-get install -y make"


def _uv_export(*extras: str) -> str:
    assert UV.exists(), f"{UV} is missing: run `make install` (uv comes with the e2e extra)"
    args = [str(UV), "export", "--frozen", "--no-hashes", "--no-emit-project", "--no-header"]
    for extra in extras:
        args += ["--extra", extra]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True, timeout=120).stdout


def test_the_render_lock_is_the_exported_cloud_extras_and_nothing_else():
    """Stale after a pyproject change unless `make lock` ran: it must equal uv's export now."""
    assert RENDER_LOCK.read_text() == _uv_export("gcp", "aws"), "requirements-render.lock is stale: run `make lock`"


def test_the_render_lock_excludes_lab_delivery_release_and_test_packages():
    render = _pins(RENDER_LOCK)
    assert {"pulumi", "pulumi-kubernetes", "pulumi-gcp", "pulumi-aws", "pydantic", "pyyaml"} <= set(render)
    for extra in NOT_FOR_RENDERING:
        only_there = set(_pins_of_export(extra)) - set(_pins_of_export())
        assert only_there, f"the {extra} extra adds nothing: the check would pass vacuously"
        assert not only_there & set(render), (
            f"requirements-render.lock holds {extra} packages: {only_there & set(render)}"
        )
    # Same versions as the full lock, so a full install satisfies a render and vice versa.
    full = _pins(FULL_LOCK)
    assert {name: full.get(name) for name in render} == render


def _pins_of_export(*extras: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", _uv_export("gcp", "aws", *extras), re.MULTILINE))


def test_make_lock_writes_both_locks():
    recipe = subprocess.run(["make", "-n", "lock"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60)
    lines = recipe.stdout.splitlines()
    assert "uv export --frozen --all-extras --no-hashes --no-emit-project --no-header > requirements.lock" in lines
    assert (
        "uv export --frozen --extra gcp --extra aws --no-hashes --no-emit-project --no-header "
        "> requirements-render.lock"
    ) in lines


@pytest.mark.parametrize("target", ["render", "validate"])
def test_make_render_on_a_fresh_clone_installs_from_the_render_lock_with_progress(tmp_path, target):
    env = {k: v for k, v in os.environ.items() if k != "MAKEFLAGS"}
    dry = subprocess.run(
        ["make", "-n", target, f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    installs = [line for line in dry.splitlines() if "pip install" in line and " -r " in line]
    assert installs == [f"{tmp_path / 'venv'}/bin/python -m pip install --progress-bar off -r requirements-render.lock"]
    assert "requirements.lock" not in dry
    steps = re.findall(r'^echo "make: \[(\d)/3\]', dry, re.MULTILINE)
    assert steps == ["1", "2", "3"]


def test_a_full_install_counts_as_a_render_install(tmp_path):
    """After `make install`, `make render` installs nothing more (the full lock holds the render lock)."""
    env = {k: v for k, v in os.environ.items() if k != "MAKEFLAGS"}
    venv = tmp_path / "venv"
    for name in ("Makefile", "pyproject.toml", "requirements.lock", "requirements-render.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(Path(os.path.realpath(ROOT / ".venv" / "bin" / "python")))
    dry = subprocess.run(
        ["make", "-n", "install", f"VENV={venv}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert f"touch {venv}/.render-installed {venv}/.installed" in dry.splitlines()
    (venv / ".render-installed").touch()
    (venv / ".installed").touch()
    dry = subprocess.run(
        ["make", "-n", "render", f"VENV={venv}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert "pip install" not in dry and "triton-platform render --out rendered" in dry


def test_make_golden_prunes_removed_stacks_and_writes_the_gitlab_list():
    """What tests/stacks/test_stacks.py's new-stack test runs is what `make golden` runs."""
    dry = subprocess.run(
        ["make", "-n", "golden", "VENV=.venv"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    assert ".venv/bin/triton-platform render --out tests/golden --prune" in dry
    assert ".venv/bin/python .ci/gitlab_stacks.py" in dry
