"""Stacks without a cloud layer: an existing (on-premises or bring-your-own) cluster.

The cluster is the kubeconfig's current context, or the one ``kubernetes:context`` names in the
stack file; nothing here creates a provider. Its GPU nodes are found by labels and taints the
stack declares (``triton-platform:cluster``), handed to Triton through the same ``triton_wiring``
as a cloud's GPU node pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from triton_components.common.gpu_taints import tolerations

from ..clouds.seam import triton_wiring
from ..config.cluster import ClusterSettings


@dataclass(frozen=True)
class ExistingGpuNodes:
    """The GPU nodes of a cluster this stack does not provision (a ``GpuNodes``)."""

    tolerations: list[dict[str, Any]]
    node_selector: dict[str, str]


@dataclass(frozen=True)
class AmbientIdentity:
    """No cloud identity: Triton reads the repository with whatever the cluster gives pods (a ``ModelReader``)."""

    service_account_annotations: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    credentials_file: dict[str, Any] | None = None


def gpu_nodes(cluster: ClusterSettings) -> ExistingGpuNodes:
    taints = [t.model_dump() for t in cluster.gpu_node_taints]
    return ExistingGpuNodes(tolerations=tolerations(taints), node_selector=dict(cluster.gpu_node_selector))


def existing_cluster_wiring(cluster: ClusterSettings) -> dict[str, Any]:
    """The ``TritonServerArgs`` for an existing cluster: tolerate its GPU taints, select its GPU nodes."""
    return triton_wiring(gpu_nodes(cluster), AmbientIdentity())
