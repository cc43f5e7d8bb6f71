"""``TritonModelGroup``: the Deployment(s), Service and PodDisruptionBudget of one model group.

A model group is a set of models that scale and roll together. Each group gets its own
Deployment per track (``stable`` and, optionally, ``canary``) behind one Service, so a heavy
model no longer forces every pod to hold every model.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..common import labels as _labels
from ..common import names as _names
from ..common.args import check_args, setting_value
from . import triton_pod
from .model_group_args import (
    CanaryArgs,
    CredentialsSecretArgs,
    ModelGroupArgs,
    TritonModelGroupArgs,
    triton_flags,
    validate_model_group,
)

__all__ = [
    "CanaryArgs",
    "CredentialsSecretArgs",
    "ModelGroupArgs",
    "TritonModelGroup",
    "TritonModelGroupArgs",
    "validate_model_group",
]


class TritonModelGroup(pulumi.ComponentResource):
    """Deployment per track, a ClusterIP Service and a PodDisruptionBudget for one model group."""

    service_name: pulumi.Output[str]
    """In-cluster Service name of the group."""
    deployment_names: pulumi.Output[dict[str, str]]
    """Deployment name per track (``stable``, ``canary``)."""

    def __init__(self, name: str, args: TritonModelGroupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_args(
            "TritonModelGroup", name, args, TritonModelGroupArgs
        )  # misspelt keys and wrong types, before anything else
        validate_model_group(args)  # before anything is registered: nothing is half-created
        super().__init__("tritonplatform:index:TritonModelGroup", name, None, opts)
        group = args["name"]
        instance = args["instance"]
        child = pulumi.ResourceOptions(parent=self)

        tracks: dict[str, dict[str, Any]] = {
            "stable": {
                "image": args["image"],
                "model_repository": args["model_repository"],
                "replicas": setting_value(args, ModelGroupArgs, "replicas"),
            }
        }
        canary = args.get("canary")
        if canary is not None:
            tracks["canary"] = {
                "image": canary.get("image", args["image"]),
                "model_repository": canary.get("model_repository", args["model_repository"]),
                "replicas": canary.get("replicas", 1),
            }

        deployments = {track: self._deployment(name, args, track, **spec, opts=child) for track, spec in tracks.items()}
        for track in tracks:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-{track}-pdb",
                metadata={
                    "name": _names.deployment_name(group, track),
                    "namespace": args["namespace"],
                    "labels": _labels.recommended_labels(instance, "model-group", model_group=group, track=track),
                },
                spec={
                    # Never 0 disruptions: a drain or node upgrade always makes progress.
                    "maxUnavailable": 1,
                    "unhealthyPodEvictionPolicy": "AlwaysAllow",
                    "selector": {"matchLabels": _labels.selector_labels(instance, group, track)},
                },
                opts=child,
            )

        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={
                "name": _names.group_object_name(group),
                "namespace": args["namespace"],
                "labels": _labels.recommended_labels(instance, "model-group", model_group=group),
            },
            spec={
                "type": "ClusterIP",
                # Both tracks sit behind one Service; the mesh splits traffic by the version label.
                "selector": _labels.selector_labels(instance, group),
                "ports": [
                    {"name": "http", "port": triton_pod.HTTP_PORT, "targetPort": "http", "appProtocol": "http"},
                    # appProtocol grpc makes a mesh balance per request, not per connection.
                    {"name": "grpc", "port": triton_pod.GRPC_PORT, "targetPort": "grpc", "appProtocol": "grpc"},
                    {
                        "name": "metrics",
                        "port": triton_pod.METRICS_PORT,
                        "targetPort": "metrics",
                        "appProtocol": "http",
                    },
                ],
            },
            opts=child,
        )
        self.service_name = service.metadata.apply(lambda m: m["name"])
        self.deployment_names = pulumi.Output.from_input(
            {track: d.metadata.apply(lambda m: m["name"]) for track, d in deployments.items()}
        )
        self.register_outputs({"service_name": self.service_name, "deployment_names": self.deployment_names})

    def _deployment(
        self,
        name: str,
        args: TritonModelGroupArgs,
        track: str,
        *,
        image: str,
        model_repository: pulumi.Input[str],
        replicas: int | None,
        opts: pulumi.ResourceOptions,
    ) -> k8s.apps.v1.Deployment:
        group, instance = args["name"], args["instance"]
        selector = _labels.selector_labels(instance, group, track)
        labels = _labels.recommended_labels(
            instance, "model-group", model_group=group, track=track, version=triton_pod.image_version(image)
        )
        credentials = args.get("credentials_file")
        restricted = args.get("restricted_apis", list(triton_pod.DEFAULT_RESTRICTED_APIS))
        exit_timeout = setting_value(args, ModelGroupArgs, "exit_timeout_seconds")
        pre_stop = setting_value(args, ModelGroupArgs, "pre_stop_sleep_seconds")
        container = triton_pod.container(
            image=image,
            args=[
                *triton_pod.triton_args(
                    model_repository=model_repository,
                    model_control_mode=args.get("model_control_mode", "none"),
                    models=args.get("models", []),
                    restricted_apis=restricted,
                    exit_timeout_seconds=exit_timeout,
                ),
                *triton_flags(args),
            ],
            cpu=setting_value(args, ModelGroupArgs, "cpu"),
            memory=setting_value(args, ModelGroupArgs, "memory"),
            gpus=setting_value(args, ModelGroupArgs, "gpus_per_replica"),
            model_load_timeout_seconds=setting_value(args, ModelGroupArgs, "model_load_timeout_seconds"),
            pre_stop_sleep_seconds=pre_stop,
            admin_key_secret_name=args.get("admin_key_secret_name") if restricted else None,
            credentials_file=credentials,
            extra_env=args.get("extra_env", {}),
        )
        spec: dict[str, Any] = {
            "selector": {"matchLabels": selector},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {
                    "maxSurge": setting_value(args, ModelGroupArgs, "max_surge"),
                    "maxUnavailable": setting_value(args, ModelGroupArgs, "max_unavailable"),
                },
            },
            "revisionHistoryLimit": 5,
            "template": {
                "metadata": {"labels": labels, "annotations": dict(args.get("pod_annotations", {}))},
                "spec": {
                    "serviceAccountName": args["service_account_name"],
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": triton_pod.pod_security_context(),
                    # preStop sleep + Triton's in-flight drain + a margin to exit.
                    "terminationGracePeriodSeconds": triton_pod.termination_grace_seconds(pre_stop, exit_timeout),
                    "nodeSelector": dict(args.get("node_selector", {})),
                    "tolerations": list(args.get("tolerations", [])),
                    "topologySpreadConstraints": triton_pod.spread_constraints(selector),
                    "containers": [container],
                    "volumes": triton_pod.volumes(
                        shm_size=setting_value(args, ModelGroupArgs, "shm_size"),
                        model_cache_size=setting_value(args, ModelGroupArgs, "model_cache_size"),
                        tmp_size="1Gi",
                        credentials_file=credentials,
                    ),
                },
            },
        }
        if replicas is not None:
            # Omitted when an autoscaler owns the count, so `pulumi up` never fights it.
            spec["replicas"] = replicas
        load_budget = setting_value(args, ModelGroupArgs, "model_load_timeout_seconds")
        return k8s.apps.v1.Deployment(
            f"{name}-{track}",
            metadata={"name": _names.deployment_name(group, track), "namespace": args["namespace"], "labels": labels},
            spec=spec,
            opts=pulumi.ResourceOptions.merge(
                opts,
                # Pulumi waits for rollout; a cold GPU node plus a multi-GB image pull and the
                # model load can exceed the provider's 10-minute default.
                pulumi.ResourceOptions(
                    custom_timeouts=pulumi.CustomTimeouts(
                        create=f"{load_budget + 900}s", update=f"{load_budget + 900}s"
                    )
                ),
            ),
        )
