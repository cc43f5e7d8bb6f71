"""``TritonServer``: the Triton serving core of one environment.

Namespace (Pod Security ``restricted``), a dedicated ServiceAccount, the admin key Secret
that unlocks Triton's restricted management APIs, and one ``TritonModelGroup`` per group.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from ..common import labels as _labels
from ..common.args import check_args, setting_value
from . import triton_pod
from .model_group_args import CredentialsSecretArgs, ModelGroupArgs
from .triton_model_group import TritonModelGroup
from .triton_server_args import (
    CREDENTIALS_SECRET,
    DEFAULT_IMAGE,
    DEFAULT_SERVICE_ACCOUNT,
    GPU_TOLERATION,
    TritonServerArgs,
    validate_server,
)


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
        namespace_name = setting_value(args, TritonServerArgs, "namespace")

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
