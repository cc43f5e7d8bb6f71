"""A Pulumi YAML program uses TritonServer through the component provider, on the real engine.

``examples/triton-yaml`` runs with the toolchain's Pulumi CLI, Pulumi YAML's language host and the
Kubernetes provider against a local control plane with kwok GPU nodes: its objects are those the
Python example (``examples/triton-server-only``, same inputs) declares, a second ``up`` changes
nothing, and ``destroy`` removes them.

The example is added to its project the way a user does it: ``pulumi package add ../..`` from
``examples/triton-yaml`` in a copy of this checkout (the one the stack tests deploy from, with its
``.venv``). The engine then starts the package's ``__main__.py`` through the toolchain's Python
language host, as a source-based component provider. As the deploy steps (docs/deploy.md) do, the copy sets
the admin key as a secret (the toolchain has no random provider).
"""

from __future__ import annotations

import json
import os
import platform as host_platform
import runpy
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e_cluster import LocalCluster, wait_for
from e2e_pulumi import STACK, PulumiCli, copy_project
from e2e_toolchain import ROOT, cache_dir, require_toolchain
from triton_platform.review.render import record

pytestmark = pytest.mark.e2e

BUILD = ROOT / ".ci" / "component-package" / "build"
EXAMPLE = ROOT / "examples" / "triton-yaml"
PYTHON_EXAMPLE = ROOT / "examples" / "triton-server-only" / "__main__.py"
NAMESPACE = "inference"
RESULTS = ROOT / "benchmarks" / "e2e-component-package.json"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


