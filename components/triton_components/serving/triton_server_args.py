"""Inputs of ``TritonServer`` (``TritonServerArgs``), their defaults and limits, and their validation.

Apart from the component so the platform's config models read the same contract without loading the
Kubernetes SDK.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, NotRequired, TypedDict

import pulumi

from ..common import versions
from ..common.args import Setting, setting_value
from . import triton_pod
from .model_group_args import ModelGroupArgs, validate_model_group

#: A Kubernetes namespace name (RFC 1123 label).
DNS_LABEL_PATTERN = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
DEFAULT_IMAGE = f"{versions.TRITON_IMAGE_REPOSITORY}:{versions.TRITON_IMAGE_TAG}"
IMAGE_DIGEST_PATTERN = triton_pod.IMAGE_DIGEST_PATTERN
MODEL_CONTROL_MODES = ("none", "explicit")
DEFAULT_SERVICE_ACCOUNT = "triton"
CREDENTIALS_SECRET = "triton-model-repository-credentials"


class CredentialsFileArgs(TypedDict):
    """A model-repository credentials file; ``TritonServer`` keeps it in a Secret and mounts it."""

    content: pulumi.Input[str]
    """File content; stays a Pulumi secret in state and outputs. Required."""
    file_name: str
    """File name in the mount, e.g. ``key.json``. Required."""
    env_var: str
    """Variable pointing at the file, e.g. ``GOOGLE_APPLICATION_CREDENTIALS``. Required."""


class TritonServerArgs(TypedDict):
    """Inputs of ``TritonServer``."""

    model_repository: pulumi.Input[str]
    """``--model-repository``: ``gs://bucket/path``, ``s3://bucket/path`` or a path. Required."""
    namespace: NotRequired[Annotated[str, Setting("triton", pattern=DNS_LABEL_PATTERN, accepts="a DNS label")]]
    """Namespace for every object. Default: ``"triton"``."""
    create_namespace: NotRequired[bool]
    """Create the namespace (labelled Pod Security ``restricted``). Default: True."""
    namespace_labels: NotRequired[Mapping[str, str]]
    """Extra namespace labels, e.g. ``istio-injection``. Default: none."""
    image: NotRequired[str]
    """Triton image, ``repository:tag``. Default: the release pinned in ``versions.py``."""
    image_digest: NotRequired[str | None]
    """Pins ``image`` by content (``sha256:`` and 64 lowercase hex digits): pods run ``image@digest``, so a
    tag pushed again cannot change what runs; the tag still names the release in labels. A canary with an
    image of its own runs that image without it. Default: none (the tag alone)."""
    model_control_mode: NotRequired[Annotated[str, Setting("none")]]
    """``none`` (load the whole repository at start) or ``explicit`` (load each group's models). Default: ``none``."""
    model_groups: NotRequired[list[ModelGroupArgs]]
    """Model groups, each with its own Deployment. Default: one group ``default`` serving the whole repository."""
    restricted_apis: NotRequired[list[str]]
    """Triton API groups callable only with the admin key. Default: model-repository, model-config,
    shared-memory, statistics, trace, logging."""
    admin_api_key: NotRequired[pulumi.Input[str] | None]
    """Key for the restricted APIs (kept secret). Default: a generated 32-character key."""
    service_account_annotations: NotRequired[Mapping[str, pulumi.Input[str]]]
    """ServiceAccount annotations for keyless identity (Workload Identity, IRSA). Default: none."""
    credentials_file: NotRequired[CredentialsFileArgs | None]
    """Model-repository credentials file, stored in a Secret the server owns. Default: none (keyless)."""
    service_account_name: NotRequired[str]
    """Name of the Kubernetes ServiceAccount (bound by keyless identity). Default: ``"triton"``."""
    extra_env: NotRequired[Mapping[str, pulumi.Input[str]]]
    """Extra environment variables, e.g. ``AWS_DEFAULT_REGION``. Default: none."""
    node_selector: NotRequired[Mapping[str, str]]
    """Node selector for the GPU pool. Default: none."""
    tolerations: NotRequired[list[dict[str, Any]]]
    """Tolerations for the GPU pool's taints. Default: ``nvidia.com/gpu`` NoSchedule."""
    pod_annotations: NotRequired[Mapping[str, str]]
    """Extra pod annotations of every group (a group's own ``pod_annotations`` win). Default: none."""


GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def validate_server(args: Mapping[str, Any]) -> None:
    digest = args.get("image_digest")
    if digest is not None and not re.fullmatch(IMAGE_DIGEST_PATTERN, digest):
        raise ValueError(
            f"image_digest is {digest!r}; give 'sha256:' followed by 64 lowercase hex digits, as "
            "`docker buildx imagetools inspect <image>` prints it"
        )
    if digest is not None and "@" in args.get("image", DEFAULT_IMAGE):
        raise ValueError(
            f"image {args['image']!r} already carries a digest; give image_digest or a digest in image, not both"
        )
    mode = setting_value(args, TritonServerArgs, "model_control_mode")
    if mode not in MODEL_CONTROL_MODES:
        raise ValueError(f"model_control_mode is {mode!r}; use one of {', '.join(MODEL_CONTROL_MODES)}")
    apis = args.get("restricted_apis", list(triton_pod.DEFAULT_RESTRICTED_APIS))
    unknown = sorted(set(apis) - triton_pod.RESTRICTABLE_APIS)
    if unknown:
        raise ValueError(
            f"restricted_apis has {', '.join(unknown)}; use any of {', '.join(sorted(triton_pod.RESTRICTABLE_APIS))} "
            "(never 'health': kubelet probes carry no key)"
        )
    groups = args.get("model_groups") or [{"name": "default"}]
    names = [g["name"] for g in groups]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"model_groups has duplicate names: {', '.join(duplicates)}")
    for group in groups:
        validate_model_group({**group, "model_control_mode": mode})
