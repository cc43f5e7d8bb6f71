"""A cluster the stack does not provision (on-premises or bring-your-own): how Triton finds its GPU
nodes, whether it enforces NetworkPolicy, and the GPU capacity every stack's groups must fit (a
cloud's node pool is held to the same ``gpu_capacity``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from triton_components.common.gpu_taints import GPU_TAINT

from .base import Environment, Model, Problem
from .observability_rules import peak_stable_replicas

if TYPE_CHECKING:
    from .settings import PlatformSettings


#: A qualified Kubernetes label (or taint) key: an optional DNS-subdomain prefix and a name.
LABEL_KEY_PATTERN = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
LABEL_VALUE_PATTERN = r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$"
#: The node label the NVIDIA GPU Operator (GPU Feature Discovery) puts on every GPU node.
GPU_PRESENT_LABEL = {"nvidia.com/gpu.present": "true"}

LabelKey = Annotated[str, Field(pattern=LABEL_KEY_PATTERN, max_length=316)]
LabelValue = Annotated[str, Field(pattern=LABEL_VALUE_PATTERN, max_length=63)]


class TaintSettings(Model):
    key: LabelKey
    """Taint key."""
    value: LabelValue = ""
    """Taint value."""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"
    """Taint effect."""


class ClusterSettings(Model):
    """A cluster this stack does not provision (on-premises or bring-your-own, from the kubeconfig):
    how Triton finds its GPU nodes. Only for stacks without a gcp or aws section."""

    gpu_node_selector: dict[LabelKey, LabelValue] = Field(default_factory=lambda: dict(GPU_PRESENT_LABEL))
    """Labels every GPU node carries (the default is the NVIDIA GPU Operator's)."""
    gpu_node_taints: list[TaintSettings] = Field(default_factory=lambda: [TaintSettings.model_validate(GPU_TAINT)])
    """Taints on the GPU nodes; Triton tolerates exactly these."""
    gpus_per_node: Annotated[int, Field(ge=1, le=64)] = 1
    """GPUs each GPU node offers to pods (``nvidia.com/gpu`` allocatable); ``gpusPerReplica`` must fit."""
    gpu_nodes: Annotated[int, Field(ge=1, le=1000)] | None = None
    """GPU nodes the stack may use; when set, every model group at its peak must fit them."""
    network_policy: Literal["enforced", "not-enforced"] = "enforced"
    """Whether the cluster's network plugin enforces NetworkPolicy (Calico, Cilium, ...): ``not-enforced``
    accepts a cluster that ignores the Triton namespace's ingress and egress policies (not in prod).
    Kubernetes has no API that tells, so the stack says it."""


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
