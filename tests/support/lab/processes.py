"""Child processes, loopback ports, bounded waits and prerequisites: what every lab program runs on.

Everything binds to 127.0.0.1 on free ports, every process is owned by an object whose ``stop()``
kills it (fixtures call it in teardown), and every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
#: What installs every program from Debian the suite runs on a fresh machine (Python packages come from
#: requirements.lock).
INSTALL_COMMAND = "bash tests/install-prereqs"  # Prometheus, promtool, Alertmanager and stress-ng


class MissingPrerequisite(AssertionError):
    """A test prerequisite is absent: a failure (never a skip) that names the command installing it."""

    def __init__(self, what: str, command: str = INSTALL_COMMAND) -> None:
        super().__init__(f"test prerequisite missing: {what}; install it with: {command}")


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns a truthy value; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class Process:
    """A child process with its output in a log file; ``stop()`` always leaves it dead."""

    def __init__(
        self, argv: list[str], log: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> None:
        self.argv = argv
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = log.open("wb")
        self.popen = subprocess.Popen(
            argv,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        if self.alive():
            self.popen.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout=timeout)

    def stop(self, grace_seconds: float = 10) -> None:
        """SIGTERM, then SIGKILL to the process group (Triton's Python stubs included) after the grace."""
        if self.alive():
            self.popen.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace_seconds)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        self._log_file.close()


def http_status(
    url: str,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 5,
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return 0, b""


def require_executable(name: str, package: str = "prometheus") -> str:
    """The path of ``name``; MissingPrerequisite naming its Debian ``package`` when it is not on PATH."""
    found = shutil.which(name)
    if not found:
        raise MissingPrerequisite(f"`{name}` on PATH (Debian package {package})")
    return found
