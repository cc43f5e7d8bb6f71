"""``EksGpuNodeGroup``: an EKS managed GPU node group, its minimal node role, IMDSv2, and the
NVIDIA device plugin, plus the scheduling contract Triton needs (tolerations, node selector)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ..common import versions
from ..common.args import check_args
from ..common.gpu_taints import GPU_TAINT, cloud_taints, tolerations
from . import catalog

#: The managed policies an EKS worker node needs, and nothing else.
NODE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
)
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
    instance_types: NotRequired[Sequence[str]]
    """GPU instance types, all with the same GPU count. Default: ``["g5.xlarge"]``."""
    min_nodes: NotRequired[int]
    """Default: 0."""
    max_nodes: NotRequired[int]
    """Default: 3."""
    desired_nodes: NotRequired[int]
    """Initial size (an autoscaler owns it afterwards). Default: ``min_nodes``."""
    spot: NotRequired[bool]
    """Spot capacity. Default: False."""
    disk_size_gb: NotRequired[int]
    """Size of the encrypted gp3 volume that holds container images and pod storage (Triton's image, its
    model cache): the root volume on AL2023, the data volume (``/dev/xvdb``) on Bottlerocket, whose OS
    volume keeps the AMI's size. Default: 200."""
    ami_type: NotRequired[str]
    """NVIDIA-enabled AMI type. Default: ``AL2023_x86_64_NVIDIA``."""
    install_device_plugin: NotRequired[bool | None]
    """Install the NVIDIA device plugin chart (needs a Kubernetes provider in opts). Default: None, which
    installs it on AL2023 and not on Bottlerocket, whose NVIDIA nodes run the plugin themselves."""
    protect: NotRequired[bool]
    """Protect the node group itself from deletion and replacement (prod). Default: False."""


def validate_group(args: EksGpuNodeGroupArgs) -> int:
    """Raise ``ValueError`` for a group EKS would refuse or Triton could not use; return GPUs per node."""
    types = list(args.get("instance_types", ["g5.xlarge"]))
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
    if args.get("ami_type", NVIDIA_AMI_TYPES[0]) not in NVIDIA_AMI_TYPES:
        raise ValueError(f"ami_type is {args.get('ami_type')!r}; use an NVIDIA AMI type: {', '.join(NVIDIA_AMI_TYPES)}")
    ami_type = args.get("ami_type", NVIDIA_AMI_TYPES[0])
    if args.get("install_device_plugin") is True and ami_type in AMI_TYPES_WITH_DEVICE_PLUGIN:
        raise ValueError(
            f"install_device_plugin is True, but {ami_type} nodes run NVIDIA's device plugin themselves; a second "
            "plugin for nvidia.com/gpu would fight it: leave install_device_plugin unset or False"
        )
    if args.get("min_nodes", 0) > args.get("max_nodes", 3):
        raise ValueError(f"min_nodes {args.get('min_nodes')} is above max_nodes {args.get('max_nodes')}")
    return next(iter(counts.values())) or 0


def block_devices(ami_type: str, disk_size_gb: int) -> list[dict[str, Any]]:
    """Encrypted gp3 volumes; the one that stores images and pod data gets ``disk_size_gb``."""
    ebs = {"volume_type": "gp3", "encrypted": "true", "delete_on_termination": "true"}
    if ami_type in BOTTLEROCKET_AMI_TYPES:
        # /dev/xvda is Bottlerocket's OS volume (its size comes from the AMI); /dev/xvdb holds
        # containerd's images and the kubelet's pod storage.
        return [
            {"device_name": "/dev/xvda", "ebs": dict(ebs)},
            {"device_name": "/dev/xvdb", "ebs": {"volume_size": disk_size_gb, **ebs}},
        ]
    return [{"device_name": "/dev/xvda", "ebs": {"volume_size": disk_size_gb, **ebs}}]


class EksGpuNodeGroup(pulumi.ComponentResource):
    node_group_name: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    tolerations: list[dict[str, Any]]
    """Kubernetes tolerations matching exactly the group's taints."""
    node_selector: dict[str, str]
    """Node labels that pin pods to this group."""
    allocatable_gpus_per_node: int

    def __init__(self, name: str, args: EksGpuNodeGroupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_args(
            "EksGpuNodeGroup", name, args, EksGpuNodeGroupArgs
        )  # misspelt keys and wrong types, before anything else
        gpus = validate_group(args)
        super().__init__("tritonplatform:index:EksGpuNodeGroup", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        spot = args.get("spot", False)

        role = aws.iam.Role(
            f"{name}-node-role",
            assume_role_policy='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
            '"Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}',
            description="EKS GPU nodes for Triton (managed node policies only)",
            opts=child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{arn.rsplit('/', 1)[-1].lower()}", role=role.name, policy_arn=arn, opts=child
            )
            for arn in NODE_POLICIES
        ]
        ami_type = args.get("ami_type", NVIDIA_AMI_TYPES[0])
        template = aws.ec2.LaunchTemplate(
            f"{name}-launch-template",
            description="Triton GPU nodes: IMDSv2 only, hop limit 1, encrypted gp3",
            # IMDSv2 with one hop: pods cannot reach the node's instance credentials.
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1},
            block_device_mappings=block_devices(ami_type, args.get("disk_size_gb", 200)),
            update_default_version=True,
            opts=child,
        )
        taints = [dict(GPU_TAINT)]
        labels = {GROUP_LABEL: args["group_label"], "nvidia.com/gpu.present": "true"}
        group = aws.eks.NodeGroup(
            f"{name}-node-group",
            cluster_name=args["cluster_name"],
            node_group_name_prefix=f"{args['group_label'][:30]}-",
            node_role_arn=role.arn,
            subnet_ids=args["subnet_ids"],
            ami_type=ami_type,
            capacity_type="SPOT" if spot else "ON_DEMAND",
            instance_types=list(args.get("instance_types", ["g5.xlarge"])),
            scaling_config={
                "min_size": args.get("min_nodes", 0),
                "max_size": args.get("max_nodes", 3),
                "desired_size": args.get("desired_nodes", args.get("min_nodes", 0)),
            },
            update_config={"max_unavailable": 1},
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            labels=labels,
            taints=cloud_taints(taints),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=attachments,
                ignore_changes=["scalingConfig.desiredSize"],
                protect=args.get("protect", False),
            ),
        )
        install_plugin = args.get("install_device_plugin")
        if install_plugin is None:
            install_plugin = ami_type not in AMI_TYPES_WITH_DEVICE_PLUGIN
        if install_plugin:
            k8s.helm.v3.Release(
                f"{name}-nvidia-device-plugin",
                name="nvidia-device-plugin",
                chart="nvidia-device-plugin",
                version=versions.NVIDIA_DEVICE_PLUGIN_CHART_VERSION,
                repository_opts={"repo": versions.NVIDIA_DEVICE_PLUGIN_CHART_REPOSITORY},
                namespace="kube-system",
                # The chart schedules on nodes labelled nvidia.com/gpu.present=true and tolerates
                # the nvidia.com/gpu taint by default; both are set on this group.
                values={"nodeSelector": {GROUP_LABEL: args["group_label"]}},
                opts=child,
            )
        self.node_group_name = group.node_group_name
        self.node_role_arn = role.arn
        self.tolerations = tolerations(taints)
        self.node_selector = {GROUP_LABEL: args["group_label"]}
        if spot:
            # Managed node groups label capacity; Triton may still run on Spot only where asked.
            self.node_selector["eks.amazonaws.com/capacityType"] = "SPOT"
        self.allocatable_gpus_per_node = gpus
        self.register_outputs({"node_group_name": self.node_group_name})
