"""No PodDisruptionBudget of a committed stack blocks a node drain at the stack's minimum replicas.

A budget that allows zero disruptions (one replica and ``minAvailable: 1``) stalls ``kubectl drain``,
cluster-autoscaler scale-down and GKE/EKS node upgrades. Budgets come from three places: our own
PodDisruptionBudget objects, the Istio gateway chart (``podDisruptionBudget`` values) and the istiod
chart (a fixed ``minAvailable: 1`` unless ``global.defaultPodDisruptionBudget.enabled`` is false).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from triton_platform.render import render_stack, stack_files

ROOT = Path(__file__).resolve().parents[1]
STACKS = sorted(stack_files(ROOT))
RELEASE = "kubernetes:helm.sh/v3:Release"


def allowed_disruptions(budget: dict[str, Any], replicas: int) -> int:
    if "maxUnavailable" in budget:
        return int(budget["maxUnavailable"])
    return replicas - int(budget.get("minAvailable", 1))


def budgets(render) -> Iterator[tuple[str, dict[str, Any], int]]:
    """(what, budget spec, minimum replicas) for every budget the stack creates."""
    minimum: dict[str, int] = {}
    for obj in render.manifests:
        if obj["kind"] == "Deployment":
            minimum[obj["metadata"]["name"]] = obj["spec"].get("replicas", 1)
        if obj["kind"] == "ScaledObject":
            minimum[obj["spec"]["scaleTargetRef"]["name"]] = obj["spec"].get("minReplicaCount", 0)
    for obj in render.manifests:
        if obj["kind"] == "PodDisruptionBudget":
            name = obj["metadata"]["name"]
            yield f"PodDisruptionBudget {name}", obj["spec"], minimum.get(name, 1)
    for release in render.find(RELEASE):
        values = release["inputs"].get("values", {})
        chart = release["inputs"]["chart"]
        if chart == "gateway" and values.get("podDisruptionBudget"):
            replicas = values.get("autoscaling", {}).get("minReplicas", values.get("replicaCount", 1))
            yield f"gateway chart {release['name']}", values["podDisruptionBudget"], replicas
        if chart == "istiod" and values.get("global", {}).get("defaultPodDisruptionBudget", {}).get("enabled", True):
            replicas = min(values.get("autoscaleMin", 1), values.get("replicaCount", 1))
            yield f"istiod chart {release['name']}", {"minAvailable": 1}, replicas


@pytest.mark.parametrize("stack", STACKS)
def test_no_budget_blocks_a_drain_at_the_configured_minimum(stack):
    found = list(budgets(render_stack(ROOT, stack)))
    assert found, "every stack has at least one budget"
    for what, budget, replicas in found:
        if replicas == 0:
            continue  # nothing to evict
        assert allowed_disruptions(budget, replicas) >= 1, f"{what}: {budget} with {replicas} replica(s) allows no drain"


def test_the_check_sees_a_blocking_budget():
    assert allowed_disruptions({"minAvailable": 1}, 1) == 0
    assert allowed_disruptions({"maxUnavailable": 1}, 1) == 1
