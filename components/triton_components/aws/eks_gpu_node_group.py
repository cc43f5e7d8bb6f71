"""``EksGpuNodeGroup``: an EKS managed GPU node group, its minimal node role, IMDSv2, and the
NVIDIA device plugin, plus the scheduling contract Triton needs (tolerations, node selector)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ..common import versions
from ..common.args import check_args, setting_value
from ..common.gpu_taints import GPU_TAINT, cloud_taints, tolerations
from .eks_gpu_node_group_args import (
    AMI_TYPES_WITH_DEVICE_PLUGIN,
    BOTTLEROCKET_AMI_TYPES,
    GROUP_LABEL,
    EksGpuNodeGroupArgs,
    validate_group,
)

#: The managed policies an EKS worker node needs, and nothing else.
NODE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
)


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
        spot = setting_value(args, EksGpuNodeGroupArgs, "spot")

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
        ami_type = setting_value(args, EksGpuNodeGroupArgs, "ami_type")
        template = aws.ec2.LaunchTemplate(
            f"{name}-launch-template",
            description="Triton GPU nodes: IMDSv2 only, hop limit 1, encrypted gp3",
            # IMDSv2 with one hop: pods cannot reach the node's instance credentials.
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1},
            block_device_mappings=block_devices(ami_type, setting_value(args, EksGpuNodeGroupArgs, "disk_size_gb")),
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
            instance_types=list(setting_value(args, EksGpuNodeGroupArgs, "instance_types")),
            scaling_config={
                "min_size": setting_value(args, EksGpuNodeGroupArgs, "min_nodes"),
                "max_size": setting_value(args, EksGpuNodeGroupArgs, "max_nodes"),
                "desired_size": args.get("desired_nodes", setting_value(args, EksGpuNodeGroupArgs, "min_nodes")),
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
