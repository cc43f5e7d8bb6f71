"""``GkeGpuNodePool``: a hardened GKE GPU node pool and the scheduling contract Triton needs.

The pool's taints and labels are computed once here and exposed as the exact tolerations and
node selector for the Triton Deployment, so the two can never drift apart.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from ..common.args import check_args, setting_value
from ..common.gpu_taints import GPU_TAINT, cloud_taints, tolerations
from . import catalog
from .gke_gpu_node_pool_args import POOL_LABEL, GkeGpuNodePoolArgs, validate_pool
from .node_service_account import NODE_SERVICE_ACCOUNT_ROLES, node_service_account


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
        accelerator = setting_value(args, GkeGpuNodePoolArgs, "accelerator_type")
        count = setting_value(args, GkeGpuNodePoolArgs, "accelerators_per_node")
        strategy = setting_value(args, GkeGpuNodePoolArgs, "gpu_sharing_strategy")
        spot = setting_value(args, GkeGpuNodePoolArgs, "spot")

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
            "gpu_driver_installation_config": {
                "gpu_driver_version": setting_value(args, GkeGpuNodePoolArgs, "gpu_driver_version")
            },
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
            "machine_type": setting_value(args, GkeGpuNodePoolArgs, "machine_type"),
            "image_type": "COS_CONTAINERD",
            "disk_size_gb": setting_value(args, GkeGpuNodePoolArgs, "disk_size_gb"),
            "disk_type": setting_value(args, GkeGpuNodePoolArgs, "disk_type"),
            "guest_accelerators": [guest_accelerator],
            "spot": spot,
            "service_account": account.email,
            "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
            "workload_metadata_config": {"mode": "GKE_METADATA"},
            "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
            "metadata": {"disable-legacy-endpoints": "true"},
            "labels": labels,
            "taints": cloud_taints(taints),
            "gcfs_config": {"enabled": setting_value(args, GkeGpuNodePoolArgs, "image_streaming")},
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
                "total_min_node_count": setting_value(args, GkeGpuNodePoolArgs, "min_nodes"),
                "total_max_node_count": setting_value(args, GkeGpuNodePoolArgs, "max_nodes"),
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
