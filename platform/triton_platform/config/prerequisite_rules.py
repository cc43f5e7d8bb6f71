"""What a stack may assume of a cluster it does not create, as far as the stack file alone tells:
NetworkPolicy enforcement (GKE, EKS or a bring-your-own cluster) may be waived only outside prod, and an EKS node group that starts at
zero nodes needs an autoscaler to ever grow. What only the cluster can tell (Workload Identity,
the enforcing dataplane) is checked by ``triton_platform.prerequisites`` against the looked-up
cluster."""

from __future__ import annotations

from collections.abc import Iterator

from .base import Environment, Problem
from .models import PlatformSettings


def check_prerequisites(settings: PlatformSettings) -> Iterator[Problem]:
    prod = settings.environment is Environment.PROD
    if settings.gcp is not None and prod and settings.gcp.cluster.network_policy == "not-enforced":
        yield Problem(
            ("gcp", "cluster", "networkPolicy"),
            "not-enforced",
            "is not allowed in prod: the Triton namespace's ingress and egress isolation depends on it; use enforced",
        )
    existing = settings.existing_cluster
    if existing is not None and prod and existing.network_policy == "not-enforced":
        yield Problem(
            ("cluster", "networkPolicy"),
            "not-enforced",
            "is not allowed in prod: the Triton namespace's ingress and egress isolation depends on it; run a "
            "network plugin that enforces NetworkPolicy (Calico, Cilium, ...) and use enforced",
        )
    if settings.aws is None:
        return
    cluster, group = settings.aws.cluster, settings.aws.gpu_node_group
    if prod and cluster.network_policy == "not-enforced":
        yield Problem(
            ("aws", "cluster", "networkPolicy"),
            "not-enforced",
            "is not allowed in prod: the Triton namespace's ingress and egress isolation depends on it; use "
            "vpc-cni-addon or self-managed",
        )
    if group.min_nodes == 0 and cluster.autoscaler == "none":
        yield Problem(
            ("aws", "gpuNodeGroup", "minNodes"),
            0,
            "an EKS managed node group never resizes itself, so it would stay at 0 nodes and Triton's pods Pending: "
            "install Cluster Autoscaler and set aws.cluster.autoscaler: cluster-autoscaler, or set minNodes to 1 or more",
        )
