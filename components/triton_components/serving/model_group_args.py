"""The inputs of a model group (``ModelGroupArgs``, ``TritonModelGroupArgs``) and their validation.

Separate from ``TritonModelGroup`` so the component file stays about resources.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

import pulumi

from ..common.quantities import cpu_millicores, memory_bytes

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
    replicas: NotRequired[int | None]
    """Stable replicas; ``None`` omits ``spec.replicas`` so an autoscaler owns it. Default: 1."""
    gpus_per_replica: NotRequired[int]
    """``nvidia.com/gpu`` limit per pod; 0 runs on CPU. Default: 1."""
    cpu: NotRequired[str]
    """CPU request and limit per pod. Default: ``"4"``."""
    memory: NotRequired[str]
    """Memory request and limit per pod (includes ``/dev/shm``). Default: ``"16Gi"``."""
    shm_size: NotRequired[str]
    """Size of the memory-backed ``/dev/shm``. Default: ``"1Gi"``."""
    model_cache_size: NotRequired[str]
    """Size limit of the local copy of cloud-hosted models. Default: ``"20Gi"``."""
    max_surge: NotRequired[int]
    """Rolling update ``maxSurge``; 0 lets a pool without a spare GPU roll. Default: 0."""
    max_unavailable: NotRequired[int]
    """Rolling update ``maxUnavailable``. Default: 1."""
    model_load_timeout_seconds: NotRequired[int]
    """Budget for loading every model; sizes the startup probe. Default: 600."""
    pre_stop_sleep_seconds: NotRequired[int]
    """Sleep before SIGTERM so routing drains first. Default: 10."""
    exit_timeout_seconds: NotRequired[int]
    """Triton's ``--exit-timeout-secs`` for in-flight requests. Default: 30."""
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
    for key in ("replicas",):
        value = args.get(key, 1)
        if value is not None and value < 0:
            raise ValueError(f"{where}: {key} is {value}; use 0 or more, or None to leave it to an autoscaler")
    if args.get("gpus_per_replica", 1) < 0:
        raise ValueError(f"{where}: gpus_per_replica is {args['gpus_per_replica']}; use 0 (CPU) or more")
    if args.get("max_surge", 0) == 0 and args.get("max_unavailable", 1) == 0:
        raise ValueError(f"{where}: max_surge and max_unavailable are both 0; Kubernetes needs one of them above 0")
    memory = memory_bytes(args.get("memory", "16Gi"))
    shm = memory_bytes(args.get("shm_size", "1Gi"))
    if shm >= memory:
        raise ValueError(
            f"{where}: shm_size {args.get('shm_size')} must be below memory {args.get('memory')}; "
            "/dev/shm is memory-backed and counts against the pod's memory limit"
        )
    cpu_millicores(args.get("cpu", "4"))
    if args.get("model_control_mode", "none") == "none" and args.get("models"):
        raise ValueError(
            f"{where}: lists models but model_control_mode is 'none', which loads every model; use 'explicit'"
        )