def _prerequisites() -> Path:
    result = subprocess.run(["bash", str(BUILD)], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        pytest.fail(
            f"`bash {BUILD.relative_to(ROOT)}` failed (exit {result.returncode}); run it to see why:\n"
            + result.stderr[-3000:],
            pytrace=False,
        )
    return Path(result.stdout.split()[-1])


class YamlCli(PulumiCli):
    """The suite's CLI, finding the language hosts on PATH: the CLI counts them as bundled (no `plugin
    install`) and looks for them beside itself or on PATH, which PULUMI_IGNORE_AMBIENT_PLUGINS hides. PATH is then
    only the CLI's tools folder and the system's, so no other plugin comes from it."""

    @property
    def env(self) -> dict[str, str]:
        env = dict(super().env)
        del env["PULUMI_IGNORE_AMBIENT_PLUGINS"]
        env["PATH"] = os.pathsep.join([str(self.tools), "/usr/bin", "/bin"])
        return env


#: Where the example finds the package, as ``pulumi package add`` records it.
PACKAGE_SOURCE = "../.."


@pytest.fixture(scope="module")
def yaml_run() -> Iterator[tuple[LocalCluster, PulumiCli]]:
    workdir = Path(tempfile.mkdtemp(prefix="triton-yaml-e2e-"))
    toolchain = require_toolchain(workdir / "toolchain-build.log")
    prerequisites = _prerequisites()
    cluster = LocalCluster(toolchain, workdir / "cluster")
    cli: PulumiCli | None = None
    try:
        cluster.start()
        # Two GPU nodes with room for the example's four one-GPU pods.
        for name in ("gpu-0", "gpu-1"):
            cluster.add_node(
                name, {}, [GPU_TAINT], {"cpu": "32", "memory": "128Gi", "pods": "110", "nvidia.com/gpu": "4"}
            )
        cluster.wait_nodes_ready(["gpu-0", "gpu-1"])

        checkout = cache_dir() / "project-yaml"
        copy_project(ROOT, checkout)
        project = checkout / EXAMPLE.relative_to(ROOT)
        program = yaml.safe_load((project / "Pulumi.yaml").read_text())
        # Without its `packages:` entry, as before a user's `pulumi package add`.
        assert program.pop("packages") == {"tritonplatform": PACKAGE_SOURCE}
        program["config"]["adminApiKey"] = {"type": "string", "secret": True}
        program["resources"]["inference"]["properties"]["adminApiKey"] = "${adminApiKey}"
        (project / "Pulumi.yaml").write_text(yaml.safe_dump(program, sort_keys=False))

        cli = YamlCli(toolchain, workdir / "pulumi", project, cluster.kubeconfig)
        cli.run("login", f"file://{cli.state_dir}")
        cli.run(
            "plugin",
            "install",
            "resource",
            "kubernetes",
            "v" + toolchain.versions["PULUMI_KUBERNETES_PLUGIN_VERSION"],
            "--file",
            toolchain["pulumi-resource-kubernetes"],
        )
        (cli.tools / "pulumi-language-yaml").symlink_to(prerequisites / "bin" / "pulumi-language-yaml")
        # The package is Python source: the engine starts it through the Python host, which it looks
        # for on PATH here (its -exec is found beside the real binary).
        (cli.tools / "pulumi-language-python").symlink_to(toolchain["pulumi-language-python"])
        # The package's virtualenv, as `pulumi install` makes it in a fresh clone (uv sync into .venv).
        cli.run("install", cwd=checkout, timeout=1800)
        cli.run("package", "add", PACKAGE_SOURCE, label="package add", timeout=1800)
        added = yaml.safe_load((project / "Pulumi.yaml").read_text()).get("packages", {})
        assert added.get("tritonplatform") == PACKAGE_SOURCE, f"`pulumi package add` recorded {added!r}"
        cli.run("stack", "init", STACK, "--secrets-provider", "passphrase", "--non-interactive")
        cli.run("config", "set", "--secret", "adminApiKey", os.urandom(24).hex(), "--stack", STACK)
    except Exception:
        print(cluster.logs_tail())
        if cli is not None:
            print("\n".join(cli.log))
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    try:
        yield cluster, cli
    finally:
        print("\n".join(cli.log))
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _difference(live: Any, sent: Any, path: str = "") -> str | None:
    """Where a value the program sent is not in the live object (the API server may add defaults)."""
    if isinstance(sent, dict):
        if not isinstance(live, dict):
            return f"{path}: live {live!r}"
        for key, value in sent.items():
            if key not in live:
                if value in ({}, [], None):  # the API server drops empty fields
                    continue
                return f"{path}.{key}: not in the live object"
            found = _difference(live[key], value, f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(sent, list):
        if not isinstance(live, list) or len(live) != len(sent):
            return f"{path}: live {live!r}, sent {sent!r}"
        return next(
            (d for i, (a, b) in enumerate(zip(live, sent, strict=True)) if (d := _difference(a, b, f"{path}[{i}]"))),
            None,
        )
    return None if live == sent else f"{path}: live {live!r}, sent {sent!r}"


def _python_objects() -> list[dict[str, Any]]:
    """What the Python example sends to Kubernetes, from the offline render (same inputs)."""
    return record(lambda: runpy.run_path(str(PYTHON_EXAMPLE), run_name="__main__"), stack="example").manifests


def _key(obj: dict[str, Any]) -> tuple[str, str, str]:
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def test_up_declares_the_objects_of_the_python_program_then_changes_nothing_then_destroys(yaml_run) -> None:
    cluster, cli = yaml_run
    up = cli.up(label="yaml up")
    assert "tritonplatform:index:TritonServer" in up.output

    expected = _python_objects()
    state = {
        (r["outputs"]["kind"], r["outputs"]["metadata"].get("namespace", ""), r["outputs"]["metadata"]["name"])
        for r in cli.state()
        if r["type"].startswith("kubernetes:") and "kind" in r.get("outputs", {})
    }
    assert state == {_key(o) for o in expected}, "the YAML program declared other objects than the Python program"
    for obj in expected:
        kind, namespace, name = _key(obj)
        live = cluster.get(kind.lower(), name, *(["-n", namespace] if namespace else []))
        sent = {k: v for k, v in obj.items() if k not in ("stringData", "status")}  # secrets are not readable back
        difference = _difference(live, sent)
        assert difference is None, f"{kind} {namespace}/{name} differs from the Python program's at {difference}"

    cli.preview("--expect-no-changes", label="second preview")
    second = cli.up("--expect-no-changes", label="second up")
    assert "tritonplatform:index:TritonServer" not in second.stderr

    cli.run("destroy", "--stack", STACK, "--yes", "--non-interactive", label="destroy", timeout=900)
    assert [r for r in cli.state() if r["type"] != "pulumi:pulumi:Stack"] == []

    def gone() -> bool:
        found = cluster.kubectl("get", "namespace", NAMESPACE, "--ignore-not-found", "-o", "name")
        return found.stdout.strip() == ""

    wait_for(f"namespace {NAMESPACE} deleted", gone, timeout=120)


def _python_project(cli: PulumiCli) -> Path:
    """``examples/triton-server-only`` as its user runs it, with this virtualenv (same pulumi, same
    pulumi_kubernetes as the provider) and the admin key as a secret, like the YAML run."""
    project = cli.workdir / "python-example"
    project.mkdir(exist_ok=True)
    shutil.copy2(PYTHON_EXAMPLE, project / "__main__.py")
    (project / "Pulumi.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "triton-server-only",
                "runtime": {"name": "python", "options": {"toolchain": "pip", "virtualenv": sys.prefix}},
            }
        )
    )
    cli.run("stack", "init", "python", "--secrets-provider", "passphrase", "--non-interactive", cwd=project)
    cli.run("config", "set", "--secret", "adminApiKey", os.urandom(24).hex(), "--stack", "python", cwd=project)
    return project


