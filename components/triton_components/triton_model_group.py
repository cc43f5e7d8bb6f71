"""``TritonModelGroup``: the Deployment(s), Service and PodDisruptionBudget of one model group.

A model group is a set of models that scale and roll together. Each group gets its own
Deployment per track (``stable`` and, optionally, ``canary``) behind one Service, so a heavy
model no longer forces every pod to hold every model.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from . import _labels, triton_pod
from .quantities import cpu_millicores, memory_bytes

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
TRACKS = ("stable", "canary")


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
    """Models this group loads (needs ``model_control_mode="explicit"``). Default: the whole repository."""
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
    pod_annotations: NotRequired[Mapping[str, str]]
    """Extra pod annotations (e.g. for the mesh). Default: none."""


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
        raise ValueError(f"{where}: lists models but model_control_mode is 'none', which loads every model; use 'explicit'")


class TritonModelGroup(pulumi.ComponentResource):
    """Deployment per track, a ClusterIP Service and a PodDisruptionBudget for one model group."""

    service_name: pulumi.Output[str]
    """In-cluster Service name of the group."""
    deployment_names: pulumi.Output[dict[str, str]]
    """Deployment name per track (``stable``, ``canary``)."""

    def __init__(self, name: str, args: TritonModelGroupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        validate_model_group(args)  # before anything is registered: nothing is half-created
        super().__init__("tritonplatform:index:TritonModelGroup", name, None, opts)
        group = args["name"]
        instance = args["instance"]
        child = pulumi.ResourceOptions(parent=self)

        tracks: dict[str, dict[str, Any]] = {
            "stable": {
                "image": args["image"],
                "model_repository": args["model_repository"],
                "replicas": args.get("replicas", 1),
            }
        }
        canary = args.get("canary")
        if canary is not None:
            tracks["canary"] = {
                "image": canary.get("image", args["image"]),
                "model_repository": canary.get("model_repository", args["model_repository"]),
                "replicas": canary.get("replicas", 1),
            }

        deployments = {
            track: self._deployment(name, args, track, **spec, opts=child) for track, spec in tracks.items()
        }
        for track in tracks:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-{track}-pdb",
                metadata={
                    "name": _resource_name(group, track),
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
                "name": _resource_name(group, "stable"),
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
                    {"name": "metrics", "port": triton_pod.METRICS_PORT, "targetPort": "metrics", "appProtocol": "http"},
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
            instance, "model-group", model_group=group, track=track, version=image.rsplit(":", 1)[-1].split("@")[0]
        )
        credentials = args.get("credentials_file")
        restricted = args.get("restricted_apis", list(triton_pod.DEFAULT_RESTRICTED_APIS))
        exit_timeout = args.get("exit_timeout_seconds", 30)
        pre_stop = args.get("pre_stop_sleep_seconds", 10)
        container = triton_pod.container(
            image=image,
            args=triton_pod.triton_args(
                model_repository=model_repository,
                model_control_mode=args.get("model_control_mode", "none"),
                models=args.get("models", []),
                restricted_apis=restricted,
                exit_timeout_seconds=exit_timeout,
            ),
            cpu=args.get("cpu", "4"),
            memory=args.get("memory", "16Gi"),
            gpus=args.get("gpus_per_replica", 1),
            model_load_timeout_seconds=args.get("model_load_timeout_seconds", 600),
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
                    "maxSurge": args.get("max_surge", 0),
                    "maxUnavailable": args.get("max_unavailable", 1),
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
                    "terminationGracePeriodSeconds": pre_stop + exit_timeout + 5,
                    "nodeSelector": dict(args.get("node_selector", {})),
                    "tolerations": list(args.get("tolerations", [])),
                    "topologySpreadConstraints": triton_pod.spread_constraints(selector),
                    "containers": [container],
                    "volumes": triton_pod.volumes(
                        shm_size=args.get("shm_size", "1Gi"),
                        model_cache_size=args.get("model_cache_size", "20Gi"),
                        tmp_size="1Gi",
                        credentials_file=credentials,
                    ),
                },
            },
        }
        if replicas is not None:
            # Omitted when an autoscaler owns the count, so `pulumi up` never fights it.
            spec["replicas"] = replicas
        load_budget = args.get("model_load_timeout_seconds", 600)
        return k8s.apps.v1.Deployment(
            f"{name}-{track}",
            metadata={"name": _resource_name(group, track), "namespace": args["namespace"], "labels": labels},
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


def _resource_name(group: str, track: str) -> str:
    return f"triton-{group}" if track == "stable" else f"triton-{group}-{track}"
