"""``GkeCluster``: a new hardened regional GKE cluster for a fresh environment.

Most stacks use an existing cluster (looked up by the platform layer); this component is for
environments that start from nothing. Private nodes reach nvcr.io through Cloud NAT; the control
plane reaches the add-ons' webhooks on the system nodes through a firewall rule of its own; Secrets
are encrypted with a Cloud KMS key (CIS GKE 5.3.1); Binary Authorization can be enforced.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_gcp as gcp

from ..common.args import check_args, setting_value
from .catalog import region_of
from .gke_cluster_args import GkeClusterArgs, validate_cluster
from .gke_secrets_key import GkeSecretsKey
from .node_service_account import node_service_account


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
        validate_cluster(args)  # before anything is registered: nothing is half-created
        channel = setting_value(args, GkeClusterArgs, "release_channel")
        super().__init__("tritonplatform:index:GkeCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        project, location, network = args["project"], args["location"], setting_value(args, GkeClusterArgs, "network")
        self.workload_pool = f"{project}.svc.id.goog"

        nodes = node_service_account(
            f"{name}-system-nodes", account_id=f"{args['cluster_name'][:21]}-system", project=project, parent=self
        )
        router = gcp.compute.Router(
            f"{name}-router",
            name=f"{args['cluster_name']}-router",
            project=project,
            region=location,
            network=network,
            opts=child,
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
        master_cidr = setting_value(args, GkeClusterArgs, "master_ipv4_cidr_block")
        ports = list(setting_value(args, GkeClusterArgs, "control_plane_webhook_ports"))
        if ports:
            gcp.compute.Firewall(
                f"{name}-control-plane-webhooks",
                name=f"{args['cluster_name']}-control-plane-webhooks",
                project=project,
                network=network,
                description="GKE control plane to the add-ons' webhooks and aggregated APIs on the system nodes",
                direction="INGRESS",
                source_ranges=[master_cidr],
                allows=[{"protocol": "tcp", "ports": [str(port) for port in ports]}],
                # The add-ons run on the system pool (the GPU pool's taint keeps them off it): the rule
                # opens these ports on the nodes of that pool's service account only.
                target_service_accounts=[nodes.email],
                opts=child,
            )
        cluster_opts = child
        key_name = args.get("secrets_kms_key")
        if setting_value(args, GkeClusterArgs, "encrypt_secrets") and key_name is None:
            key = GkeSecretsKey(
                f"{name}-secrets-key",
                {"project": project, "location": region_of(location), "name_prefix": f"{args['cluster_name']}-secrets"},
                opts=child,
            )
            key_name = key.key_name
            # GKE checks its service agent's grant on the key when it creates the cluster.
            cluster_opts = pulumi.ResourceOptions(parent=self, depends_on=[key])
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
                "master_ipv4_cidr_block": master_cidr,
            },
            database_encryption={"state": "ENCRYPTED", "key_name": key_name}
            if setting_value(args, GkeClusterArgs, "encrypt_secrets")
            else {"state": "DECRYPTED"},
            binary_authorization={"evaluation_mode": setting_value(args, GkeClusterArgs, "binary_authorization")},
            master_authorized_networks_config=_authorized_networks(args.get("master_authorized_networks", [])),
            # The default pool would run as the Compute Engine default account: remove it.
            remove_default_node_pool=True,
            initial_node_count=1,
            node_config=hardened_node,
            deletion_protection=True,
            opts=cluster_opts,
        )
        gcp.container.NodePool(
            f"{name}-system",
            name="system",
            cluster=cluster.name,
            location=location,
            project=project,
            autoscaling={"total_min_node_count": 1, "total_max_node_count": 3, "location_policy": "BALANCED"},
            management={"auto_repair": True, "auto_upgrade": True},
            node_config={
                **hardened_node,
                "machine_type": setting_value(args, GkeClusterArgs, "system_machine_type"),
                "disk_size_gb": 100,
                "disk_type": "pd-balanced",
            },
            opts=child,
        )
        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.cluster_ca_certificate = cluster.master_auth.cluster_ca_certificate
        self.register_outputs({"cluster_name": self.cluster_name, "endpoint": self.endpoint})
