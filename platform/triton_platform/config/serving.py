"""The Triton servers and their model groups: what each stack serves, how, and on which GPUs.

Structure and single-field limits are the models; the rules that relate several fields follow them
and name the one key to change. ``highest_floor`` gives the GPU floor of every image a stack runs,
which each cloud's rules hold its GPUs to.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Literal, cast

from pydantic import AfterValidator, Field

from triton_components.common import versions
from triton_components.common.quantities import memory_bytes
from triton_components.serving.model_group_args import ModelGroupArgs
from triton_components.serving.triton_pod import DEFAULT_RESTRICTED_APIS, IMAGE_DIGEST_PATTERN

from .base import Cpu, DnsLabel, Environment, Memory, Model, Problem
from .field_docs import from_contract
from .mesh import CanarySettings
from .observability import AutoscalingSettings

if TYPE_CHECKING:
    from .settings import PlatformSettings

Capability = tuple[int, int]


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
    replicas: Annotated[int, Field(ge=0, le=100)] = 1
    """Stable replicas (prod: 2 or more unless ``acceptSingleReplica``); with ``autoscaling`` the autoscaler
    owns the count."""
    gpus_per_replica: Annotated[
        int,
        Field(ge=0, le=16),
        from_contract(ModelGroupArgs, "gpus_per_replica", more="At most the GPUs a node offers."),
    ] = 1
    cpu: Annotated[Cpu, from_contract(ModelGroupArgs, "cpu", more=_GUARANTEED)] = "4"
    memory: Annotated[Memory, from_contract(ModelGroupArgs, "memory", more=_GUARANTEED)] = "16Gi"
    shm_size: Annotated[Memory, from_contract(ModelGroupArgs, "shm_size", more="Must be below ``memory``.")] = "1Gi"
    model_cache_size: Annotated[Memory, from_contract(ModelGroupArgs, "model_cache_size")] = "20Gi"
    max_surge: Annotated[
        int,
        Field(ge=0, le=10),
        from_contract(ModelGroupArgs, "max_surge", more="Not 0 together with ``maxUnavailable``."),
    ] = 0
    max_unavailable: Annotated[
        int,
        Field(ge=0, le=10),
        from_contract(ModelGroupArgs, "max_unavailable", more="Not 0 together with ``maxSurge``."),
    ] = 1
    model_load_timeout_seconds: Annotated[
        int, Field(ge=30, le=7200), from_contract(ModelGroupArgs, "model_load_timeout_seconds")
    ] = 600
    pre_stop_sleep_seconds: Annotated[
        int, Field(ge=0, le=120), from_contract(ModelGroupArgs, "pre_stop_sleep_seconds")
    ] = 10
    exit_timeout_seconds: Annotated[
        int,
        Field(ge=0, le=600),
        from_contract(
            ModelGroupArgs,
            "exit_timeout_seconds",
            more="With ``preStopSleepSeconds`` it sizes the grace period (+ 5 s) and the sidecar's drain (+ 2 s).",
        ),
    ] = 30
    accept_single_replica: bool = False
    """Waive prod's two-replica rule for this group."""
    canary: Annotated[
        CanarySettings | None,
        from_contract(ModelGroupArgs, "canary", more="Its Deployment is ``triton-<name>-canary``."),
    ] = None
    autoscaling: AutoscalingSettings | None = None
    """KEDA autoscaling of the stable Deployment on Triton's queue time (needs ``observability.enabled``); the
    Deployment then omits ``replicas``."""


def check_triton(s: PlatformSettings) -> Iterator[Problem]:
    floor = "%02d.%02d" % versions.TRITON_MINIMUM_RELEASE
    if s.triton.release < versions.TRITON_MINIMUM_RELEASE:
        if not s.triton.allow_vulnerable_image:
            yield Problem(
                ("triton", "imageTag"),
                s.triton.image_tag,
                f"Triton releases before {floor} have published critical CVEs (NVIDIA bulletins 5535, 5687); "
                f"use {floor} or newer, or set triton.allowVulnerableImage: true outside prod",
            )
    if s.triton.allow_vulnerable_image and s.environment is Environment.PROD:
        yield Problem(("triton", "allowVulnerableImage"), True, "is not allowed in prod; use a patched image instead")
    seen: set[str] = set()
    for i, api in enumerate(s.triton.restricted_apis):
        if api in seen:
            yield Problem(("triton", "restrictedApis", i), api, "is listed twice; Triton refuses an API in two groups")
        seen.add(api)


