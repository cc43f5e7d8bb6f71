"""What a GKE cluster the stack looks up must offer, checked at ``pulumi preview`` before anything uses it:
Workload Identity (the GPU pool runs the GKE metadata server, the keyless reader needs it) and
NetworkPolicy enforcement (Dataplane V2 or Calico), unless the stack waives it by name outside prod."""

from __future__ import annotations

from typing import Any

from ...config.base import Problem
from ...config.settings import PlatformSettings
from .settings import GcpSettings


def gke_cluster_problems(cluster: Any, settings: PlatformSettings, gcp: GcpSettings) -> list[Problem]:
    """Problems of a looked-up GKE cluster (a ``GetClusterResult``)."""
    name, location, project = gcp.cluster.name, gcp.cluster.location, gcp.project
    problems: list[Problem] = []
    pool = f"{project}.svc.id.goog"
    pools = [c.workload_pool for c in (cluster.workload_identity_configs or [])]
    if pool not in pools:
        has = f"has workload pool {pools[0]}, not {pool}" if pools and pools[0] else "has no Workload Identity"
        problems.append(
            Problem(
                ("gcp", "cluster", "name"),
                name,
                f"GKE cluster {name} {has}, but the GPU node pool runs the GKE metadata server, which GKE allows only "
                f"with Workload Identity: enable it with `gcloud container clusters update {name} --location={location} "
                f"--workload-pool={pool}`, or set gcp.cluster.create: true",
            )
        )
    dataplane_v2 = cluster.datapath_provider == "ADVANCED_DATAPATH"
    calico = any(p.enabled for p in (cluster.network_policies or []))
    if gcp.cluster.network_policy == "enforced" and not (dataplane_v2 or calico):
        problems.append(
            Problem(
                ("gcp", "cluster", "networkPolicy"),
                "enforced",
                f"GKE cluster {name} enforces no NetworkPolicy (neither Dataplane V2 nor Calico), so the Triton "
                f"namespace's ingress and egress policies would be ignored: enable Calico with `gcloud container clusters "
                f"update {name} --location={location} --update-addons=NetworkPolicy=ENABLED` and then "
                "`--enable-network-policy` (node pools are recreated), use a Dataplane V2 cluster, or set "
                "gcp.cluster.networkPolicy: not-enforced outside prod",
            )
        )
    return problems
