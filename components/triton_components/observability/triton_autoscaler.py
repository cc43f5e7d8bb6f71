"""``TritonAutoscaler``: a KEDA ScaledObject that scales one model group's stable Deployment.

The default trigger is the group's average queue time per request, from Prometheus; pending
requests per replica and GPU utilization can be added. HPA behaviour damps scale-down (a GPU
replica takes minutes to come back), and ``fallback`` holds the replica count when Prometheus
fails: every query treats "no data" as an error, never as zero.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from ..common import labels as _labels
from ..common import names as _names
from ..common.args import check_args
from . import keda_triggers as _keda_triggers

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
MIN_SCALE_DOWN_STABILIZATION_SECONDS = 300


class ScaleUpArgs(TypedDict):
    """How fast the HPA may add replicas."""

    max_pods: NotRequired[int]
    """Replicas added at most per period. Default: 2."""
    period_seconds: NotRequired[int]
    """Length of that period. Default: 60."""
    stabilization_seconds: NotRequired[int]
    """Scale-up stabilization window. Default: 0 (react at once)."""


class FallbackArgs(TypedDict):
    """What KEDA does when the metrics cannot be read."""

    failure_threshold: NotRequired[int]
    """Consecutive failed reads before falling back (3 or more). Default: 3."""
    replicas: NotRequired[int | None]
    """Replicas to hold; the current count is kept when higher. Default: max(min_replicas, 1)."""


class ScaleToZeroArgs(TypedDict):
    """Scale to zero, woken by the Istio ingress gateway's request rate to the group's Service."""

    service_name: pulumi.Input[str]
    """The group's Service, as the gateway's metrics name it. Required."""
    gateway_workload: NotRequired[str]
    """Gateway workload name (``source_workload`` label). Default: ``istio-ingressgateway``."""
    gateway_namespace: NotRequired[str]
    """Gateway namespace. Default: ``istio-system``."""
    activation_requests_per_second: NotRequired[float]
    """Gateway requests per second above which the group wakes up. Default: 0 (any request)."""
    cooldown_seconds: NotRequired[int]
    """Idle time before 1 -> 0. Default: 900."""


class TritonAutoscalerArgs(TypedDict):
    """Inputs of ``TritonAutoscaler``."""

    namespace: pulumi.Input[str]
    """Namespace of the Deployment (the ScaledObject lives beside it). Required."""
    instance: str
    """``app.kubernetes.io/instance`` of the Triton release. Required."""
    model_group: str
    """Model group name; selects the group's series by the ``model_group`` label. Required."""
    deployment_name: pulumi.Input[str]
    """The group's stable Deployment. Required."""
    prometheus_url: pulumi.Input[str]
    """Prometheus query endpoint, e.g. ``http://prometheus.monitoring.svc:9090``. Required."""
    min_replicas: NotRequired[int]
    """``minReplicaCount``; 0 needs ``scale_to_zero``. Default: 1."""
    max_replicas: NotRequired[int]
    """``maxReplicaCount``. Default: 3."""
    queue_time_target_ms: NotRequired[float]
    """Average queue time per request the group is scaled to hold. Default: 50."""
    queue_time_activation_ms: NotRequired[float]
    """Queue time above which a group at zero wakes up. Default: 0."""
    query_window_seconds: NotRequired[int]
    """``rate()`` window; at least 4 scrape intervals. Default: 10."""
    pending_requests_per_replica: NotRequired[int | None]
    """Adds a trigger on pending requests per replica. Default: none."""
    gpu_utilization_percent: NotRequired[int | None]
    """Adds a trigger on mean GPU utilization (not on MIG). Default: none."""
    polling_interval_seconds: NotRequired[int]
    """KEDA ``pollingInterval`` (governs 0 <-> 1 and cached metrics). Default: 15."""
    use_cached_metrics: NotRequired[bool]
    """Serve the HPA values cached for up to one polling interval. Default: False."""
    scale_down_stabilization_seconds: NotRequired[int]
    """HPA scale-down stabilization window, at least 300. Default: 300."""
    scale_up: NotRequired[ScaleUpArgs]
    """Scale-up policy. Default: 2 pods per 60 s, no stabilization."""
    fallback: NotRequired[FallbackArgs]
    """Fallback when Prometheus fails. Default: threshold 3, replicas max(min_replicas, 1)."""
    scale_to_zero: NotRequired[ScaleToZeroArgs | None]
    """Allow 0 replicas, woken by the mesh. Default: none (never below ``min_replicas`` >= 1)."""
    wait_for: NotRequired[Sequence[pulumi.Resource]]
    """Resources that install the KEDA CRDs in this stack (the Helm release). Default: none."""


