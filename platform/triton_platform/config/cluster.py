"""A cluster the stack does not provision (on-premises or bring-your-own, ``triton-platform:cluster``): how
Triton finds its GPU nodes and whether it enforces NetworkPolicy. The rules are ``cluster_rules``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from triton_components.common.gpu_taints import GPU_TAINT

from .base import Model

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
    how Triton finds its GPU nodes. Only for stacks without a cloud section."""

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
