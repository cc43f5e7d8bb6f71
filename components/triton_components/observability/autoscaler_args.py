"""Inputs of ``TritonAutoscaler`` (``TritonAutoscalerArgs``), their defaults and limits, and their validation.

Apart from the component so the platform's config models read the same contract without loading the
Kubernetes SDK.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, NotRequired, TypedDict

import pulumi

from ..common.args import Setting, setting_value

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
MIN_SCALE_DOWN_STABILIZATION_SECONDS = 300


class ScaleUpArgs(TypedDict):
    """How fast the HPA may add replicas."""

    max_pods: NotRequired[Annotated[int, Setting(2, ge=1, le=100)]]
    """Replicas added at most per period. Default: 2."""
    period_seconds: NotRequired[Annotated[int, Setting(60, ge=15, le=1800)]]
    """Length of that period. Default: 60."""
    stabilization_seconds: NotRequired[Annotated[int, Setting(0, ge=0, le=3600)]]
    """Scale-up stabilization window. Default: 0 (react at once)."""


class FallbackArgs(TypedDict):
    """What KEDA does when the metrics cannot be read."""

    failure_threshold: NotRequired[Annotated[int, Setting(3, ge=3, le=100)]]
    """Consecutive failed reads before falling back (3 or more). Default: 3."""
    replicas: NotRequired[Annotated[int | None, Setting(None, ge=1, le=100)]]
    """Replicas to hold; the current count is kept when higher. Default: max(min_replicas, 1)."""


class ScaleToZeroArgs(TypedDict):
    """Scale to zero, woken by the Istio ingress gateway's request rate to the group's Service."""

    service_name: pulumi.Input[str]
    """The group's Service, as the gateway's metrics name it. Required."""
    gateway_workload: NotRequired[Annotated[str, Setting("istio-ingressgateway")]]
    """Gateway workload name (``source_workload`` label). Default: ``istio-ingressgateway``."""
    gateway_namespace: NotRequired[Annotated[str, Setting("istio-system")]]
    """Gateway namespace. Default: ``istio-system``."""
    activation_requests_per_second: NotRequired[Annotated[float, Setting(0.0, ge=0)]]
    """Gateway requests per second above which the group wakes up. Default: 0 (any request)."""
    cooldown_seconds: NotRequired[Annotated[int, Setting(900, ge=60, le=86400)]]
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
    min_replicas: NotRequired[Annotated[int, Setting(1, ge=0, le=100)]]
    """``minReplicaCount``; 0 needs ``scale_to_zero``. Default: 1."""
    max_replicas: NotRequired[Annotated[int, Setting(3, ge=1, le=100)]]
    """``maxReplicaCount``. Default: 3."""
    queue_time_target_ms: NotRequired[Annotated[float, Setting(50.0, gt=0, le=60000)]]
    """Average queue time per request the group is scaled to hold. Default: 50."""
    queue_time_activation_ms: NotRequired[Annotated[float, Setting(0.0, ge=0, le=60000)]]
    """Queue time above which a group at zero wakes up. Default: 0."""
    query_window_seconds: NotRequired[Annotated[int, Setting(10, ge=10, le=600)]]
    """``rate()`` window; at least 4 scrape intervals. Default: 10."""
    pending_requests_per_replica: NotRequired[Annotated[int | None, Setting(None, ge=1, le=100000)]]
    """Adds a trigger on pending requests per replica. Default: none."""
    gpu_utilization_percent: NotRequired[Annotated[int | None, Setting(None, ge=1, le=100)]]
    """Adds a trigger on mean GPU utilization (not on MIG). Default: none."""
    polling_interval_seconds: NotRequired[Annotated[int, Setting(15, ge=5, le=300)]]
    """KEDA ``pollingInterval`` (governs 0 <-> 1 and cached metrics). Default: 15."""
    use_cached_metrics: NotRequired[Annotated[bool, Setting(False)]]
    """Serve the HPA values cached for up to one polling interval. Default: False."""
    scale_down_stabilization_seconds: NotRequired[
        Annotated[int, Setting(MIN_SCALE_DOWN_STABILIZATION_SECONDS, ge=MIN_SCALE_DOWN_STABILIZATION_SECONDS, le=3600)]
    ]
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
    low, high = (
        setting_value(args, TritonAutoscalerArgs, "min_replicas"),
        setting_value(args, TritonAutoscalerArgs, "max_replicas"),
    )
    if low > high:
        raise ValueError(f"{where}: min_replicas {low} is above max_replicas {high}")
    if low == 0 and not args.get("scale_to_zero"):
        raise ValueError(
            f"{where}: min_replicas is 0 but scale_to_zero is not set; a group at zero publishes no Triton "
            "metrics, so it needs scale_to_zero's wake-up signal from the mesh"
        )
    if args.get("scale_to_zero") and low > 0:
        raise ValueError(f"{where}: scale_to_zero is set but min_replicas is {low}; use min_replicas=0 or drop it")
    # Single-key limits (targets, windows, intervals, stabilization, thresholds) are the keys' Settings,
    # which check_args enforced first; what is left relates several keys.
    replicas = fallback_replicas(args)
    if not max(low, 1) <= replicas <= high:
        raise ValueError(
            f"{where}: fallback replicas is {replicas}; use {max(low, 1)} to {high} (min_replicas to max_replicas)"
        )


def fallback_replicas(args: Mapping[str, Any]) -> int:
    configured = args.get("fallback", {}).get("replicas")
    return (
        int(configured)
        if configured is not None
        else max(int(setting_value(args, TritonAutoscalerArgs, "min_replicas")), 1)
    )
