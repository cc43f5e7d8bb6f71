"""No PodDisruptionBudget of a committed stack blocks a node drain at the stack's minimum replicas.

A budget that allows zero disruptions (one replica and ``minAvailable: 1``) stalls ``kubectl drain``,
cluster-autoscaler scale-down and GKE/EKS node upgrades. Here: our own PodDisruptionBudget objects.
The budgets Istio's gateway and istiod charts make of our values are checked on the charts' real
render in tests/e2e/test_istio_charts.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from support import ROOT
from triton_platform.review.render import render_stack, stack_files

STACKS = sorted(stack_files(ROOT))


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


@pytest.mark.parametrize("stack", STACKS)
def test_no_budget_blocks_a_drain_at_the_configured_minimum(stack):
    found = list(budgets(render_stack(ROOT, stack)))
    assert found, "every stack has at least one budget"
    for what, budget, replicas in found:
        if replicas == 0:
            continue  # nothing to evict
        assert allowed_disruptions(budget, replicas) >= 1, (
            f"{what}: {budget} with {replicas} replica(s) allows no drain"
        )


def test_the_check_sees_a_blocking_budget():
    assert allowed_disruptions({"minAvailable": 1}, 1) == 0
    assert allowed_disruptions({"maxUnavailable": 1}, 1) == 1
