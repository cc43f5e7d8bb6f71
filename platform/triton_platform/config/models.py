"""The typed shape of one environment's configuration (``triton-platform:*`` keys).

Structure and single-field limits live here; rules that relate several fields live in
``rules.py`` so each message can name exactly the key the user has to change.
Secrets are never fields: they stay Pulumi secrets (see ``SECRET_KEYS``).
Each field's doc (``field_docs``) is its entry in docs/configuration.md (``make docs``).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, ClassVar, Literal, NamedTuple, cast

from pydantic import AfterValidator, Field

from triton_components.aws import catalog as aws_catalog
from triton_components.aws.eks_gpu_node_group_args import EksGpuNodeGroupArgs
from triton_components.common import versions
from triton_components.common.gpu_taints import GPU_TAINT
from triton_components.common.quantities import cpu_millicores, memory_bytes
from triton_components.gcp import catalog as gcp_catalog
from triton_components.gcp.gke_gpu_node_pool_args import GkeGpuNodePoolArgs
from triton_components.serving.model_group_args import ModelGroupArgs
from triton_components.serving.triton_pod import DEFAULT_RESTRICTED_APIS, IMAGE_DIGEST_PATTERN

from .base import Environment, Model
from .field_docs import contract_field, from_contract
from .observability import AutoscalingSettings, ObservabilitySettings
from .routing import CanarySettings, MeshSettings


class SecretKey(NamedTuple):
    """A secret config key: never a field, so its reference entry lives here."""

    default: str
    doc: str


#: Config keys that hold secrets: set with ``pulumi config set --secret``, read as Outputs.
SECRET_KEYS = {
    "adminApiKey": SecretKey(
        "generated",
        "Key for Triton's restricted APIs (``triton.restrictedApis``). Unset: a random key is generated and "
        "kept in the stack's state.",
    ),
    "alertReceiverSecret": SecretKey(
        "unset",
        "Credential of ``observability.alerts.receiver``: the webhook URL, the Slack incoming-webhook URL, the "
        "PagerDuty Events v2 routing key, or the SMTP password (``email`` with ``emailAuthUsername``).",
    ),
}


def _memory(value: str) -> str:
    """memory quantity (``16Gi``, ``512Mi``)"""
    memory_bytes(value)
    return value


def _cpu(value: str) -> str:
    """CPU quantity (``4``, ``500m``)"""
    cpu_millicores(value)
    return value


def _dns_label(value: str) -> str:
    """DNS label of at most 40 characters"""
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
    """CIDR outside 169.254.0.0/16"""
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

    private_https_cidrs: list[Annotated[str, AfterValidator(_private_https_cidr)]] = Field(default_factory=list)
    """Private addresses of the model bucket's or the token service's API (VPC interface endpoints for
    S3/STS, Private Service Connect for Google APIs), reachable on 443."""


#: ``TRITON_MINIMUM_RELEASE`` as a tag spells it.
_MINIMUM_RELEASE = ".".join(f"{part:02d}" for part in versions.TRITON_MINIMUM_RELEASE)
#: The oldest GPU the pinned Triton image runs on (CUDA compute capability), for the docs of the GPU keys.
_PINNED_RELEASE = versions.TRITON_IMAGE_TAG.split("-", 1)[0].split(".")
_PINNED_FLOOR = "{}.{}".format(
    *versions.triton_compute_capability_floor((int(_PINNED_RELEASE[0]), int(_PINNED_RELEASE[1])))[1]
)


def _gpus(catalog: dict[str, tuple[str, str, tuple[int, int]]]) -> str:
    """``name`` (GPU, compute capability) for each entry of a cloud catalog's GPU table."""
    return ", ".join(f"``{name}`` ({gpu}, {cc[0]}.{cc[1]})" for name, (gpu, _, cc) in catalog.items())


