"""The typed shape of one environment's configuration (``triton-platform:*`` keys).

Structure and single-field limits live here; rules that relate several fields live in
``rules.py`` so each message can name exactly the key the user has to change.
Secrets are never fields: they stay Pulumi secrets (see ``SECRET_KEYS``).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from triton_components.common import versions
from triton_components.gcp import catalog as gcp_catalog
from triton_components.common.gpu_taints import GPU_TAINT
from triton_components.common.quantities import cpu_millicores, memory_bytes
from triton_components.serving.triton_pod import DEFAULT_RESTRICTED_APIS, IMAGE_DIGEST_PATTERN

from .base import Environment, Model
from .observability import AutoscalingSettings, ObservabilitySettings
from .routing import CanarySettings, MeshSettings

#: Config keys that hold secrets: set with ``pulumi config set --secret``, read as Outputs.
SECRET_KEYS = ("adminApiKey", "alertReceiverSecret")


def _memory(value: str) -> str:
    memory_bytes(value)
    return value


def _cpu(value: str) -> str:
    cpu_millicores(value)
    return value


def _dns_label(value: str) -> str:
    if not re.fullmatch(r"[a-z]([-a-z0-9]{0,38}[a-z0-9])?", value):
        raise ValueError("must be a DNS label of at most 40 characters: lowercase letters, digits and '-'")
    return value


Memory = Annotated[str, AfterValidator(_memory)]
Cpu = Annotated[str, AfterValidator(_cpu)]
DnsLabel = Annotated[str, AfterValidator(_dns_label)]


RestrictableApi = Literal[
    "model-repository", "model-config", "shared-memory", "statistics", "trace", "logging", "metadata", "inference"
]


def _private_https_cidr(value: str) -> str:
    try:
        network = ipaddress.ip_network(value)
    except ValueError:
        raise ValueError("is not a CIDR; give an address range such as 10.0.12.0/24") from None
    if network.overlaps(ipaddress.ip_network("169.254.0.0/16")):
        raise ValueError(
            "overlaps the link-local range 169.254.0.0/16 (metadata servers); list only the private addresses of "
            "your storage or token API endpoints"
        )
    return value


class EgressSettings(Model):
    """What Triton's pods may reach beyond DNS, istiod, their identity's metadata endpoint and public HTTPS."""

    #: Private addresses of the model bucket's or the token service's API (VPC interface endpoints for
    #: S3/STS, Private Service Connect for Google APIs); reachable on 443. Default: none.
    private_https_cidrs: list[Annotated[str, AfterValidator(_private_https_cidr)]] = Field(default_factory=list)


class TritonSettings(Model):
    namespace: DnsLabel = "triton"
    image_repository: str = versions.TRITON_IMAGE_REPOSITORY
    image_tag: Annotated[str, Field(pattern=r"^[0-9]{2}\.[0-9]{2}(\.[0-9]+)?(-[a-z0-9-]+)?$")] = versions.TRITON_IMAGE_TAG
    #: ``TritonServerArgs.image_digest``: pins imageTag's image by content when given.
    image_digest: Annotated[str, Field(pattern=IMAGE_DIGEST_PATTERN)] | None = None
    allow_vulnerable_image: bool = False
    model_repository: str | None = None
    model_control_mode: Literal["none", "explicit"] = "none"
    restricted_apis: list[RestrictableApi] = Field(default_factory=lambda: list(DEFAULT_RESTRICTED_APIS))
    egress: EgressSettings = EgressSettings()

    @property
    def image(self) -> str:
        """``repository:tag``; the digest, when given, travels beside it (``TritonServerArgs.image_digest``)."""
        return f"{self.image_repository}:{self.image_tag}"

    @property
    def release(self) -> tuple[int, int]:
        year, month = self.image_tag.split("-", 1)[0].split(".")[:2]
        return int(year), int(month)


class ModelGroupSettings(Model):
    name: DnsLabel
    models: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]] = Field(default_factory=list)
    replicas: Annotated[int, Field(ge=0, le=100)] = 1
    gpus_per_replica: Annotated[int, Field(ge=0, le=16)] = 1
    cpu: Cpu = "4"
    memory: Memory = "16Gi"
    shm_size: Memory = "1Gi"
    model_cache_size: Memory = "20Gi"
    max_surge: Annotated[int, Field(ge=0, le=10)] = 0
    max_unavailable: Annotated[int, Field(ge=0, le=10)] = 1
    model_load_timeout_seconds: Annotated[int, Field(ge=30, le=7200)] = 600
    pre_stop_sleep_seconds: Annotated[int, Field(ge=0, le=120)] = 10
    exit_timeout_seconds: Annotated[int, Field(ge=0, le=600)] = 30
    accept_single_replica: bool = False
    canary: CanarySettings | None = None
    autoscaling: AutoscalingSettings | None = None


class SecretEncryptionSettings(Model):
    #: ``GkeClusterArgs.encrypt_secrets``; prod keeps it on.
    enabled: bool = True
    #: ``GkeClusterArgs.secrets_kms_key``: an existing key in the cluster's region; unset: one is created.
    kms_key_name: Annotated[str, Field(pattern=gcp_catalog.KMS_KEY_NAME_PATTERN)] | None = None


class GkeClusterSettings(Model):
    name: DnsLabel
    location: Annotated[str, Field(pattern=r"^[a-z]+-[a-z]+[0-9]+(-[a-z])?$")]
    create: bool = False
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    master_ipv4_cidr_block: Annotated[str, Field(pattern=r"^[0-9.]+/28$")] = "172.16.0.32/28"
    master_authorized_networks: list[Annotated[str, Field(pattern=r"^[0-9.]+/[0-9]{1,2}$")]] = Field(
        default_factory=list
    )
    #: ``enforced``: an existing cluster must enforce NetworkPolicy (Dataplane V2 or Calico), checked
    #: against the looked-up cluster before anything is created. ``not-enforced`` accepts a cluster
    #: that ignores the Triton namespace's policies (not in prod).
    network_policy: Literal["enforced", "not-enforced"] = "enforced"
    #: Application-layer Secrets encryption of a cluster this stack creates (``GkeClusterArgs``).
    secret_encryption: SecretEncryptionSettings = SecretEncryptionSettings()
    #: ``GkeClusterArgs.binary_authorization`` of a cluster this stack creates.
    binary_authorization: Literal[gcp_catalog.BINARY_AUTHORIZATION_MODES] = "DISABLED"  # type: ignore[valid-type]


class GpuSharingSettings(Model):
    strategy: Literal["none", "time-sharing", "mig"] = "none"
    max_shared_clients_per_gpu: Annotated[int, Field(ge=2, le=48)] | None = None
    mig_partition_size: str | None = None


class GkeGpuPoolSettings(Model):
    machine_type: str = "n1-standard-8"
    accelerator_type: str = "nvidia-tesla-t4"
    accelerators_per_node: Annotated[int, Field(ge=1, le=16)] = 1
    min_nodes: Annotated[int, Field(ge=0, le=100)] = 0
    max_nodes: Annotated[int, Field(ge=1, le=100)] = 3
    spot: bool = False
    zones: list[Annotated[str, Field(pattern=r"^[a-z]+-[a-z]+[0-9]+-[a-z]$")]] = Field(default_factory=list)
    disk_size_gb: Annotated[int, Field(ge=100, le=2000)] = 200
    disk_type: Literal["pd-balanced", "pd-ssd"] = "pd-ssd"
    gpu_driver_version: Literal["DEFAULT", "LATEST"] = "LATEST"
    image_streaming: bool = True
    secondary_boot_disk_image: Annotated[str, Field(pattern=r"^(global/images/|projects/)[a-z0-9/._-]+$")] | None = None
    gpu_sharing: GpuSharingSettings = GpuSharingSettings()


class GcsBucketSettings(Model):
    location: Annotated[str, Field(pattern=r"^[A-Z0-9-]+$")] = "US-CENTRAL1"
    prefix: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")] = "triton-models"
    repository_path: Annotated[str, Field(pattern=r"^[A-Za-z0-9_./-]*$")] = "model_repository"
    soft_delete_retention_days: Annotated[int, Field(ge=7, le=90)] = 7
    noncurrent_version_retention_days: Annotated[int, Field(ge=1, le=3650)] = 30
    protect: bool | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class GcpSettings(Model):
    project: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")]
    region: Annotated[str, Field(pattern=r"^[a-z]+-[a-z]+[0-9]+$")]
    cluster: GkeClusterSettings
    gpu_pool: GkeGpuPoolSettings = GkeGpuPoolSettings()
    model_bucket: GcsBucketSettings = GcsBucketSettings()
    identity: Literal["workload-identity", "key"] = "workload-identity"


class EksClusterSettings(Model):
    name: Annotated[str, Field(pattern=r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")]
    subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(default_factory=list)
    #: What enforces NetworkPolicy: ``vpc-cni-addon`` (the EKS add-on with ``enableNetworkPolicy``,
    #: checked before anything is created), ``self-managed`` (Calico, Cilium or a self-managed VPC CNI;
    #: not checked) or ``not-enforced`` (policies ignored; not in prod).
    network_policy: Literal["vpc-cni-addon", "self-managed", "not-enforced"] = "vpc-cni-addon"
    #: What resizes the GPU node group: a managed node group never does it itself. ``none`` needs
    #: gpuNodeGroup.minNodes of 1 or more.
    autoscaler: Literal["cluster-autoscaler", "none"] = "none"


class EksGpuNodeGroupSettings(Model):
    instance_types: list[Annotated[str, Field(pattern=r"^[a-z0-9]+\.[a-z0-9]+$")]] = Field(
        default_factory=lambda: ["g5.xlarge"], min_length=1
    )
    min_nodes: Annotated[int, Field(ge=0, le=100)] = 0
    max_nodes: Annotated[int, Field(ge=1, le=100)] = 3
    desired_nodes: Annotated[int, Field(ge=0, le=100)] | None = None
    spot: bool = False
    disk_size_gb: Annotated[int, Field(ge=100, le=2000)] = 200
    ami_type: Literal["AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA"] = "AL2023_x86_64_NVIDIA"
    #: ``EksGpuNodeGroupArgs.install_device_plugin``; unset: the chart on AL2023, none on Bottlerocket.
    install_device_plugin: bool | None = None


class S3BucketSettings(Model):
    prefix: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")] = "triton-models"
    repository_path: Annotated[str, Field(pattern=r"^[A-Za-z0-9_./-]*$")] = "model_repository"
    kms_key_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$")] | None = None
    noncurrent_version_retention_days: Annotated[int, Field(ge=1, le=3650)] = 30
    protect: bool | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class AwsSettings(Model):
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")]
    cluster: EksClusterSettings
    gpu_node_group: EksGpuNodeGroupSettings = EksGpuNodeGroupSettings()
    model_bucket: S3BucketSettings = S3BucketSettings()
    identity: Literal["irsa", "key"] = "irsa"


#: A qualified Kubernetes label (or taint) key: an optional DNS-subdomain prefix and a name.
LABEL_KEY_PATTERN = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
LABEL_VALUE_PATTERN = r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$"
#: The node label the NVIDIA GPU Operator (GPU Feature Discovery) puts on every GPU node.
GPU_PRESENT_LABEL = {"nvidia.com/gpu.present": "true"}

LabelKey = Annotated[str, Field(pattern=LABEL_KEY_PATTERN, max_length=316)]
LabelValue = Annotated[str, Field(pattern=LABEL_VALUE_PATTERN, max_length=63)]


class TaintSettings(Model):
    key: LabelKey
    value: LabelValue = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class ClusterSettings(Model):
    """A cluster this stack does not provision (on-premises or bring-your-own, from the kubeconfig):
    how Triton finds its GPU nodes. Only for stacks without a gcp or aws section."""

    #: Labels every GPU node carries. Default: ``nvidia.com/gpu.present: "true"`` (NVIDIA GPU Operator).
    gpu_node_selector: dict[LabelKey, LabelValue] = Field(default_factory=lambda: dict(GPU_PRESENT_LABEL))
    #: Taints on the GPU nodes, tolerated exactly by Triton. Default: ``nvidia.com/gpu=present:NoSchedule``.
    gpu_node_taints: list[TaintSettings] = Field(default_factory=lambda: [TaintSettings.model_validate(GPU_TAINT)])
    #: GPUs each GPU node offers to pods (``nvidia.com/gpu`` allocatable).
    gpus_per_node: Annotated[int, Field(ge=1, le=64)] = 1
    #: GPU nodes the stack may use; when set, every model group at its peak must fit them.
    gpu_nodes: Annotated[int, Field(ge=1, le=1000)] | None = None
    #: Whether the cluster's network plugin enforces NetworkPolicy (Calico, Cilium, ...): ``enforced``
    #: (the default) or ``not-enforced``, which accepts a cluster that ignores the Triton namespace's
    #: ingress and egress policies (not in prod). Kubernetes has no API that tells, so the stack says it.
    network_policy: Literal["enforced", "not-enforced"] = "enforced"


class PlatformSettings(Model):
    """Root: every ``triton-platform:<key>`` of one stack."""

    environment: Environment
    gcp: GcpSettings | None = None
    aws: AwsSettings | None = None
    #: Stacks without a cloud: the existing cluster's GPU nodes (defaults apply when absent).
    cluster: ClusterSettings | None = None
    triton: TritonSettings = TritonSettings()
    mesh: MeshSettings = MeshSettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    model_groups: list[ModelGroupSettings] = Field(
        default_factory=lambda: [ModelGroupSettings(name="default")], min_length=1
    )

    @property
    def cloud(self) -> str:
        return "gcp" if self.gcp is not None else "aws" if self.aws is not None else "none"

    @property
    def existing_cluster(self) -> ClusterSettings | None:
        """The GPU nodes of a cluster this stack does not provision; None for a gcp or aws stack."""
        if self.cloud != "none":
            return None
        return self.cluster if self.cluster is not None else ClusterSettings()
