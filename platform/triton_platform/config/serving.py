"""The Triton servers and their model groups (``triton-platform:triton``, ``modelGroups``): what each stack
serves, how, and on which GPUs. The rules relating these keys are ``serving_rules``."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal, cast

from pydantic import AfterValidator, Field

from triton_components.common import versions
from triton_components.serving.model_group_args import ModelGroupArgs
from triton_components.serving.triton_pod import DEFAULT_RESTRICTED_APIS, IMAGE_DIGEST_PATTERN
from triton_components.serving.triton_server_args import TritonServerArgs

from .base import Cpu, DnsLabel, Memory, Model
from .field_docs import contract_field, from_contract
from .mesh import CanarySettings
from .observability import AutoscalingSettings

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
PINNED_COMPUTE_CAPABILITY = "{}.{}".format(
    *versions.triton_compute_capability_floor((int(_PINNED_RELEASE[0]), int(_PINNED_RELEASE[1])))[1]
)


def gpu_list(catalog: dict[str, tuple[str, str, tuple[int, int]]]) -> str:
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
            f"({PINNED_COMPUTE_CAPABILITY} for the pinned release).",
        ),
    ] = versions.TRITON_IMAGE_TAG
    image_digest: Annotated[
        Annotated[str, Field(pattern=IMAGE_DIGEST_PATTERN)] | None,
        from_contract(
            TritonServerArgs,
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
    model_control_mode: Literal["none", "explicit"] = contract_field(TritonServerArgs, "model_control_mode", doc=False)
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
