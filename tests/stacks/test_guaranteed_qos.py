"""Triton pods really are Guaranteed QoS: every container, the injected Istio sidecar included.

Kubernetes makes a pod Guaranteed only if every container (init containers too) has CPU and memory
requests equal to its limits. The sidecar and its ``istio-validation`` init container are added by
istiod's injector, which sizes both from the pod's ``sidecar.istio.io/proxy*`` annotations (or, without
them, from the mesh default of 100m/128Mi requests and 2/1Gi limits: Burstable). So the rendered pod is
judged with the sidecar counted through those annotations.
"""

from __future__ import annotations

from typing import Any

import pytest

from support import ROOT
from support.render import sidecar_injected
from triton_components.common.quantities import cpu_millicores, memory_bytes
from triton_platform.review.render import render_stack, stack_files

STACKS = sorted(stack_files(ROOT))
SIDECAR = "sidecar.istio.io/"


def containers_with_resources(render, deployment: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(name, resources) for every container the running pod will have, the injected ones included."""
    pod = deployment["spec"]["template"]
    spec = pod["spec"]
    found = [(c["name"], c.get("resources", {})) for c in spec.get("initContainers", []) + spec["containers"]]
    if sidecar_injected(render, pod, deployment["metadata"]["namespace"]):
        a = pod["metadata"].get("annotations", {})
        injected = {
            "requests": {
                k: v for k, v in (("cpu", a.get(f"{SIDECAR}proxyCPU")), ("memory", a.get(f"{SIDECAR}proxyMemory"))) if v
            },
            "limits": {
                k: v
                for k, v in (("cpu", a.get(f"{SIDECAR}proxyCPULimit")), ("memory", a.get(f"{SIDECAR}proxyMemoryLimit")))
                if v
            },
        }
        found += [("istio-validation", injected), ("istio-proxy", injected)]
    return found


def is_guaranteed(resources: dict[str, Any]) -> bool:
    requests, limits = resources.get("requests", {}), resources.get("limits", {})
    for name, parse in (("cpu", cpu_millicores), ("memory", memory_bytes)):
        if name not in requests or name not in limits or parse(requests[name]) != parse(limits[name]):
            return False
    return True


@pytest.mark.parametrize("stack", STACKS)
def test_every_container_of_every_triton_pod_has_requests_equal_to_limits(stack):
    render = render_stack(ROOT, stack)
    deployments = [
        o for o in render.manifests if o["kind"] == "Deployment" and o["metadata"]["name"].startswith("triton-")
    ]
    assert deployments
    for deployment in deployments:
        for name, resources in containers_with_resources(render, deployment):
            assert is_guaranteed(resources), f"{deployment['metadata']['name']}/{name}: {resources} is not Guaranteed"


def test_the_check_recognises_burstable_containers():
    assert not is_guaranteed({"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}})
    assert not is_guaranteed({"limits": {"cpu": "1"}})
    assert is_guaranteed({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1000m", "memory": "1024Mi"}})
