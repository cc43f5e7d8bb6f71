"""The ``triton-platform:gcp`` section: the GKE cluster, its GPU node pool, the model bucket and the identity."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from triton_components.gcp import catalog as gcp_catalog
from triton_components.gcp.gcp_model_reader_identity_args import GcpModelReaderIdentityArgs
from triton_components.gcp.gcs_model_bucket_args import GcsModelBucketArgs
from triton_components.gcp.gke_cluster_args import GkeClusterArgs
from triton_components.gcp.gke_gpu_node_pool_args import GkeGpuNodePoolArgs

from ...config.base import DnsLabel, Model
from ...config.field_docs import contract_field
from ...config.serving import PINNED_COMPUTE_CAPABILITY, gpu_list
from ...config.settings import CloudSettings


class SecretEncryptionSettings(Model):
    enabled: bool = contract_field(
        GkeClusterArgs, "encrypt_secrets", more="Of a cluster this stack creates; ``false`` not in prod."
    )
    kms_key_name: str | None = contract_field(GkeClusterArgs, "secrets_kms_key", doc=False)
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
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = contract_field(
        GkeClusterArgs, "release_channel", doc=False
    )
    """Release channel of a created cluster."""
    master_ipv4_cidr_block: str = contract_field(GkeClusterArgs, "master_ipv4_cidr_block", doc=False)
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
    binary_authorization: Literal[gcp_catalog.BINARY_AUTHORIZATION_MODES] = contract_field(  # type: ignore[valid-type]  # pydantic takes the catalog's tuple; mypy wants literals
        GkeClusterArgs, "binary_authorization", more="Of a cluster this stack creates (its API is enabled)."
    )

    #: Where ``GkeClusterArgs``' encryption keys live in the stack file, under ``gcp.cluster``.
    ENCRYPTION_PATHS: ClassVar[dict[str, tuple[str, ...]]] = {
        "encrypt_secrets": ("secretEncryption", "enabled"),
        "secrets_kms_key": ("secretEncryption", "kmsKeyName"),
    }

    def cluster_args(self) -> dict[str, Any]:
        """The cluster's keys of ``GkeClusterArgs``, by name (its encryption section through one rename)."""
        rename = {"enabled": "encrypt_secrets", "kms_key_name": "secrets_kms_key"}
        return {
            **self.args_for(GkeClusterArgs, rename={"name": "cluster_name"}),
            **self.secret_encryption.args_for(GkeClusterArgs, rename=rename),
        }


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
        description=f"GKE accelerator type (GPU, compute capability): {gpu_list(gcp_catalog.GPUS)}. The pinned "
        f"Triton needs compute capability {PINNED_COMPUTE_CAPABILITY} or more.",
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
    prefix: str = contract_field(GcsModelBucketArgs, "name_prefix", doc=False, default="triton-models")
    """Bucket name before the random suffix."""
    repository_path: str = contract_field(GcsModelBucketArgs, "repository_path", doc=False)
    """Folder in the bucket that Triton reads."""
    soft_delete_retention_days: int = contract_field(GcsModelBucketArgs, "soft_delete_retention_days", doc=False)
    """Soft-delete window."""
    noncurrent_version_retention_days: int = contract_field(
        GcsModelBucketArgs, "noncurrent_version_retention_days", doc=False
    )
    """Old object versions are kept this long."""
    protect: bool | None = None
    """Unset: protected. ``false`` (deletable with the stack) allowed outside prod only."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Extra bucket labels."""


class GcpSettings(CloudSettings):
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
    identity: Literal["workload-identity", "key"] = contract_field(GcpModelReaderIdentityArgs, "mode", doc=False)
    """How Triton reads the bucket: ``workload-identity`` (keyless), or ``key`` (a key file in a Secret;
    forbidden in prod)."""

    @property
    def gpus_are_mig_partitions(self) -> bool:
        return self.gpu_pool.gpu_sharing.strategy == "mig"
