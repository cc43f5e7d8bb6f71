"""``GkeGpuNodePool``: a hardened GKE GPU node pool and the scheduling contract Triton needs.

The pool's taints and labels are computed once here and exposed as the exact tolerations and
node selector for the Triton Deployment, so the two can never drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_gcp as gcp

from ..common.args import check_args
from ..common.gpu_taints import GPU_TAINT, cloud_taints, tolerations
from . import catalog
from .node_service_account import NODE_SERVICE_ACCOUNT_ROLES, node_service_account

POOL_LABEL = "triton-platform.io/gpu-pool"
SHARING_STRATEGIES = ("none", "time-sharing", "mig")


class GkeGpuNodePoolArgs(TypedDict):
    """Inputs of ``GkeGpuNodePool``."""

    cluster: pulumi.Input[str]
    """Cluster name (or id). Required."""
    location: str
    """Cluster location (region or zone). Required."""
    project: str
    """Project of the cluster and the node service account. Required."""
    pool_label: str
    """Value of the ``triton-platform.io/gpu-pool`` node label Triton selects. Required."""
    machine_type: NotRequired[str]
    """Machine type. Default: ``n1-standard-8``."""
    accelerator_type: NotRequired[str]
    """GPU type. Default: ``nvidia-tesla-t4``."""
    accelerators_per_node: NotRequired[int]
    """GPUs per node. Default: 1."""
    min_nodes: NotRequired[int]
    """Autoscaling minimum (total across zones). Default: 0."""
    max_nodes: NotRequired[int]
    """Autoscaling maximum (total across zones). Default: 3."""
    spot: NotRequired[bool]
    """Spot VMs (cheaper, reclaimable with ~15 s notice to pods). Default: False."""
    zones: NotRequired[Sequence[str]]
    """Zones for the nodes. Default: the cluster's."""
    disk_size_gb: NotRequired[int]
    """Boot disk size; Triton images are 10-20 GB unpacked. Default: 200."""
    disk_type: NotRequired[str]
    """``pd-ssd`` (faster image unpack) or ``pd-balanced``. Default: ``pd-ssd``."""
    gpu_driver_version: NotRequired[str]
    """GKE-managed driver: ``LATEST`` or ``DEFAULT``. Default: ``LATEST``."""
    image_streaming: NotRequired[bool]
    """GKE image streaming (for images served from Artifact Registry). Default: True."""
    secondary_boot_disk_image: NotRequired[str | None]
    """Disk image with the Triton image preloaded (``CONTAINER_IMAGE_CACHE``). Default: none."""
    gpu_sharing_strategy: NotRequired[str]
    """``none``, ``time-sharing`` or ``mig``. Default: ``none``."""
    max_shared_clients_per_gpu: NotRequired[int | None]
    """Time-sharing clients per GPU (2-48). Required for time-sharing."""
    mig_partition_size: NotRequired[str | None]
    """MIG partition, e.g. ``1g.5gb``. Required for mig."""
    node_service_account_roles: NotRequired[Sequence[str]]
    """Project roles of the node service account. Default: ``NODE_SERVICE_ACCOUNT_ROLES``."""
    protect: NotRequired[bool]
    """Protect the node pool itself from deletion and replacement (prod). Default: False."""


def validate_pool(args: GkeGpuNodePoolArgs) -> None:
    machine, accelerator = args.get("machine_type", "n1-standard-8"), args.get("accelerator_type", "nvidia-tesla-t4")
    problem = catalog.accelerator_problem(machine, accelerator, args.get("accelerators_per_node", 1))
    if problem:
        raise ValueError(problem)
    strategy = args.get("gpu_sharing_strategy", "none")
    if strategy not in SHARING_STRATEGIES:
        raise ValueError(f"gpu_sharing_strategy is {strategy!r}; use one of {', '.join(SHARING_STRATEGIES)}")
    if strategy == "mig" and args.get("mig_partition_size") not in catalog.MIG_PARTITIONS.get(accelerator, ()):
        raise ValueError(
            f"mig_partition_size {args.get('mig_partition_size')!r} is not a MIG partition of {accelerator}; "
            "MIG GPUs and sizes: "
            + "; ".join(f"{gpu}: {', '.join(sizes)}" for gpu, sizes in catalog.MIG_PARTITIONS.items())
        )
    clients = args.get("max_shared_clients_per_gpu")
    if strategy == "time-sharing" and not (clients and 2 <= clients <= catalog.TIME_SHARING_MAX_CLIENTS):
        raise ValueError(f"max_shared_clients_per_gpu is {clients}; time-sharing needs 2 to 48")
    if args.get("min_nodes", 0) > args.get("max_nodes", 3):
        raise ValueError(f"min_nodes {args.get('min_nodes')} is above max_nodes {args.get('max_nodes')}")


