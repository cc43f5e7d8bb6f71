"""Rules of a cluster the stack does not provision (taints, NetworkPolicy in prod, GPU capacity), and
``gpu_capacity``, which holds a cloud's node pool to the same limits. Each names the one key to change."""

from __future__ import annotations

from collections.abc import Iterator

from .base import Environment, Problem
from .cluster import ClusterSettings
from .observability_rules import peak_stable_replicas
from .settings import PlatformSettings


def _network_policy(settings: PlatformSettings) -> Iterator[Problem]:
    existing = settings.existing_cluster
    if existing is not None and settings.environment is Environment.PROD and existing.network_policy == "not-enforced":
        yield Problem(
            ("cluster", "networkPolicy"),
            "not-enforced",
            "is not allowed in prod: the Triton namespace's ingress and egress isolation depends on it; run a "
            "network plugin that enforces NetworkPolicy (Calico, Cilium, ...) and use enforced",
        )


def check_cluster(s: PlatformSettings) -> Iterator[Problem]:
    yield from _network_policy(s)
    if s.cluster is not None and s.cloud != "none":
        yield Problem(
            ("cluster",),
            "set",
            f"describes a cluster this stack does not provision, but it provisions one ({s.cloud}); GPU scheduling "
            f"comes from {s.cloud}'s node pool: remove the cluster section",
        )
    cluster = s.existing_cluster
    if cluster is None:
        return
    yield from _taints(cluster)
    yield from gpu_capacity(s, cluster.gpus_per_node, cluster.gpu_nodes, ("cluster", "gpuNodes"), "GPU")


def _taints(cluster: ClusterSettings) -> Iterator[Problem]:
    seen: set[tuple[str, str]] = set()
    for i, taint in enumerate(cluster.gpu_node_taints):
        if (taint.key, taint.effect) in seen:
            yield Problem(
                ("cluster", "gpuNodeTaints", i, "key"),
                taint.key,
                f"appears twice with effect {taint.effect}; a node holds one taint per key and effect",
            )
        seen.add((taint.key, taint.effect))


def gpu_capacity(
    s: PlatformSettings, per_node: int, max_nodes: int | None, max_nodes_path: tuple[str | int, ...], node: str
) -> Iterator[Problem]:
    """Each replica fits a node, and every replica fits the pool at its maximum size (when known)."""
    for i, g in enumerate(s.model_groups):
        if g.gpus_per_replica > per_node:
            yield Problem(
                ("modelGroups", i, "gpusPerReplica"),
                g.gpus_per_replica,
                f"each {node} node offers {per_node} GPU(s) to pods; use {per_node} or fewer",
            )
    if max_nodes is None:
        return
    # Autoscaled groups count at autoscaling.maxReplicas: the pool must hold every group at its peak.
    needed = sum(
        (peak_stable_replicas(g) + (g.canary.replicas if g.canary else 0)) * g.gpus_per_replica for g in s.model_groups
    )
    capacity = max_nodes * per_node
    if needed > capacity:
        yield Problem(
            max_nodes_path,
            max_nodes,
            f"the model groups need {needed} GPU(s) at their maximum replica counts but {max_nodes} node(s) hold "
            f"{capacity}; raise {max_nodes_path[-1]} or lower replicas (or autoscaling.maxReplicas)",
        )