class TritonSettings(Model):
    """The Triton servers: image, model repository and API protection."""

    namespace: DnsLabel = "triton"
    """Namespace of every Triton object."""
    image_repository: str = versions.TRITON_IMAGE_REPOSITORY
    """Image repository (e.g. an Artifact Registry mirror)."""
    image_tag: Annotated[
        str,
        Field(
            pattern=r"^[0-9]{2}\.[0-9]{2}(\.[0-9]+)?(-[a-z0-9-]+)?$",
            description=f"Triton release (``YY.MM[-suffix]``); {_MINIMUM_RELEASE} or "
            "later unless ``allowVulnerableImage``; the GPU must meet the release's compute-capability floor "
            f"({_PINNED_FLOOR} for the pinned release).",
        ),
    ] = versions.TRITON_IMAGE_TAG
    image_digest: Annotated[
        Annotated[str, Field(pattern=IMAGE_DIGEST_PATTERN)] | None,
        from_contract(
            "triton_components.serving.triton_server.TritonServerArgs",
            "image_digest",
            more="Here ``image`` is ``imageRepository:imageTag``; "
            "``docker buildx imagetools inspect nvcr.io/nvidia/tritonserver:<tag>`` prints the digest.",
        ),
    ] = None
    allow_vulnerable_image: bool = Field(
        default=False,
        description=f"Allow a release below {_MINIMUM_RELEASE} (never in prod).",
    )
    model_repository: str | None = None
    """An existing model repository (``gs://…``, ``s3://…`` or a path in the pod); required without a cloud
    section, forbidden with one (the stack creates the bucket)."""
    model_control_mode: Literal["none", "explicit"] = "none"
    """``explicit`` loads only each group's ``models``; ``none`` loads the whole repository."""
    restricted_apis: list[RestrictableApi] = Field(
        default_factory=lambda: cast(list[RestrictableApi], list(DEFAULT_RESTRICTED_APIS))
    )
    """Triton API groups that need the admin key (``adminApiKey``); ``health`` is never restrictable."""
    egress: EgressSettings = EgressSettings()
    """What Triton's pods may reach beyond DNS, istiod, their identity's metadata endpoint and public HTTPS."""

    @property
    def image(self) -> str:
        """``repository:tag``; the digest, when given, travels beside it (``TritonServerArgs.image_digest``)."""
        return f"{self.image_repository}:{self.image_tag}"

    @property
    def release(self) -> tuple[int, int]:
        year, month = self.image_tag.split("-", 1)[0].split(".")[:2]
        return int(year), int(month)


#: With the mesh, each pod's sidecar adds ``mesh.sidecar`` on top of the group's own size.
_GUARANTEED = "With the mesh the sidecar is sized by ``mesh.sidecar`` the same way, so the pod is Guaranteed QoS."


class ModelGroupSettings(Model):
    """One model group: a Deployment (``triton-<name>``) serving some models (``ModelGroupArgs``)."""

    name: Annotated[DnsLabel, from_contract(ModelGroupArgs, "name")]
    models: Annotated[
        list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]],
        from_contract(ModelGroupArgs, "models", more="A model belongs to one group. Empty: the whole repository."),
    ] = Field(default_factory=list)
    replicas: int = contract_field(ModelGroupArgs, "replicas", doc=False)
    """Stable replicas (prod: 2 or more unless ``acceptSingleReplica``); with ``autoscaling`` the autoscaler
    owns the count."""
    gpus_per_replica: int = contract_field(ModelGroupArgs, "gpus_per_replica", more="At most the GPUs a node offers.")
    cpu: Cpu = contract_field(ModelGroupArgs, "cpu", more=_GUARANTEED)
    memory: Memory = contract_field(ModelGroupArgs, "memory", more=_GUARANTEED)
    shm_size: Memory = contract_field(ModelGroupArgs, "shm_size", more="Must be below ``memory``.")
    model_cache_size: Memory = contract_field(ModelGroupArgs, "model_cache_size")
    max_surge: int = contract_field(ModelGroupArgs, "max_surge", more="Not 0 together with ``maxUnavailable``.")
    max_unavailable: int = contract_field(ModelGroupArgs, "max_unavailable", more="Not 0 together with ``maxSurge``.")
    model_load_timeout_seconds: int = contract_field(ModelGroupArgs, "model_load_timeout_seconds")
    pre_stop_sleep_seconds: int = contract_field(ModelGroupArgs, "pre_stop_sleep_seconds")
    exit_timeout_seconds: int = contract_field(
        ModelGroupArgs,
        "exit_timeout_seconds",
        more="With ``preStopSleepSeconds`` it sizes the grace period (+ 5 s) and the sidecar's drain (+ 2 s).",
    )
    log_verbose: int = contract_field(ModelGroupArgs, "log_verbose")
    accept_single_replica: bool = False
    """Waive prod's two-replica rule for this group."""
    canary: Annotated[
        CanarySettings | None,
        from_contract(ModelGroupArgs, "canary", more="Its Deployment is ``triton-<name>-canary``."),
    ] = None
    autoscaling: AutoscalingSettings | None = None
    """KEDA autoscaling of the stable Deployment on Triton's queue time (needs ``observability.enabled``); the
    Deployment then omits ``replicas``."""


