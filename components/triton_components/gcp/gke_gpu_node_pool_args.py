"""Inputs of ``GkeGpuNodePool`` (``GkeGpuNodePoolArgs``), their defaults and limits, and their validation.

Apart from the component so the platform's config models read the same contract without loading
``pulumi_gcp``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, NotRequired, TypedDict

import pulumi

from ..common.args import ArgProblem, Setting, raise_first, setting_value
from . import catalog

#: The GPU a pool gets when its args name none: the cheapest GPU the pinned Triton still runs on.
DEFAULT_ACCELERATOR_TYPE = "nvidia-tesla-t4"

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
    machine_type: NotRequired[Annotated[str, Setting("n1-standard-8")]]
    """Machine type. Default: ``n1-standard-8``."""
    accelerator_type: NotRequired[Annotated[str, Setting(DEFAULT_ACCELERATOR_TYPE)]]
    """GPU type. Default: ``nvidia-tesla-t4``."""
    accelerators_per_node: NotRequired[Annotated[int, Setting(1, ge=1, le=16)]]
    """GPUs per node. Default: 1."""
    min_nodes: NotRequired[Annotated[int, Setting(0, ge=0, le=100)]]
    """Autoscaling minimum (total across zones). Default: 0."""
    max_nodes: NotRequired[Annotated[int, Setting(3, ge=1, le=100)]]
    """Autoscaling maximum (total across zones). Default: 3."""
    spot: NotRequired[Annotated[bool, Setting(False)]]
    """Spot VMs (cheaper, reclaimable with ~15 s notice to pods). Default: False."""
    zones: NotRequired[Sequence[str]]
    """Zones for the nodes. Default: the cluster's."""
    disk_size_gb: NotRequired[Annotated[int, Setting(200, ge=100, le=2000)]]
    """Boot disk size; Triton images are 10-20 GB unpacked. Default: 200."""
    disk_type: NotRequired[Annotated[str, Setting("pd-ssd")]]
    """``pd-ssd`` (faster image unpack) or ``pd-balanced``. Default: ``pd-ssd``."""
    gpu_driver_version: NotRequired[Annotated[str, Setting("LATEST")]]
    """GKE-managed driver: ``LATEST`` or ``DEFAULT``. Default: ``LATEST``."""
    image_streaming: NotRequired[Annotated[bool, Setting(True)]]
    """GKE image streaming (for images served from Artifact Registry). Default: True."""
    secondary_boot_disk_image: NotRequired[str | None]
    """Disk image with the Triton image preloaded (``CONTAINER_IMAGE_CACHE``). Default: none."""
    gpu_sharing_strategy: NotRequired[Annotated[str, Setting("none")]]
    """``none``, ``time-sharing`` or ``mig``. Default: ``none``."""
    max_shared_clients_per_gpu: NotRequired[
        Annotated[int | None, Setting(None, ge=2, le=catalog.TIME_SHARING_MAX_CLIENTS)]
    ]
    """Time-sharing clients per GPU (2-48). Required for time-sharing."""
    mig_partition_size: NotRequired[str | None]
    """MIG partition, e.g. ``1g.5gb``. Required for mig."""
    node_service_account_roles: NotRequired[Sequence[str]]
    """Project roles of the node service account. Default: ``NODE_SERVICE_ACCOUNT_ROLES``."""
    protect: NotRequired[bool]
    """Protect the node pool itself from deletion and replacement (prod). Default: False."""


def validate_pool(args: GkeGpuNodePoolArgs) -> None:
    """Raise ``ValueError`` naming the input, the bad value and what is accepted."""
    raise_first(pool_problems(args))


def pool_problems(args: Mapping[str, Any]) -> Iterator[ArgProblem]:
    """Every combination of keys GKE would refuse or Triton could not use (single-key limits are the
    keys' Settings). The platform's config reports these at its own keys."""
    machine, accelerator = _value(args, "machine_type"), _value(args, "accelerator_type")
    problem = catalog.accelerator_problem(machine, accelerator, _value(args, "accelerators_per_node"))
    if problem:
        key = "accelerator_type" if accelerator not in catalog.ACCELERATORS else "machine_type"
        yield ArgProblem((key,), _value(args, key), problem)
    if _value(args, "min_nodes") > _value(args, "max_nodes"):
        yield ArgProblem(
            ("min_nodes",), _value(args, "min_nodes"), f"is above ``max_nodes`` ({_value(args, 'max_nodes')})"
        )
    strategy = _value(args, "gpu_sharing_strategy")
    partition, clients = args.get("mig_partition_size"), args.get("max_shared_clients_per_gpu")
    if strategy not in SHARING_STRATEGIES:
        yield ArgProblem(("gpu_sharing_strategy",), strategy, f"use one of {', '.join(SHARING_STRATEGIES)}")
    if strategy == "mig":
        partitions = catalog.MIG_PARTITIONS.get(accelerator)
        if partitions is None:
            yield ArgProblem(
                ("gpu_sharing_strategy",),
                strategy,
                f"{accelerator} has no MIG; MIG needs one of {', '.join(catalog.MIG_PARTITIONS)}",
            )
        elif partition not in partitions:
            yield ArgProblem(
                ("mig_partition_size",), partition, f"use one of {', '.join(partitions)} for {accelerator}"
            )
    elif partition is not None:
        yield ArgProblem(("mig_partition_size",), partition, "needs ``gpu_sharing_strategy`` mig")
    if strategy == "time-sharing" and clients is None:
        yield ArgProblem(
            ("max_shared_clients_per_gpu",),
            None,
            f"is required for time-sharing (2 to {catalog.TIME_SHARING_MAX_CLIENTS})",
        )
    elif strategy != "time-sharing" and clients is not None:
        yield ArgProblem(("max_shared_clients_per_gpu",), clients, "needs ``gpu_sharing_strategy`` time-sharing")


def _value(args: Mapping[str, Any], key: str) -> Any:
    return setting_value(args, GkeGpuNodePoolArgs, key)