def validate_autoscaler(args: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming the input, the bad value and what is accepted."""
    group = args.get("model_group", "")
    if not _DNS_LABEL.match(group):
        raise ValueError(f"model_group {group!r} must be a DNS label (a-z, 0-9, -)")
    where = f"autoscaler {group!r}"
    low, high = args.get("min_replicas", 1), args.get("max_replicas", 3)
    if low < 0 or high < 1 or low > high:
        raise ValueError(f"{where}: min_replicas {low} and max_replicas {high} need 0 <= min <= max and max >= 1")
    if low == 0 and not args.get("scale_to_zero"):
        raise ValueError(
            f"{where}: min_replicas is 0 but scale_to_zero is not set; a group at zero publishes no Triton "
            "metrics, so it needs scale_to_zero's wake-up signal from the mesh"
        )
    if args.get("scale_to_zero") and low > 0:
        raise ValueError(f"{where}: scale_to_zero is set but min_replicas is {low}; use min_replicas=0 or drop it")
    for key, default in (
        ("queue_time_target_ms", 50.0),
        ("query_window_seconds", 10),
        ("polling_interval_seconds", 15),
    ):
        if args.get(key, default) <= 0:
            raise ValueError(f"{where}: {key} is {args[key]}; use a positive number")
    if args.get("query_window_seconds", 10) < 10:
        raise ValueError(f"{where}: query_window_seconds is {args['query_window_seconds']}; rate() needs 10 or more")
    stabilization = args.get("scale_down_stabilization_seconds", MIN_SCALE_DOWN_STABILIZATION_SECONDS)
    if not MIN_SCALE_DOWN_STABILIZATION_SECONDS <= stabilization <= 3600:
        raise ValueError(
            f"{where}: scale_down_stabilization_seconds is {stabilization}; use 300 to 3600 "
            "(a GPU replica takes minutes to come back)"
        )
    fallback = args.get("fallback", {})
    if fallback.get("failure_threshold", 3) < 3:
        raise ValueError(f"{where}: fallback failure_threshold is {fallback['failure_threshold']}; use 3 or more")
    replicas = _fallback_replicas(args)
    if not max(low, 1) <= replicas <= high:
        raise ValueError(
            f"{where}: fallback replicas is {replicas}; use {max(low, 1)} to {high} (min_replicas to max_replicas)"
        )
    for key in ("pending_requests_per_replica", "gpu_utilization_percent"):
        value = args.get(key)
        if value is not None and value <= 0:
            raise ValueError(f"{where}: {key} is {value}; use a positive number or None")
    if (args.get("gpu_utilization_percent") or 0) > 100:
        raise ValueError(f"{where}: gpu_utilization_percent is {args['gpu_utilization_percent']}; use 1 to 100")


scaled_object_name = _names.scaled_object_name
hpa_name = _names.hpa_name


def _fallback_replicas(args: Mapping[str, Any]) -> int:
    configured = args.get("fallback", {}).get("replicas")
    return int(configured) if configured is not None else max(int(args.get("min_replicas", 1)), 1)


class TritonAutoscaler(pulumi.ComponentResource):
    """KEDA ScaledObject for one model group: queue-time trigger, damped HPA behaviour, safe fallback."""

    scaled_object_name: pulumi.Output[str]
    """Name of the ScaledObject."""
    hpa_name: pulumi.Output[str]
    """Name of the HPA that KEDA creates (alerts watch it)."""

    def __init__(self, name: str, args: TritonAutoscalerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_args(
            "TritonAutoscaler", name, args, TritonAutoscalerArgs
        )  # misspelt keys and wrong types, before anything else
        validate_autoscaler(args)  # before anything is registered: nothing is half-created
        super().__init__("tritonplatform:index:TritonAutoscaler", name, None, opts)
        group = args["model_group"]
        object_name = scaled_object_name(group)
        hpa = hpa_name(group)
        scale_to_zero = args.get("scale_to_zero")
        scale_up = args.get("scale_up", {})
        fallback = args.get("fallback", {})

        triggers = pulumi.Output.all(
            pulumi.Output.from_input(args["namespace"]),
            pulumi.Output.from_input(args["prometheus_url"]),
            pulumi.Output.from_input(scale_to_zero["service_name"] if scale_to_zero else ""),
        ).apply(
            lambda values: _keda_triggers.triggers(
                args, namespace=values[0], prometheus_url=values[1], service=values[2]
            )
        )
        spec: dict[str, Any] = {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": args["deployment_name"]},
            "pollingInterval": args.get("polling_interval_seconds", 15),
            "minReplicaCount": args.get("min_replicas", 1),
            "maxReplicaCount": args.get("max_replicas", 3),
            # A Prometheus outage holds the current count (or more), never scales GPU pods down.
            "fallback": {
                "failureThreshold": fallback.get("failure_threshold", 3),
                "replicas": _fallback_replicas(args),
                "behavior": "currentReplicasIfHigher",
            },
            "advanced": {
                "restoreToOriginalReplicaCount": False,
                "horizontalPodAutoscalerConfig": {
                    "name": hpa,
                    "behavior": {
                        "scaleUp": {
                            "stabilizationWindowSeconds": scale_up.get("stabilization_seconds", 0),
                            "selectPolicy": "Max",
                            "policies": [
                                {
                                    "type": "Pods",
                                    "value": scale_up.get("max_pods", 2),
                                    "periodSeconds": scale_up.get("period_seconds", 60),
                                }
                            ],
                        },
                        "scaleDown": {
                            "stabilizationWindowSeconds": args.get(
                                "scale_down_stabilization_seconds", MIN_SCALE_DOWN_STABILIZATION_SECONDS
                            ),
                            # One GPU replica a minute at most: give back capacity slowly.
                            "selectPolicy": "Max",
                            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                        },
                    },
                },
            },
            "triggers": triggers,
        }
        if scale_to_zero:
            spec["cooldownPeriod"] = scale_to_zero.get("cooldown_seconds", 900)

        scaled_object = k8s.apiextensions.CustomResource(
            f"{name}-scaled-object",
            api_version="keda.sh/v1alpha1",
            kind="ScaledObject",
            metadata={
                "name": object_name,
                "namespace": args["namespace"],
                "labels": _labels.recommended_labels(args["instance"], "autoscaler", model_group=group),
            },
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.get("wait_for", []))),
        )
        self.scaled_object_name = scaled_object.metadata.apply(lambda m: m["name"])
        self.hpa_name = pulumi.Output.from_input(hpa)
        self.register_outputs({"scaled_object_name": self.scaled_object_name, "hpa_name": self.hpa_name})