#: By name: importing it would load pulumi_gcp into every stack's config, AWS ones included.
_GKE_CLUSTER = "triton_components.gcp.gke_cluster.GkeClusterArgs"


class SecretEncryptionSettings(Model):
    enabled: Annotated[
        bool,
        from_contract(_GKE_CLUSTER, "encrypt_secrets", more="Of a cluster this stack creates; ``false`` not in prod."),
    ] = True
    kms_key_name: Annotated[str, Field(pattern=gcp_catalog.KMS_KEY_NAME_PATTERN)] | None = None
    """An existing key in the cluster's region; grant ``roles/cloudkms.cryptoKeyEncrypterDecrypter`` to
    ``service-<project number>@container-engine-robot.iam.gserviceaccount.com`` on it first. Unset: a key ring
    (random suffix) and a key rotated every 90 days are created, and only GKE's service agent may use the key."""


class GkeClusterSettings(Model):
    name: DnsLabel
    """GKE cluster to use (looked up unless ``create``)."""
    location: Annotated[str, Field(pattern=r"^[a-z]+-[a-z]+[0-9]+(-[a-z])?$")]
    """The cluster's region or zone."""
    create: bool = False
    """Create a hardened regional cluster instead of looking one up (private nodes, Dataplane V2, Workload
    Identity, shielded nodes, Cloud NAT, Secrets encrypted with Cloud KMS, a firewall rule for the add-ons'
    webhooks)."""
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    """Release channel of a created cluster."""
    master_ipv4_cidr_block: Annotated[str, Field(pattern=r"^[0-9.]+/28$")] = "172.16.0.32/28"
    """Private control-plane range of a created cluster; it may reach the system nodes on 15017 (istiod's
    injector), 9443 (KEDA's webhook) and 6443 (KEDA's metrics API), which GKE's own rule (443, 10250) leaves
    closed."""
    master_authorized_networks: list[Annotated[str, Field(pattern=r"^[0-9.]+/[0-9]{1,2}$")]] = Field(
        default_factory=list
    )
    """Control-plane allow-list of a created cluster; empty leaves the feature off (any source, credentials
    still required); prod requires one when creating."""
    network_policy: Literal["enforced", "not-enforced"] = "enforced"
    """``enforced``: a looked-up cluster must enforce NetworkPolicy (Dataplane V2 or Calico), checked before
    anything is created. ``not-enforced`` accepts a cluster that ignores the Triton namespace's policies
    (not in prod)."""
    secret_encryption: SecretEncryptionSettings = SecretEncryptionSettings()
    """Application-layer Secrets encryption of a cluster this stack creates."""
    binary_authorization: Annotated[
        Literal[gcp_catalog.BINARY_AUTHORIZATION_MODES],  # type: ignore[valid-type]  # pydantic takes the catalog's tuple; mypy wants literals
        from_contract(
            _GKE_CLUSTER, "binary_authorization", more="Of a cluster this stack creates (its API is enabled)."
        ),
    ] = "DISABLED"


class GpuSharingSettings(Model):
    """GKE GPU sharing on the pool's nodes."""

    strategy: Literal["none", "time-sharing", "mig"] = "none"
    """How pods share a GPU: not at all, by time-slicing, or as MIG instances."""
    max_shared_clients_per_gpu: int | None = contract_field(GkeGpuNodePoolArgs, "max_shared_clients_per_gpu", doc=False)
    """Pods per GPU; required for ``time-sharing``."""
    mig_partition_size: str | None = None
    """MIG profile such as ``1g.5gb``; required for ``mig`` (A100, A100 80GB, H100). Capacity counts NVIDIA's
    instances per profile (e.g. H100 ``1g.20gb`` = 4 per GPU)."""