def _provider_start_seconds(checkout: Path) -> float:
    """From starting the plugin as the language host does (its virtualenv's ``python -u DIR``) to its
    gRPC port on stdout (what the engine waits for)."""
    start = time.monotonic()
    process = subprocess.Popen(
        [str(checkout / ".venv" / "bin" / "python"), "-u", str(checkout), "127.0.0.1:1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 120)
        assert ready, "the plugin printed no port within 120 s"
        port = process.stdout.readline().strip()
        seconds = time.monotonic() - start
        assert port.isdigit(), f"the plugin printed {port!r}, not its port"
        return seconds
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.bench
def test_benchmark_the_provider_boundary_against_the_python_program(yaml_run) -> None:
    """Timings, not assertions (``make bench-e2e``): preview (median of 3, from empty), up and destroy of the YAML program
    against the Python example (same objects), in the same run on the same cluster, and the
    provider's start. Written to benchmarks/e2e-component-package.json."""
    _, cli = yaml_run
    seconds: dict[str, float] = {}
    python = _python_project(cli)
    for label, cwd, stack in (("yaml", cli.project, STACK), ("python", python, "python")):
        runs = [cli.run("preview", "--stack", stack, "--non-interactive", cwd=cwd).seconds for _ in range(3)]
        seconds[f"preview ({label}, from empty)"] = round(statistics.median(runs), 2)
        seconds[f"up ({label}, from empty)"] = round(
            cli.run("up", "--stack", stack, "--yes", "--skip-preview", "--non-interactive", cwd=cwd).seconds, 2
        )
        seconds[f"destroy ({label})"] = round(
            cli.run("destroy", "--stack", stack, "--yes", "--skip-preview", "--non-interactive", cwd=cwd).seconds, 2
        )
    starts = [_provider_start_seconds(cli.project.parent.parent) for _ in range(3)]
    seconds["provider start (median of 3)"] = round(statistics.median(starts), 2)

    report = {
        "measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {host_platform.system()} {host_platform.machine()}",
        "what": "wall seconds of the real `pulumi` CLI against a local kube-apiserver (kwok nodes): "
        "examples/triton-yaml through the component provider vs examples/triton-server-only in "
        "Python, the same Kubernetes objects, same run",
        "kubernetes objects": len(_python_objects()),
        "seconds": seconds,
        "ratios": {
            "preview (yaml / python)": round(
                seconds["preview (yaml, from empty)"] / seconds["preview (python, from empty)"], 2
            ),
            "up (yaml / python)": round(seconds["up (yaml, from empty)"] / seconds["up (python, from empty)"], 2),
        },
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
