"""``TritonServer``: the Triton serving core of one environment.

Namespace (Pod Security ``restricted``), a dedicated ServiceAccount, the admin key Secret
that unlocks Triton's restricted management APIs, and one ``TritonModelGroup`` per group.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from ..common import labels as _labels
from ..common import versions
from ..common.args import check_args
from . import triton_pod
from .model_group_args import CredentialsSecretArgs
from .triton_model_group import ModelGroupArgs, TritonModelGroup, validate_model_group

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
    namespace: NotRequired[str]
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
    model_control_mode: NotRequired[str]
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
    mode = args.get("model_control_mode", "none")
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


class TritonServer(pulumi.ComponentResource):
    """Triton Inference Server, one Deployment per model group, hardened by default."""

    namespace: pulumi.Output[str]
    """Namespace holding Triton."""
    service_account_name: pulumi.Output[str]
    """Kubernetes ServiceAccount the Triton pods run as."""
    endpoints: pulumi.Output[dict[str, dict[str, str]]]
    """Per model group: in-cluster ``http`` and ``grpc`` endpoints."""
    model_groups: dict[str, TritonModelGroup]
    """The model-group children, for consumers that extend them."""

    def __init__(self, name: str, args: TritonServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_args("TritonServer", name, args, TritonServerArgs)  # misspelt keys and wrong types, before anything else
        validate_server(args)  # before anything is registered: nothing is half-created
        super().__init__("tritonplatform:index:TritonServer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace_name = args.get("namespace", "triton")

        if args.get("create_namespace", True):
            namespace = k8s.core.v1.Namespace(
                f"{name}-namespace",
                metadata={
                    "name": namespace_name,
                    "labels": {
                        **_labels.recommended_labels(name, "namespace"),
                        "pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/enforce-version": "latest",
                        **dict(args.get("namespace_labels", {})),
                    },
                },
                opts=child,
            )
            self.namespace = namespace.metadata.apply(lambda m: m["name"])
        else:
            self.namespace = pulumi.Output.from_input(namespace_name)

        service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={
                "name": args.get("service_account_name", DEFAULT_SERVICE_ACCOUNT),
                "namespace": self.namespace,
                "labels": _labels.recommended_labels(name, "server"),
                "annotations": dict(args.get("service_account_annotations", {})),
            },
            automount_service_account_token=False,
            opts=child,
        )
        self.service_account_name = service_account.metadata.apply(lambda m: m["name"])

        restricted = args.get("restricted_apis", list(triton_pod.DEFAULT_RESTRICTED_APIS))
        admin_secret_name: pulumi.Input[str] | None = None
        if restricted:
            admin_key = args.get("admin_api_key")
            if admin_key is None:
                admin_key = random.RandomPassword(f"{name}-admin-key", length=32, special=False, opts=child).result
            admin_secret = k8s.core.v1.Secret(
                f"{name}-admin-key",
                metadata={
                    "name": "triton-admin-key",
                    "namespace": self.namespace,
                    "labels": _labels.recommended_labels(name, "server"),
                },
                type="Opaque",
                string_data={triton_pod.ADMIN_KEY_SECRET_KEY: pulumi.Output.secret(admin_key)},
                opts=child,
            )
            admin_secret_name = admin_secret.metadata.apply(lambda m: m["name"])

        credentials = args.get("credentials_file")
        mounted_credentials: CredentialsSecretArgs | None = None
        if credentials is not None:
            credentials_secret = k8s.core.v1.Secret(
                f"{name}-model-repository-credentials",
                metadata={
                    "name": CREDENTIALS_SECRET,
                    "namespace": self.namespace,
                    "labels": _labels.recommended_labels(name, "server"),
                },
                type="Opaque",
                string_data={credentials["file_name"]: pulumi.Output.secret(credentials["content"])},
                opts=child,
            )
            mounted_credentials = {
                "secret_name": credentials_secret.metadata.apply(lambda m: m["name"]),
                "file_name": credentials["file_name"],
                "env_var": credentials["env_var"],
            }

        groups = args.get("model_groups") or [ModelGroupArgs(name="default")]
        self.model_groups = {}
        for group in groups:
            self.model_groups[group["name"]] = TritonModelGroup(
                f"{name}-{group['name']}",
                {
                    **group,
                    "namespace": self.namespace,
                    "instance": name,
                    "image": image_reference(args.get("image", DEFAULT_IMAGE), args.get("image_digest")),
                    "model_repository": args["model_repository"],
                    "service_account_name": self.service_account_name,
                    "model_control_mode": args.get("model_control_mode", "none"),
                    "restricted_apis": restricted,
                    "admin_key_secret_name": admin_secret_name,
                    "credentials_file": mounted_credentials,
                    "extra_env": args.get("extra_env", {}),
                    "node_selector": args.get("node_selector", {}),
                    "tolerations": args.get("tolerations", [GPU_TOLERATION]),
                    "pod_annotations": {**args.get("pod_annotations", {}), **group.get("pod_annotations", {})},
                },
                opts=child,
            )

        self.endpoints = pulumi.Output.all(self.namespace, *(g.service_name for g in self.model_groups.values())).apply(
            lambda values: _endpoints(values[0], list(self.model_groups), values[1:])
        )
        self.register_outputs(
            {
                "namespace": self.namespace,
                "service_account_name": self.service_account_name,
                "endpoints": self.endpoints,
            }
        )


def image_reference(image: str, digest: str | None) -> str:
    """What the kubelet pulls: ``repository:tag@digest`` when pinned (the digest decides), else the image."""
    return f"{image}@{digest}" if digest else image


def _endpoints(namespace: str, groups: list[str], services: list[str]) -> dict[str, dict[str, str]]:
    return {
        group: {
            "http": f"http://{service}.{namespace}.svc.cluster.local:{triton_pod.HTTP_PORT}",
            "grpc": f"{service}.{namespace}.svc.cluster.local:{triton_pod.GRPC_PORT}",
        }
        for group, service in zip(groups, services, strict=True)
    }