class GkeGpuPoolSettings(Model):
    """The GKE node pool Triton's pods run on."""

    machine_type: str = contract_field(GkeGpuNodePoolArgs, "machine_type", doc=False)
    """GCE machine type; must fit the accelerator (n1 + T4; g2 + L4; a2 + A100; a3 + H100)."""
    accelerator_type: str = contract_field(
        GkeGpuNodePoolArgs,
        "accelerator_type",
        doc=False,
        description=f"GKE accelerator type (GPU, compute capability): {_gpus(gcp_catalog.GPUS)}. The pinned "
        f"Triton needs compute capability {_PINNED_FLOOR} or more.",
    )
    accelerators_per_node: int = contract_field(GkeGpuNodePoolArgs, "accelerators_per_node", doc=False)
    """GPUs per node (fixed by the a2, a3 and g2 machine types)."""
    min_nodes: int = contract_field(GkeGpuNodePoolArgs, "min_nodes", doc=False)
    """Autoscaling lower bound (total over the zones)."""
    max_nodes: int = contract_field(GkeGpuNodePoolArgs, "max_nodes", doc=False)
    """Autoscaling upper bound (total over the zones); every group's replicas times its GPUs per replica must
    fit it."""
    spot: bool = contract_field(GkeGpuNodePoolArgs, "spot", doc=False)
    """Spot VMs (with the spot taint and a 15 s shutdown rule)."""
    zones: list[Annotated[str, Field(pattern=r"^[a-z]+-[a-z]+[0-9]+-[a-z]$")]] = Field(default_factory=list)
    """Node locations. Empty: the cluster's."""
    disk_size_gb: int = contract_field(GkeGpuNodePoolArgs, "disk_size_gb", doc=False)
    """Boot disk size."""
    disk_type: Literal["pd-balanced", "pd-ssd"] = contract_field(GkeGpuNodePoolArgs, "disk_type", doc=False)
    """Boot disk type."""
    gpu_driver_version: Literal["DEFAULT", "LATEST"] = contract_field(
        GkeGpuNodePoolArgs, "gpu_driver_version", doc=False
    )
    """GKE-managed NVIDIA driver version."""
    image_streaming: bool = contract_field(GkeGpuNodePoolArgs, "image_streaming", doc=False)
    """GKE image streaming (Artifact Registry images); the stack enables the Container File System API first."""
    secondary_boot_disk_image: Annotated[str, Field(pattern=r"^(global/images/|projects/)[a-z0-9/._-]+$")] | None = None
    """Disk image with the Triton image cached (``global/images/…`` or ``projects/…``)."""
    gpu_sharing: GpuSharingSettings = GpuSharingSettings()
    """GPU sharing between pods."""

    #: The sharing keys' paths in the stack file, by their ``GkeGpuNodePoolArgs`` names.
    SHARING_KEYS: ClassVar[dict[str, tuple[str, ...]]] = {
        "gpu_sharing_strategy": ("gpuSharing", "strategy"),
        "max_shared_clients_per_gpu": ("gpuSharing", "maxSharedClientsPerGpu"),
        "mig_partition_size": ("gpuSharing", "migPartitionSize"),
    }

    def pool_args(self) -> dict[str, Any]:
        """The pool's keys of ``GkeGpuNodePoolArgs``, by name (the sharing keys through one rename)."""
        return {
            **self.args_for(GkeGpuNodePoolArgs),
            **self.gpu_sharing.args_for(GkeGpuNodePoolArgs, rename={"strategy": "gpu_sharing_strategy"}),
        }


class GcsBucketSettings(Model):
    """The GCS bucket the stack creates for the model repository."""

    location: Annotated[str, Field(pattern=r"^[A-Z0-9-]+$")] = "US-CENTRAL1"
    """Bucket location."""
    prefix: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")] = "triton-models"
    """Bucket name before the random suffix."""
    repository_path: Annotated[str, Field(pattern=r"^[A-Za-z0-9_./-]*$")] = "model_repository"
    """Folder in the bucket that Triton reads."""
    soft_delete_retention_days: Annotated[int, Field(ge=7, le=90)] = 7
    """Soft-delete window."""
    noncurrent_version_retention_days: Annotated[int, Field(ge=1, le=3650)] = 30
    """Old object versions are kept this long."""
    protect: bool | None = None
    """Unset: protected. ``false`` (deletable with the stack) allowed outside prod only."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Extra bucket labels."""


class GcpSettings(Model):
    """Google Cloud: a GKE cluster, its GPU node pool and the model bucket. Not together with ``aws`` or
    ``cluster``."""

    project: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")]
    """GCP project of everything the stack declares."""
    region: Annotated[str, Field(pattern=r"^[a-z]+-[a-z]+[0-9]+$")]
    """GCP region of everything the stack declares."""
    cluster: GkeClusterSettings
    """The GKE cluster."""
    gpu_pool: GkeGpuPoolSettings = GkeGpuPoolSettings()
    """The GPU node pool."""
    model_bucket: GcsBucketSettings = GcsBucketSettings()
    """The model repository bucket."""
    identity: Literal["workload-identity", "key"] = "workload-identity"
    """How Triton reads the bucket: ``workload-identity`` (keyless), or ``key`` (a key file in a Secret;
    forbidden in prod)."""


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
        f"{_gpus(aws_catalog.GPUS)}. The pinned Triton needs compute capability {_PINNED_FLOOR} or more.",
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

    prefix: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")] = "triton-models"
    """Bucket name before the random suffix."""
    repository_path: Annotated[str, Field(pattern=r"^[A-Za-z0-9_./-]*$")] = "model_repository"
    """Folder in the bucket that Triton reads."""
    kms_key_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$")] | None = (
        None
    )
    """SSE-KMS with a customer key in ``aws.region``; the reader gets ``kms:Decrypt`` on it through S3 only.
    Unset: SSE-S3."""
    noncurrent_version_retention_days: Annotated[int, Field(ge=1, le=3650)] = 30
    """Old object versions are kept this long."""
    protect: bool | None = None
    """Unset: protected. ``false`` (deletable with the stack) allowed outside prod only."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Extra bucket tags."""


