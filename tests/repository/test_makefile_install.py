"""`make install` says which Python it needs, and never leaves a .venv made by the wrong Python
broken for every later run: it notices and rebuilds it.

Each case runs the real Makefile in a scratch folder with pip cut off from every package source
(``offline_env``), so no case waits on a registry; what matters is what make decides before pip runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: The interpreter this suite runs on: supported (3.11 to 3.13), so make may build a venv with it.
REAL_PYTHON = Path(getattr(sys, "_base_executable", sys.executable))


@pytest.fixture(autouse=True)
def make_is_installed():
    """A missing prerequisite is a failure naming its install command, never a skip."""
    assert shutil.which("make"), "make is not installed: apt-get install -y make"


@pytest.fixture
def folder(tmp_path):
    for name in ("Makefile", "pyproject.toml", "requirements.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def fake_python(folder: Path, version: tuple[int, int, int]) -> Path:
    """A `python3` that reports another version (sys.version_info patched by a sitecustomize)."""
    site = folder / f"fake-site-{'.'.join(map(str, version))}"
    site.mkdir()
    (site / "sitecustomize.py").write_text(f"import sys\nsys.version_info = {(*version, 'final', 0)!r}\n")
    script = folder / f"python{version[0]}.{version[1]}"
    script.write_text(f'#!/bin/sh\nPYTHONPATH="{site}" exec "{REAL_PYTHON}" "$@"\n')
    script.chmod(0o755)
    return script


def offline_env() -> dict[str, str]:
    """This environment with pip unable to reach any package source: no index, none of the machine's
    pip settings (a pip.conf or PIP_* variable may add an index or a find-links URL), and a proxy that
    refuses at once, so a request that slips through fails in milliseconds instead of waiting."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("PIP_", "UV_")) and k != "MAKEFLAGS"}
    refused = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused
    env.update(
        PIP_NO_INDEX="1",
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_RETRIES="0",
        HTTP_PROXY=refused,
        HTTPS_PROXY=refused,
        ALL_PROXY=refused,
        http_proxy=refused,
        https_proxy=refused,
        all_proxy=refused,
        NO_PROXY="",
        no_proxy="",
    )
    return env


def make_install(folder: Path, python: Path | str) -> subprocess.CompletedProcess[str]:
    env = offline_env()
    return subprocess.run(
        ["make", "-s", "install", f"PYTHON={python}"], cwd=folder, env=env, capture_output=True, text=True, timeout=300
    )


def stale_venv(folder: Path, python_target: Path | str) -> None:
    """A .venv whose stamp says installed, with bin/python pointing at ``python_target``."""
    (folder / ".venv" / "bin").mkdir(parents=True)
    (folder / ".venv" / "bin" / "python").symlink_to(python_target)
    (folder / ".venv" / ".installed").touch()


def test_a_python_older_than_3_11_is_refused_with_what_to_do(folder):
    python = fake_python(folder, (3, 10, 4))
    result = make_install(folder, python)
    assert result.returncode != 0
    assert result.stderr.splitlines()[0] == (
        f"make: {python} is Python 3.10.4; this project needs Python 3.11, 3.12 or 3.13 (requires-python in "
        "pyproject.toml). Install one and run: make PYTHON=python3.12 install"
    )
    assert not (folder / ".venv").exists()


def test_a_missing_python_is_named(folder):
    result = make_install(folder, "python3-that-is-not-installed")
    assert result.returncode != 0
    assert result.stderr.splitlines()[0] == (
        "make: python3-that-is-not-installed is not found; this project needs Python 3.11, 3.12 or 3.13 "
        "(requires-python in pyproject.toml). Install one and run: make PYTHON=python3.12 install"
    )


def test_a_venv_whose_python_is_gone_is_rebuilt(folder):
    stale_venv(folder, "/nonexistent/python3.10")
    result = make_install(folder, REAL_PYTHON)
    assert result.stderr.splitlines()[0] == (
        f"make: .venv's Python does not run (its interpreter was upgraded or removed); rebuilding it with {REAL_PYTHON}"
    )
    assert subprocess.run([folder / ".venv" / "bin" / "python", "-c", "pass"]).returncode == 0


def test_a_venv_made_by_an_unsupported_python_is_rebuilt(folder):
    stale_venv(folder, fake_python(folder, (3, 9, 18)))
    result = make_install(folder, REAL_PYTHON)
    assert result.stderr.splitlines()[0] == (
        f"make: .venv was made by Python 3.9.18, which this project cannot use; rebuilding it with {REAL_PYTHON}"
    )
    check = subprocess.run(
        [folder / ".venv" / "bin" / "python", "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
    )
    assert check.stdout.strip() == str(tuple(sys.version_info[:2]))


def test_a_working_venv_is_left_alone(folder):
    stale_venv(folder, REAL_PYTHON)
    result = make_install(folder, REAL_PYTHON)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_no_case_reaches_a_package_source_the_machine_configures(folder, monkeypatch):
    """A wheelhouse or index URL in the machine's pip settings must not turn these tests into
    registry tests: pip runs (the venv is rebuilt) and the URL sees no request."""
    requests: list[str] = []

    class Wheelhouse(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server's naming
            requests.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Wheelhouse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/wheels/"
        monkeypatch.setenv("PIP_FIND_LINKS", url)
        monkeypatch.setenv("PIP_EXTRA_INDEX_URL", url)
        stale_venv(folder, "/nonexistent/python3.10")
        result = make_install(folder, REAL_PYTHON)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    # pip ran, found no package source, and failed at once.
    assert "rebuilding it with" in result.stderr and "No matching distribution found for" in result.stderr, (
        result.stderr
    )
    assert requests == []
