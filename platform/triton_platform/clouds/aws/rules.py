"""Rules of the ``aws`` section: prod policy, the node group's instance types, GPU capacity and
compute-capability floor, the bucket's KMS key region, NetworkPolicy enforcement and node autoscaling."""

from __future__ import annotations

from collections.abc import Iterator

from triton_components.aws import catalog

from ...config.base import Environment, Problem
from ...config.cluster_rules import gpu_capacity
from ...config.serving_rules import cc, floor_needs
from ...config.settings import PlatformSettings
from .settings import AwsSettings


def _aws(s: PlatformSettings, aws: AwsSettings) -> Iterator[Problem]:
    prod = s.environment is Environment.PROD
    group = aws.gpu_node_group
    at = ("aws", "gpuNodeGroup")
    if aws.identity == "key" and prod:
        yield Problem(("aws", "identity"), "key", "access keys are not allowed in prod; use irsa (keyless)")
    if aws.model_bucket.protect is False and prod:
        yield Problem(("aws", "modelBucket", "protect"), False, "prod always protects its model bucket; remove the key")
    key = aws.model_bucket.kms_key_arn
    if key is not None and key.split(":")[3] != aws.region:
        yield Problem(
            ("aws", "modelBucket", "kmsKeyArn"),
            key,
            f"the key is in {key.split(':')[3]} but the bucket is created in aws.region {aws.region}; S3 encrypts "
            f"only with a KMS key of the bucket's region: give a key from {aws.region}",
        )
    counts = {t: catalog.gpus_of(t) for t in group.instance_types}
    for i, (instance, gpus) in enumerate(counts.items()):
        if gpus is None:
            yield Problem(
                (*at, "instanceTypes", i),
                instance,
                f"has no GPUs; use a type of the {', '.join(catalog.GPU_FAMILIES)} families (e.g. g5.xlarge)",
            )
    known = {n for n in counts.values() if n is not None}
    if len(known) > 1:
        yield Problem(
            (*at, "instanceTypes"), group.instance_types, "mixes GPU counts per node; use types with the same count"
        )
    if group.min_nodes > group.max_nodes:
        yield Problem((*at, "minNodes"), group.min_nodes, f"is above maxNodes ({group.max_nodes})")
    if group.install_device_plugin and group.ami_type in catalog.AMI_TYPES_WITH_DEVICE_PLUGIN:
        yield Problem(
            (*at, "installDevicePlugin"),
            True,
            f"{group.ami_type} nodes run NVIDIA's device plugin themselves, and a second plugin for nvidia.com/gpu "
            "would fight it; remove the key",
        )
    if group.desired_nodes is not None and not group.min_nodes <= group.desired_nodes <= group.max_nodes:
        yield Problem((*at, "desiredNodes"), group.desired_nodes, "must be between minNodes and maxNodes")
    if known:
        yield from gpu_capacity(s, min(known), group.max_nodes, (*at, "maxNodes"), group.instance_types[0])


def check(s: PlatformSettings, aws: AwsSettings) -> Iterator[Problem]:
    yield from _aws(s, aws)
    yield from _gpus(s, aws)
    yield from _prerequisites(s, aws)


def _gpus(settings: PlatformSettings, aws: AwsSettings) -> Iterator[Problem]:
    floor, needs = floor_needs(settings)
    usable = [f for f, (_, _, capability) in catalog.GPUS.items() if capability >= floor]
    for i, instance in enumerate(aws.gpu_node_group.instance_types):
        gpu = catalog.GPUS.get(catalog.family_of(instance) or "")
        if gpu is not None and catalog.gpus_of(instance) is not None and gpu[2] < floor:
            yield Problem(
                ("aws", "gpuNodeGroup", "instanceTypes", i),
                instance,
                f"has {gpu[0]} GPUs ({gpu[1]}, compute capability {cc(gpu[2])}); {needs}: use a type of the "
                f"{', '.join(usable)} families",
            )


def _prerequisites(settings: PlatformSettings, aws: AwsSettings) -> Iterator[Problem]:
    prod = settings.environment is Environment.PROD
    cluster, group = aws.cluster, aws.gpu_node_group
    if prod and cluster.network_policy == "not-enforced":
        yield Problem(
            ("aws", "cluster", "networkPolicy"),
            "not-enforced",
            "is not allowed in prod: the Triton namespace's ingress and egress isolation depends on it; use "
            "vpc-cni-addon or self-managed",
        )
    if group.min_nodes == 0 and cluster.autoscaler == "none":
        yield Problem(
            ("aws", "gpuNodeGroup", "minNodes"),
            0,
            "an EKS managed node group never resizes itself, so it would stay at 0 nodes and Triton's pods Pending: "
            "install Cluster Autoscaler and set aws.cluster.autoscaler: cluster-autoscaler, or set minNodes to 1 or more",
        )