class AwsSettings(Model):
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
    identity: Literal["irsa", "key"] = "irsa"
    """How Triton reads the bucket: ``irsa`` (keyless), or ``key`` (an IAM user's access key in a
    credentials-file Secret; forbidden in prod)."""


#: A qualified Kubernetes label (or taint) key: an optional DNS-subdomain prefix and a name.
LABEL_KEY_PATTERN = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
LABEL_VALUE_PATTERN = r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$"
#: The node label the NVIDIA GPU Operator (GPU Feature Discovery) puts on every GPU node.
GPU_PRESENT_LABEL = {"nvidia.com/gpu.present": "true"}

LabelKey = Annotated[str, Field(pattern=LABEL_KEY_PATTERN, max_length=316)]
LabelValue = Annotated[str, Field(pattern=LABEL_VALUE_PATTERN, max_length=63)]


class TaintSettings(Model):
    key: LabelKey
    """Taint key."""
    value: LabelValue = ""
    """Taint value."""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"
    """Taint effect."""


class ClusterSettings(Model):
    """A cluster this stack does not provision (on-premises or bring-your-own, from the kubeconfig):
    how Triton finds its GPU nodes. Only for stacks without a gcp or aws section."""

    gpu_node_selector: dict[LabelKey, LabelValue] = Field(default_factory=lambda: dict(GPU_PRESENT_LABEL))
    """Labels every GPU node carries (the default is the NVIDIA GPU Operator's)."""
    gpu_node_taints: list[TaintSettings] = Field(default_factory=lambda: [TaintSettings.model_validate(GPU_TAINT)])
    """Taints on the GPU nodes; Triton tolerates exactly these."""
    gpus_per_node: Annotated[int, Field(ge=1, le=64)] = 1
    """GPUs each GPU node offers to pods (``nvidia.com/gpu`` allocatable); ``gpusPerReplica`` must fit."""
    gpu_nodes: Annotated[int, Field(ge=1, le=1000)] | None = None
    """GPU nodes the stack may use; when set, every model group at its peak must fit them."""
    network_policy: Literal["enforced", "not-enforced"] = "enforced"
    """Whether the cluster's network plugin enforces NetworkPolicy (Calico, Cilium, ...): ``not-enforced``
    accepts a cluster that ignores the Triton namespace's ingress and egress policies (not in prod).
    Kubernetes has no API that tells, so the stack says it."""


class PlatformSettings(Model):
    """Root: every ``triton-platform:<key>`` of one stack."""

    environment: Environment
    """Kind of environment; ``prod`` turns on the stricter rules."""
    gcp: GcpSettings | None = None
    """Google Cloud: a GKE cluster, its GPU node pool and the model bucket."""
    aws: AwsSettings | None = None
    """AWS: an existing EKS cluster, a GPU node group and the model bucket."""
    cluster: ClusterSettings | None = None
    """Stacks without a cloud section: the existing cluster's GPU nodes (the defaults below apply when absent)."""
    triton: TritonSettings = TritonSettings()
    """The Triton servers."""
    mesh: MeshSettings = MeshSettings()
    """Istio routing, canaries and mesh security."""
    observability: ObservabilitySettings = ObservabilitySettings()
    """Prometheus monitoring, alerts, the dashboard and the add-ons autoscaling needs."""
    model_groups: list[ModelGroupSettings] = Field(
        default_factory=lambda: [ModelGroupSettings(name="default")], min_length=1
    )
    """Model groups, each its own Deployment and GPU share; the first is the gateway's default route."""

    @property
    def cloud(self) -> str:
        return "gcp" if self.gcp is not None else "aws" if self.aws is not None else "none"

    @property
    def existing_cluster(self) -> ClusterSettings | None:
        """The GPU nodes of a cluster this stack does not provision; None for a gcp or aws stack."""
        if self.cloud != "none":
            return None
        return self.cluster if self.cluster is not None else ClusterSettings()
