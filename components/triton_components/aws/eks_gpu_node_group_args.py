"""Inputs of ``EksGpuNodeGroup`` (``EksGpuNodeGroupArgs``), their defaults and limits, and their validation.

Apart from the component so the platform's config models read the same contract without loading
``pulumi_aws``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, NotRequired, TypedDict

import pulumi

from ..common.args import Setting, setting_value
from . import catalog

#: The instance types a group gets when its args name none: one A10G, the cheapest current GPU node.
DEFAULT_INSTANCE_TYPES = ("g5.xlarge",)
GROUP_LABEL = "triton-platform.io/gpu-pool"
NVIDIA_AMI_TYPES = catalog.NVIDIA_AMI_TYPES
AMI_TYPES_WITH_DEVICE_PLUGIN = catalog.AMI_TYPES_WITH_DEVICE_PLUGIN
BOTTLEROCKET_AMI_TYPES = catalog.BOTTLEROCKET_AMI_TYPES


class EksGpuNodeGroupArgs(TypedDict):
    """Inputs of ``EksGpuNodeGroup``."""

    cluster_name: pulumi.Input[str]
    """EKS cluster name. Required."""
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Subnets of the nodes (private subnets). Required."""
    group_label: str
    """Value of the ``triton-platform.io/gpu-pool`` node label Triton selects. Required."""
    instance_types: NotRequired[Annotated[Sequence[str], Setting(DEFAULT_INSTANCE_TYPES)]]
    """GPU instance types, all with the same GPU count. Default: ``["g5.xlarge"]``."""
    min_nodes: NotRequired[Annotated[int, Setting(0, ge=0, le=100)]]
    """Scaling lower bound. Default: 0."""
    max_nodes: NotRequired[Annotated[int, Setting(3, ge=1, le=100)]]
    """Scaling upper bound. Default: 3."""
    desired_nodes: NotRequired[int]
    """Initial size (an autoscaler owns it afterwards). Default: ``min_nodes``."""
    spot: NotRequired[Annotated[bool, Setting(False)]]
    """Spot capacity. Default: False."""
    disk_size_gb: NotRequired[Annotated[int, Setting(200, ge=100, le=2000)]]
    """Size of the encrypted gp3 volume that holds container images and pod storage (Triton's image, its
    model cache): the root volume on AL2023, the data volume (``/dev/xvdb``) on Bottlerocket, whose OS
    volume keeps the AMI's size. Default: 200."""
    ami_type: NotRequired[Annotated[str, Setting(catalog.NVIDIA_AMI_TYPES[0])]]
    """NVIDIA-enabled AMI type. Default: ``AL2023_x86_64_NVIDIA``."""
    install_device_plugin: NotRequired[bool | None]
    """Install the NVIDIA device plugin chart (needs a Kubernetes provider in opts). Default: None, which
    installs it on AL2023 and not on Bottlerocket, whose NVIDIA nodes run the plugin themselves."""
    protect: NotRequired[bool]
    """Protect the node group itself from deletion and replacement (prod). Default: False."""


def validate_group(args: EksGpuNodeGroupArgs) -> int:
    """Raise ``ValueError`` for a group EKS would refuse or Triton could not use; return GPUs per node."""
    types = list(_value(args, "instance_types"))
    if not types:
        raise ValueError("instance_types is empty; give at least one GPU instance type, e.g. g5.xlarge")
    counts = {t: catalog.gpus_of(t) for t in types}
    missing = [t for t, n in counts.items() if n is None]
    if missing:
        raise ValueError(
            f"instance_types {', '.join(missing)} have no GPUs; use types of the {', '.join(catalog.GPU_FAMILIES)} families"
        )
    if len(set(counts.values())) > 1:
        raise ValueError(f"instance_types mix GPU counts ({counts}); use types with the same number of GPUs")
    if _value(args, "ami_type") not in NVIDIA_AMI_TYPES:
        raise ValueError(f"ami_type is {args.get('ami_type')!r}; use an NVIDIA AMI type: {', '.join(NVIDIA_AMI_TYPES)}")
    ami_type = _value(args, "ami_type")
    if args.get("install_device_plugin") is True and ami_type in AMI_TYPES_WITH_DEVICE_PLUGIN:
        raise ValueError(
            f"install_device_plugin is True, but {ami_type} nodes run NVIDIA's device plugin themselves; a second "
            "plugin for nvidia.com/gpu would fight it: leave install_device_plugin unset or False"
        )
    if _value(args, "min_nodes") > _value(args, "max_nodes"):
        raise ValueError(f"min_nodes {args.get('min_nodes')} is above max_nodes {args.get('max_nodes')}")
    return next(iter(counts.values())) or 0


def _value(args: Mapping[str, Any], key: str) -> Any:
    return setting_value(args, EksGpuNodeGroupArgs, key)