def check_model_groups(s: PlatformSettings) -> Iterator[Problem]:
    owner: dict[str, str] = {}
    names: set[str] = set()
    explicit = s.triton.model_control_mode == "explicit"
    for i, g in enumerate(s.model_groups):
        at = ("modelGroups", i)
        if g.name in names:
            yield Problem((*at, "name"), g.name, "is used by another model group; names must be unique")
        names.add(g.name)
        for j, model in enumerate(g.models):
            if model in owner:
                yield Problem(
                    (*at, "models", j),
                    model,
                    f"is already served by model group {owner[model]!r}; a model belongs to one group",
                )
            owner.setdefault(model, g.name)
        if g.models and not explicit:
            yield Problem(
                (*at, "models"),
                g.models,
                "lists models, but triton.modelControlMode is 'none', which loads the whole repository; "
                "set triton.modelControlMode: explicit",
            )
        if explicit and not g.models:
            yield Problem(
                (*at, "models"),
                [],
                "is empty, but triton.modelControlMode is 'explicit', so this group would load nothing",
            )
        if g.max_surge == 0 and g.max_unavailable == 0:
            yield Problem((*at, "maxUnavailable"), 0, "is 0 and maxSurge is 0; Kubernetes needs one of them above 0")
        if memory_bytes(g.shm_size) >= memory_bytes(g.memory):
            yield Problem(
                (*at, "shmSize"),
                g.shm_size,
                f"must be below memory ({g.memory}): /dev/shm is memory-backed and counts against it",
            )
        # Autoscaled groups are held to the same rule on autoscaling.minReplicas (observability.py).
        if (
            s.environment is Environment.PROD
            and g.autoscaling is None
            and g.replicas < 2
            and not g.accept_single_replica
        ):
            yield Problem(
                (*at, "replicas"),
                g.replicas,
                "prod needs at least 2 replicas so a rollout or node drain keeps serving; "
                "or set acceptSingleReplica: true to waive it",
            )
        if g.canary is not None and g.replicas == 0:
            yield Problem((*at, "canary"), "set", "needs a stable track: set replicas to 1 or more")
        if g.canary is not None and g.canary.image_tag is None and g.canary.model_repository_path is None:
            yield Problem((*at, "canary"), "set", "changes nothing: set imageTag and/or modelRepositoryPath")


def highest_floor(settings: PlatformSettings) -> tuple[str, str, tuple[tuple[int, int], Capability]]:
    """The image with the strictest GPU floor: its tag, the key naming it, and its floor."""
    images = [(settings.triton.image_tag, "triton.imageTag")]
    for i, group in enumerate(settings.model_groups):
        if group.canary is not None and group.canary.image_tag is not None:
            images.append((group.canary.image_tag, f"modelGroups[{i}].canary.imageTag"))
    floors = [(versions.triton_compute_capability_floor(_release(tag)), tag, where) for tag, where in images]
    floor, tag, where = max(floors, key=lambda f: f[0][1])
    return tag, where, floor


def _release(tag: str) -> tuple[int, int]:
    year, month = tag.split("-", 1)[0].split(".")[:2]
    return int(year), int(month)


def cc(capability: Capability) -> str:
    return "%d.%d" % capability


def floor_needs(settings: PlatformSettings) -> tuple[Capability, str]:
    """The GPU floor of the stack's images, and the sentence a GPU problem quotes for it."""
    tag, where, (first, floor) = highest_floor(settings)
    needs = (
        f"Triton {tag} ({where}) supports compute capability {cc(floor)} and newer "
        f"(release notes: every release from {'%02d.%02d' % first})"
    )
    return floor, needs
