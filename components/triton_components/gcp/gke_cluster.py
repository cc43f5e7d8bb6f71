"""``GkeCluster``: a new hardened regional GKE cluster for a fresh environment.

Most stacks use an existing cluster (looked up by the platform layer); this component is for
environments that start from nothing. Private nodes reach nvcr.io through Cloud NAT.
"""

from __future__ import annotations

from typing import Any, NotRequired, Sequence, TypedDict

import pulumi
import pulumi_gcp as gcp

from ..common.args import check_args
from .node_service_account import node_service_account

RELEASE_CHANNELS = ("RAPID", "REGULAR", "STABLE")


class GkeClusterArgs(TypedDict):
    """Inputs of ``GkeCluster``."""

    cluster_name: str
    """GKE cluster name. Required."""
    location: str
    """Region (regional control plane). Required."""
    project: str
    """Project. Required."""
    release_channel: NotRequired[str]
    """``RAPID``, ``REGULAR`` or ``STABLE``. Default: ``REGULAR``."""
    network: NotRequired[str]
    """VPC network. Default: ``default``."""
    master_ipv4_cidr_block: NotRequired[str]
    """/28 for the private control plane. Default: ``172.16.0.32/28``."""
    master_authorized_networks: NotRequired[Sequence[str]]
    """CIDRs allowed to reach the control plane's public endpoint. Default: none, which leaves the
    feature off (any source address, credentials still required): an enabled list without CIDRs
    would lock out everyone, Pulumi's Kubernetes provider included."""
    system_machine_type: NotRequired[str]
    """Machine type of the system pool (Istio, KEDA, Prometheus). Default: ``e2-standard-4``."""


def _authorized_networks(cidrs: Sequence[str]) -> dict[str, Any] | None:
    """The block only when there are CIDRs: sent empty, it enables the feature with nothing allowed."""
    if not cidrs:
        return None
    return {"cidr_blocks": [{"cidr_block": cidr, "display_name": f"authorized-{i}"} for i, cidr in enumerate(cidrs)]}


class GkeCluster(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    cluster_ca_certificate: pulumi.Output[str]
    workload_pool: str
    """``<project>.svc.id.goog``: the Workload Identity pool."""

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_args("GkeCluster", name, args, GkeClusterArgs)  # misspelt keys and wrong types, before anything else
        channel = args.get("release_channel", "REGULAR")
        if channel not in RELEASE_CHANNELS:
            raise ValueError(f"release_channel is {channel!r}; use one of {', '.join(RELEASE_CHANNELS)}")
        super().__init__("tritonplatform:index:GkeCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        project, location, network = args["project"], args["location"], args.get("network", "default")
        self.workload_pool = f"{project}.svc.id.goog"

        nodes = node_service_account(
            f"{name}-system-nodes", account_id=f"{args['cluster_name'][:21]}-system", project=project, parent=self
        )
        router = gcp.compute.Router(
            f"{name}-router", name=f"{args['cluster_name']}-router", project=project, region=location,
            network=network, opts=child,
        )
        gcp.compute.RouterNat(
            f"{name}-nat",
            name=f"{args['cluster_name']}-nat",
            project=project,
            region=location,
            router=router.name,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
            log_config={"enable": True, "filter": "ERRORS_ONLY"},
            opts=child,
        )
        hardened_node = {
            "service_account": nodes.email,
            "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
            "image_type": "COS_CONTAINERD",
            "workload_metadata_config": {"mode": "GKE_METADATA"},
            "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
            "metadata": {"disable-legacy-endpoints": "true"},
        }
        cluster = gcp.container.Cluster(
            f"{name}-cluster",
            name=args["cluster_name"],
            project=project,
            location=location,
            network=network,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy={},
            release_channel={"channel": channel},
            workload_identity_config={"workload_pool": self.workload_pool},
            enable_shielded_nodes=True,
            enable_legacy_abac=False,
            # Dataplane V2 enforces NetworkPolicy.
            datapath_provider="ADVANCED_DATAPATH",
            private_cluster_config={
                "enable_private_nodes": True,
                "enable_private_endpoint": False,
                "master_ipv4_cidr_block": args.get("master_ipv4_cidr_block", "172.16.0.32/28"),
            },
            master_authorized_networks_config=_authorized_networks(args.get("master_authorized_networks", [])),
            # The default pool would run as the Compute Engine default account: remove it.
            remove_default_node_pool=True,
            initial_node_count=1,
            node_config=hardened_node,
            deletion_protection=True,
            opts=child,
        )
        gcp.container.NodePool(
            f"{name}-system",
            name="system",
            cluster=cluster.name,
            location=location,
            project=project,
            autoscaling={"total_min_node_count": 1, "total_max_node_count": 3, "location_policy": "BALANCED"},
            management={"auto_repair": True, "auto_upgrade": True},
            node_config={**hardened_node, "machine_type": args.get("system_machine_type", "e2-standard-4"),
                         "disk_size_gb": 100, "disk_type": "pd-balanced"},
            opts=child,
        )
        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.cluster_ca_certificate = cluster.master_auth.cluster_ca_certificate
        self.register_outputs({"cluster_name": self.cluster_name, "endpoint": self.endpoint})
