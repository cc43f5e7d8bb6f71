"""``GkeCluster``: a new hardened regional GKE cluster for a fresh environment.

Most stacks use an existing cluster (looked up by the platform layer); this component is for
environments that start from nothing. Private nodes reach nvcr.io through Cloud NAT; the control
plane reaches the add-ons' webhooks on the system nodes through a firewall rule of its own; Secrets
are encrypted with a Cloud KMS key (CIS GKE 5.3.1); Binary Authorization can be enforced.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_gcp as gcp

from ..common.args import check_args
from .catalog import BINARY_AUTHORIZATION_MODES, KMS_KEY_NAME_PATTERN, kms_key_location, region_of
from .gke_secrets_key import GkeSecretsKey
from .node_service_account import node_service_account

RELEASE_CHANNELS = ("RAPID", "REGULAR", "STABLE")
#: The control plane of a private cluster reaches its nodes on 443 and 10250 only (GKE's own firewall
#: rule). Webhooks and aggregated APIs of the add-ons listen elsewhere: istiod's sidecar injector and
#: config validation on 15017, KEDA's admission webhook on 9443 and its metrics API server on 6443.
#: (kube-prometheus-stack's operator webhook already listens on 10250 for this reason.)
CONTROL_PLANE_WEBHOOK_PORTS = (15017, 9443, 6443)


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
    control_plane_webhook_ports: NotRequired[Sequence[int]]
    """TCP ports of the system nodes the control plane may reach from ``master_ipv4_cidr_block``, beyond
    GKE's own 443 and 10250: without them a private cluster cannot call the add-ons' webhooks. Default:
    15017 (istiod), 9443 (KEDA's webhook) and 6443 (KEDA's metrics API)."""
    encrypt_secrets: NotRequired[bool]
    """Application-layer Secrets encryption with a Cloud KMS key (CIS GKE Benchmark 5.3.1); False leaves
    Secrets in etcd under Google's default encryption only. Default: True."""
    secrets_kms_key: NotRequired[pulumi.Input[str] | None]
    """An existing key for that (``projects/…/locations/<the cluster's region>/keyRings/…/cryptoKeys/…``);
    GKE's service agent ``service-<project number>@container-engine-robot.iam.gserviceaccount.com`` must
    already hold ``roles/cloudkms.cryptoKeyEncrypterDecrypter`` on it. Default: None: a key ring and a
    key rotated every 90 days are created (``GkeSecretsKey``) and the agent is granted on that key only."""
    binary_authorization: NotRequired[str]
    """Binary Authorization ``evaluation_mode``: ``DISABLED`` or ``PROJECT_SINGLETON_POLICY_ENFORCE`` (the
    project's policy must then admit every image the cluster runs: Triton, Istio, KEDA, Prometheus and
    GKE's own). Default: ``DISABLED``."""


def _authorized_networks(cidrs: Sequence[str]) -> dict[str, Any] | None:
    """The block only when there are CIDRs: sent empty, it enables the feature with nothing allowed."""
    if not cidrs:
        return None
    return {"cidr_blocks": [{"cidr_block": cidr, "display_name": f"authorized-{i}"} for i, cidr in enumerate(cidrs)]}


def validate_cluster(args: GkeClusterArgs) -> None:
    """Raise ``ValueError`` naming the input, the bad value and what is accepted."""
    channel = args.get("release_channel", "REGULAR")
    if channel not in RELEASE_CHANNELS:
        raise ValueError(f"release_channel is {channel!r}; use one of {', '.join(RELEASE_CHANNELS)}")
    mode = args.get("binary_authorization", "DISABLED")
    if mode not in BINARY_AUTHORIZATION_MODES:
        raise ValueError(f"binary_authorization is {mode!r}; use one of {', '.join(BINARY_AUTHORIZATION_MODES)}")
    bad_ports = [p for p in args.get("control_plane_webhook_ports", CONTROL_PLANE_WEBHOOK_PORTS) if not 1 <= p <= 65535]
    if bad_ports:
        raise ValueError(f"control_plane_webhook_ports has {bad_ports}; use TCP ports 1-65535")
    key = args.get("secrets_kms_key")
    if key is not None and not args.get("encrypt_secrets", True):
        raise ValueError(
            "secrets_kms_key is set but encrypt_secrets is False; give the key, or turn encryption off, not both"
        )
    if isinstance(key, str):
        if not re.fullmatch(KMS_KEY_NAME_PATTERN, key):
            raise ValueError(
                f"secrets_kms_key is {key!r}; give a key's resource name, "
                "projects/<project>/locations/<region>/keyRings/<ring>/cryptoKeys/<key>"
            )
        key_location, region = kms_key_location(key), region_of(args["location"])
        if key_location != region:
            raise ValueError(
                f"secrets_kms_key is in {key_location}, but GKE encrypts a cluster in {args['location']} only with a "
                f"key of {region}; give a key from {region}"
            )


class GkeCluster(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    cluster_ca_certificate: pulumi.Output[str]
    workload_pool: str
    """``<project>.svc.id.goog``: the Workload Identity pool."""

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_args("GkeCluster", name, args, GkeClusterArgs)  # misspelt keys and wrong types, before anything else
        validate_cluster(args)  # before anything is registered: nothing is half-created
        channel = args.get("release_channel", "REGULAR")
        super().__init__("tritonplatform:index:GkeCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        project, location, network = args["project"], args["location"], args.get("network", "default")
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
        master_cidr = args.get("master_ipv4_cidr_block", "172.16.0.32/28")
        ports = list(args.get("control_plane_webhook_ports", CONTROL_PLANE_WEBHOOK_PORTS))
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
        if args.get("encrypt_secrets", True) and key_name is None:
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
            if args.get("encrypt_secrets", True)
            else {"state": "DECRYPTED"},
            binary_authorization={"evaluation_mode": args.get("binary_authorization", "DISABLED")},
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
                "machine_type": args.get("system_machine_type", "e2-standard-4"),
                "disk_size_gb": 100,
                "disk_type": "pd-balanced",
            },
            opts=child,
        )
        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.cluster_ca_certificate = cluster.master_auth.cluster_ca_certificate
        self.register_outputs({"cluster_name": self.cluster_name, "endpoint": self.endpoint})
