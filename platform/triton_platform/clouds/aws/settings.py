"""The ``triton-platform:aws`` section: the EKS cluster, its GPU node group, the model bucket and the identity."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from triton_components.aws import catalog as aws_catalog
from triton_components.aws.aws_model_reader_identity_args import AwsModelReaderIdentityArgs
from triton_components.aws.eks_gpu_node_group_args import EksGpuNodeGroupArgs
from triton_components.aws.s3_model_bucket_args import S3ModelBucketArgs

from ...config.base import Model
from ...config.field_docs import contract_field
from ...config.serving import PINNED_COMPUTE_CAPABILITY, gpu_list
from ...config.settings import CloudSettings


class EksClusterSettings(Model):
    name: Annotated[str, Field(pattern=r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")]
    """Existing EKS cluster (looked up; its IAM OIDC provider must exist)."""
    subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(default_factory=list)
    """Subnets of the GPU nodes. Empty: the cluster's subnets."""
    network_policy: Literal["vpc-cni-addon", "self-managed", "not-enforced"] = "vpc-cni-addon"
    """What enforces NetworkPolicy: ``vpc-cni-addon`` (the EKS add-on with ``enableNetworkPolicy``, checked
    before anything is created), ``self-managed`` (Calico, Cilium or a self-managed VPC CNI; not checked) or
    ``not-enforced`` (policies ignored; not in prod)."""
    autoscaler: Literal["cluster-autoscaler", "none"] = "none"
    """What resizes the GPU node group (a managed node group never does it itself); ``none`` needs
    ``gpuNodeGroup.minNodes`` of 1 or more."""


class EksGpuNodeGroupSettings(Model):
    """The EKS managed node group Triton's pods run on."""

    instance_types: list[Annotated[str, Field(pattern=r"^[a-z0-9]+\.[a-z0-9]+$")]] = contract_field(
        EksGpuNodeGroupArgs,
        "instance_types",
        doc=False,
        min_length=1,
        description=f"GPU instance types, all with the same GPU count, of the families (GPU, compute capability) "
        f"{gpu_list(aws_catalog.GPUS)}. The pinned Triton needs compute capability {PINNED_COMPUTE_CAPABILITY} or more.",
    )
    min_nodes: int = contract_field(EksGpuNodeGroupArgs, "min_nodes", doc=False)
    """Scaling lower bound; 0 needs ``aws.cluster.autoscaler: cluster-autoscaler``."""
    max_nodes: int = contract_field(EksGpuNodeGroupArgs, "max_nodes", doc=False)
    """Scaling upper bound; every group's replicas times its GPUs per replica must fit it."""
    desired_nodes: Annotated[int, Field(ge=0, le=100)] | None = None
    """Nodes at creation. Unset: ``minNodes``."""
    spot: bool = contract_field(EksGpuNodeGroupArgs, "spot", doc=False)
    """Spot capacity (managed node groups drain on the 2-minute notice)."""
    disk_size_gb: int = contract_field(EksGpuNodeGroupArgs, "disk_size_gb", doc=False)
    """Encrypted gp3 volume for container images and pod storage (Triton's image, its model cache): the root
    volume on AL2023, the data volume ``/dev/xvdb`` on Bottlerocket (whose OS volume ``/dev/xvda`` keeps the
    AMI's size, encrypted)."""
    ami_type: Literal["AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA"] = contract_field(
        EksGpuNodeGroupArgs, "ami_type", doc=False
    )
    """NVIDIA-enabled AMI."""
    install_device_plugin: bool | None = None
    """Install the NVIDIA device plugin chart (pinned in ``versions.py``); refused on Bottlerocket, whose NVIDIA
    nodes run the plugin themselves. Unset: installed on AL2023, not on Bottlerocket."""


class S3BucketSettings(Model):
    """The S3 bucket the stack creates for the model repository."""

    prefix: str = contract_field(S3ModelBucketArgs, "name_prefix", doc=False, default="triton-models")
    """Bucket name before the random suffix."""
    repository_path: str = contract_field(S3ModelBucketArgs, "repository_path", doc=False)
    """Folder in the bucket that Triton reads."""
    kms_key_arn: str | None = contract_field(S3ModelBucketArgs, "kms_key_arn", doc=False)
    """SSE-KMS with a customer key in ``aws.region``; the reader gets ``kms:Decrypt`` on it through S3 only.
    Unset: SSE-S3."""
    noncurrent_version_retention_days: int = contract_field(
        S3ModelBucketArgs, "noncurrent_version_retention_days", doc=False
    )
    """Old object versions are kept this long."""
    protect: bool | None = None
    """Unset: protected. ``false`` (deletable with the stack) allowed outside prod only."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Extra bucket tags."""


class AwsSettings(CloudSettings):
    """AWS: an existing EKS cluster, a GPU node group and the model bucket. Not together with ``gcp`` or
    ``cluster``."""

    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")]
    """Region of the cluster and bucket (also given to Triton as ``AWS_DEFAULT_REGION``)."""
    cluster: EksClusterSettings
    """The EKS cluster."""
    gpu_node_group: EksGpuNodeGroupSettings = EksGpuNodeGroupSettings()
    """The GPU node group."""
    model_bucket: S3BucketSettings = S3BucketSettings()
    """The model repository bucket."""
    identity: Literal["irsa", "key"] = contract_field(AwsModelReaderIdentityArgs, "mode", doc=False)
    """How Triton reads the bucket: ``irsa`` (keyless), or ``key`` (an IAM user's access key in a
    credentials-file Secret; forbidden in prod)."""
