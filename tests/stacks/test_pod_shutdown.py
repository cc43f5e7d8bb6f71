"""Every Triton pod of every committed stack stops in order: the mesh sidecar stays until Triton is done.

A Triton pod told to stop sleeps in preStop (routing drains away), then serves its in-flight requests
for up to its exit timeout. Its classic Istio sidecar gets SIGTERM at the start of that and exits after
``terminationDrainDuration`` (Istio's default: 5 s): every response still in flight after that is cut.
So each pod is judged as it will run, read from the rendered objects only: the preStop sleep and
``--exit-timeout-secs`` of its Triton container, the ProxyConfig annotation the injector reads, and
the grace period after which the kubelet kills whatever still runs.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from support import ROOT
from support.render import sidecar_injected
from triton_platform.review.render import render_stack, stack_config, stack_files

STACKS = sorted(stack_files(ROOT))
#: Istio's ``terminationDrainDuration`` when a pod sets none (ProxyConfig's documented default).
ISTIO_DEFAULT_DRAIN_SECONDS = 5.0


def go_duration_seconds(text: str) -> float:
    """A protobuf/Go duration as Istio reads it (``42s``, ``1m30s``, ``500ms``), in seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    parts = re.findall(r"([0-9]+(?:\.[0-9]+)?)(ms|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a duration Istio accepts")
    return sum(float(n) * units[u] for n, u in parts)


def triton_shutdown_seconds(pod_spec: dict[str, Any]) -> int:
    """preStop sleep + ``--exit-timeout-secs`` of the pod's Triton container."""
    (triton,) = [c for c in pod_spec["containers"] if c["name"] == "tritonserver"]
    sleep = triton["lifecycle"]["preStop"]["sleep"]["seconds"]
    (exit_timeout,) = [int(a.split("=", 1)[1]) for a in triton["args"] if a.startswith("--exit-timeout-secs=")]
    return sleep + exit_timeout


def sidecar_drain_seconds(pod: dict[str, Any]) -> float:
    config = json.loads(pod["metadata"].get("annotations", {}).get("proxy.istio.io/config", "{}"))
    return go_duration_seconds(config.get("terminationDrainDuration", f"{ISTIO_DEFAULT_DRAIN_SECONDS}s"))


def _pods(render) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, namespace, pod template) of every workload the render holds."""
    found = []
    for obj in render.manifests:
        template = (
            obj.get("spec", {}).get("template") if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet") else None
        )
        if template is not None:
            found.append((obj["metadata"]["name"], obj["metadata"].get("namespace", "default"), template))
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_the_sidecar_outlives_triton_and_the_grace_period_covers_both(stack):
    render = render_stack(ROOT, stack)
    triton_pods = [
        (n, ns, p) for n, ns, p in _pods(render) if any(c["name"] == "tritonserver" for c in p["spec"]["containers"])
    ]
    assert triton_pods, f"{stack} renders no Triton pod"
    judged = 0
    for name, namespace, pod in triton_pods:
        spec = pod["spec"]
        triton_done = triton_shutdown_seconds(spec)
        grace = spec["terminationGracePeriodSeconds"]
        assert grace > triton_done, (
            f"{stack}/{name}: the kubelet kills Triton at {grace} s, before it is done ({triton_done} s)"
        )
        if not sidecar_injected(render, pod, namespace):
            continue
        drain = sidecar_drain_seconds(pod)
        assert drain > triton_done, (
            f"{stack}/{name}: the sidecar stops forwarding after {drain} s, but Triton serves until {triton_done} s"
        )
        assert grace > drain, f"{stack}/{name}: the kubelet kills the sidecar at {grace} s, during its {drain} s drain"
        judged += 1
    config, _ = stack_config(ROOT / f"Pulumi.{stack}.yaml")
    if json.loads(config.get("triton-platform:mesh", "{}")).get("enabled"):
        assert judged == len(triton_pods), f"{stack} enables the mesh, yet not every Triton pod gets a sidecar"


@pytest.mark.parametrize(("text", "seconds"), [("42s", 42), ("1m30s", 90), ("500ms", 0.5), ("1h", 3600), ("2.5s", 2.5)])
def test_durations_are_read_as_istio_reads_them(text, seconds):
    assert go_duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["42", "s", "4 s", "1d"])
def test_a_duration_istio_refuses_is_not_taken_for_one(text):
    with pytest.raises(ValueError, match="is not a duration Istio accepts"):
        go_duration_seconds(text)
