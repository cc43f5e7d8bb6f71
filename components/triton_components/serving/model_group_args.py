"""The inputs of a model group (``ModelGroupArgs``, ``TritonModelGroupArgs``) and their validation.

Separate from ``TritonModelGroup`` so the component file stays about resources.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, NotRequired, TypedDict

import pulumi

from ..common.args import Setting, setting_value
from ..common.quantities import cpu_millicores, memory_bytes
from ..common.shared_settings import MODEL_LOAD_TIMEOUT_SECONDS

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


class CredentialsSecretArgs(TypedDict):
    """A model-repository credentials file held in a Kubernetes Secret, mounted read-only."""

    secret_name: pulumi.Input[str]
    """Name of the Secret holding the file. Required."""
    file_name: str
    """Key in the Secret and file name in the mount, e.g. ``key.json``. Required."""
    env_var: str
    """Environment variable that points at the mounted file, e.g. ``GOOGLE_APPLICATION_CREDENTIALS``. Required."""


class CanaryArgs(TypedDict):
    """A second Deployment of the same group, labelled ``version: canary``."""

    image: NotRequired[str]
    """Image for the canary. Default: the group's image."""
    model_repository: NotRequired[pulumi.Input[str]]
    """Model repository URL for the canary. Default: the group's repository."""
    replicas: NotRequired[int | None]
    """Canary replicas; ``None`` leaves replicas to an autoscaler. Default: 1."""


class ModelGroupArgs(TypedDict):
    """One model group as a user describes it."""

    name: str
    """DNS label naming the group; Deployments are ``triton-<name>``. Required."""
    models: NotRequired[list[str]]
    """Models this group loads (needs ``model_control_mode`` ``explicit``). Default: the whole repository."""
    replicas: NotRequired[Annotated[int | None, Setting(1, ge=0, le=100)]]
    """Stable replicas; ``None`` omits ``spec.replicas`` so an autoscaler owns it. Default: 1."""
    gpus_per_replica: NotRequired[Annotated[int, Setting(1, ge=0, le=16)]]
    """``nvidia.com/gpu`` limit per pod; 0 runs on CPU. Default: 1."""
    cpu: NotRequired[Annotated[str, Setting("4")]]
    """CPU request and limit per pod. Default: ``"4"``."""
    memory: NotRequired[Annotated[str, Setting("16Gi")]]
    """Memory request and limit per pod (includes ``/dev/shm``). Default: ``"16Gi"``."""
    shm_size: NotRequired[Annotated[str, Setting("1Gi")]]
    """Size of the memory-backed ``/dev/shm``. Default: ``"1Gi"``."""
    model_cache_size: NotRequired[Annotated[str, Setting("20Gi")]]
    """Size limit of the local copy of cloud-hosted models. Default: ``"20Gi"``."""
    max_surge: NotRequired[Annotated[int, Setting(0, ge=0, le=10)]]
    """Rolling update ``maxSurge``; 0 lets a pool without a spare GPU roll. Default: 0."""
    max_unavailable: NotRequired[Annotated[int, Setting(1, ge=0, le=10)]]
    """Rolling update ``maxUnavailable``. Default: 1."""
    model_load_timeout_seconds: NotRequired[Annotated[int, MODEL_LOAD_TIMEOUT_SECONDS]]
    """Budget for loading every model; sizes the startup probe. Default: 600."""
    pre_stop_sleep_seconds: NotRequired[Annotated[int, Setting(10, ge=0, le=120)]]
    """Sleep before SIGTERM so routing drains first. Default: 10."""
    exit_timeout_seconds: NotRequired[Annotated[int, Setting(30, ge=0, le=600)]]
    """Triton's ``--exit-timeout-secs`` for in-flight requests. Default: 30."""
    log_verbose: NotRequired[Annotated[int, Setting(0, ge=0, le=3)]]
    """Triton's ``--log-verbose`` level for this group's pods: 0 off; 1 and up log each request and model
    event, for debugging one group without flooding the others' logs (costly under load). Default: 0."""
    canary: NotRequired[CanaryArgs | None]
    """Optional canary Deployment. Default: none."""
    pod_annotations: NotRequired[Mapping[str, str]]
    """Pod annotations of this group's Deployments, over the server-wide ones (e.g. a mesh sidecar's drain,
    sized from this group's ``shutdown_seconds``). Default: none."""


class TritonModelGroupArgs(ModelGroupArgs):
    """A model group plus the server-wide wiring ``TritonServer`` passes down."""

    namespace: pulumi.Input[str]
    """Namespace of every object. Required."""
    instance: str
    """``app.kubernetes.io/instance`` of the release. Required."""
    image: str
    """Triton image. Required."""
    model_repository: pulumi.Input[str]
    """``--model-repository`` URL or path. Required."""
    service_account_name: pulumi.Input[str]
    """Kubernetes ServiceAccount of the pods. Required."""
    model_control_mode: NotRequired[str]
    """``none`` or ``explicit``. Default: ``none``."""
    restricted_apis: NotRequired[list[str]]
    """Triton API groups that require the admin key. Default: the six management groups."""
    admin_key_secret_name: NotRequired[pulumi.Input[str] | None]
    """Secret with key ``admin-key``; required when ``restricted_apis`` is not empty."""
    credentials_file: NotRequired[CredentialsSecretArgs | None]
    """Model-repository credentials file. Default: none (keyless identity)."""
    extra_env: NotRequired[Mapping[str, pulumi.Input[str]]]
    """Additional environment variables (no secrets). Default: none."""
    node_selector: NotRequired[Mapping[str, str]]
    """Node selector for GPU nodes. Default: none."""
    tolerations: NotRequired[list[dict[str, Any]]]
    """Tolerations matching the GPU pool's taints. Default: none."""


def validate_model_group(args: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming the input, the bad value and what is accepted."""
    name = args.get("name", "")
    where = f"model group {name!r}"
    if not _DNS_LABEL.match(name) or len(name) > 40:
        raise ValueError(f"model group name {name!r} must be a DNS label of at most 40 characters (a-z, 0-9, -)")
    # Limits (replicas, GPUs, surge, timeouts) are the keys' Settings, which check_args enforced first.
    if _value(args, "max_surge") == 0 and _value(args, "max_unavailable") == 0:
        raise ValueError(f"{where}: max_surge and max_unavailable are both 0; Kubernetes needs one of them above 0")
    memory = memory_bytes(_value(args, "memory"))
    shm = memory_bytes(_value(args, "shm_size"))
    if shm >= memory:
        raise ValueError(
            f"{where}: shm_size {args.get('shm_size')} must be below memory {args.get('memory')}; "
            "/dev/shm is memory-backed and counts against the pod's memory limit"
        )
    cpu_millicores(_value(args, "cpu"))
    if args.get("model_control_mode", "none") == "none" and args.get("models"):
        raise ValueError(
            f"{where}: lists models but model_control_mode is 'none', which loads every model; use 'explicit'"
        )


def _value(args: Mapping[str, Any], key: str) -> Any:
    return setting_value(args, ModelGroupArgs, key)


def triton_flags(args: Mapping[str, Any]) -> list[str]:
    """The group's own ``tritonserver`` flags, read from its contract's keys, after the server-wide ones.
    A setting that is one Triton flag is its key, its ``Setting`` and a line here; each flag appears only
    when asked for, so the default command line stays what it always was."""
    verbose = _value(args, "log_verbose")
    return [f"--log-verbose={verbose}"] if verbose else []