class GkeGpuNodePool(pulumi.ComponentResource):
    node_pool_name: pulumi.Output[str]
    """GKE's name of the pool."""
    node_service_account_email: pulumi.Output[str]
    """The pool's dedicated, minimal node service account."""
    tolerations: list[dict[str, Any]]
    """Kubernetes tolerations matching exactly the pool's taints."""
    node_selector: dict[str, str]
    """Node labels that pin pods to this pool (and its GPU type, sharing mode, spot)."""
    allocatable_gpus_per_node: int
    """``nvidia.com/gpu`` each node offers: MIG slices, time-shared clients or whole GPUs."""

    def __init__(self, name: str, args: GkeGpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_args(
            "GkeGpuNodePool", name, args, GkeGpuNodePoolArgs
        )  # misspelt keys and wrong types, before anything else
        validate_pool(args)
        super().__init__("tritonplatform:index:GkeGpuNodePool", name, None, opts)
        project = args["project"]
        accelerator = args.get("accelerator_type", "nvidia-tesla-t4")
        count = args.get("accelerators_per_node", 1)
        strategy = args.get("gpu_sharing_strategy", "none")
        spot = args.get("spot", False)

        account = node_service_account(
            f"{name}-nodes",
            account_id=f"{args['pool_label'][:22]}-nodes",
            project=project,
            roles=args.get("node_service_account_roles", NODE_SERVICE_ACCOUNT_ROLES),
            parent=self,
        )

        taints = [dict(GPU_TAINT)]
        labels = {POOL_LABEL: args["pool_label"]}
        selector = {POOL_LABEL: args["pool_label"], "cloud.google.com/gke-accelerator": accelerator}
        guest_accelerator: dict[str, Any] = {
            "type": accelerator,
            "count": count,
            "gpu_driver_installation_config": {"gpu_driver_version": args.get("gpu_driver_version", "LATEST")},
        }
        if strategy == "mig":
            guest_accelerator["gpu_partition_size"] = args["mig_partition_size"]
            selector["cloud.google.com/gke-gpu-partition-size"] = str(args["mig_partition_size"])
        elif strategy == "time-sharing":
            clients = int(args["max_shared_clients_per_gpu"] or 0)
            guest_accelerator["gpu_sharing_config"] = {
                "gpu_sharing_strategy": "TIME_SHARING",
                "max_shared_clients_per_gpu": clients,
            }
            selector["cloud.google.com/gke-gpu-sharing-strategy"] = "time-sharing"
            selector["cloud.google.com/gke-max-shared-clients-per-gpu"] = str(clients)
        if spot:
            # Keeps pods that cannot survive a reclaim off these nodes; Triton tolerates it.
            taints.append({"key": "cloud.google.com/gke-spot", "value": "true", "effect": "NoSchedule"})
            selector["cloud.google.com/gke-spot"] = "true"

        node_config: dict[str, Any] = {
            "machine_type": args.get("machine_type", "n1-standard-8"),
            "image_type": "COS_CONTAINERD",
            "disk_size_gb": args.get("disk_size_gb", 200),
            "disk_type": args.get("disk_type", "pd-ssd"),
            "guest_accelerators": [guest_accelerator],
            "spot": spot,
            "service_account": account.email,
            "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
            "workload_metadata_config": {"mode": "GKE_METADATA"},
            "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
            "metadata": {"disable-legacy-endpoints": "true"},
            "labels": labels,
            "taints": cloud_taints(taints),
            "gcfs_config": {"enabled": args.get("image_streaming", True)},
        }
        if args.get("secondary_boot_disk_image"):
            node_config["secondary_boot_disks"] = [
                {"disk_image": args["secondary_boot_disk_image"], "mode": "CONTAINER_IMAGE_CACHE"}
            ]

        pool = gcp.container.NodePool(
            f"{name}-pool",
            # A prefix lets Pulumi create the replacement pool before deleting the old one.
            name_prefix=f"{args['pool_label'][:30]}-",
            cluster=args["cluster"],
            location=args["location"],
            project=project,
            node_locations=list(args.get("zones", [])) or None,
            autoscaling={
                "total_min_node_count": args.get("min_nodes", 0),
                "total_max_node_count": args.get("max_nodes", 3),
                # ANY finds capacity in whichever zone has it: what scarce GPUs and Spot need.
                "location_policy": "ANY",
            },
            management={"auto_repair": True, "auto_upgrade": True},
            # No spare GPU quota is assumed: upgrade one node at a time, the PDB keeps serving.
            upgrade_settings={"strategy": "SURGE", "max_surge": 0, "max_unavailable": 1},
            node_config=node_config,
            opts=pulumi.ResourceOptions(parent=self, protect=args.get("protect", False)),
        )
        self.node_pool_name = pool.name
        self.node_service_account_email = account.email
        self.tolerations = tolerations(taints)
        self.node_selector = selector
        self.allocatable_gpus_per_node = catalog.allocatable_gpus(
            count,
            args.get("mig_partition_size") if strategy == "mig" else None,
            args.get("max_shared_clients_per_gpu") if strategy == "time-sharing" else None,
            accelerator,
        )
        self.register_outputs({"node_pool_name": self.node_pool_name})
