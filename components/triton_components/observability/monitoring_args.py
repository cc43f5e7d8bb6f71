"""Inputs of ``TritonMonitoring``, ``TritonAlerts`` and ``TritonDashboard`` (one module: the monitoring's
args nest the alerts' groups and thresholds and the dashboard's placement), their defaults and limits, and
their validation.

Apart from the components so the platform's config models read the same contract without loading the
Kubernetes SDK.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, NotRequired, TypedDict

import pulumi

from ..common.args import Setting, setting_value
from ..common.shared_settings import MODEL_LOAD_TIMEOUT_SECONDS

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
MONITOR_KINDS = ("ServiceMonitor", "PodMonitor")
TLS_MODES = ("none", "istio-certs")
#: The label kube-prometheus-stack's Grafana sidecar loads dashboards by.
DEFAULT_DASHBOARD_LABELS: Mapping[str, str] = {"grafana_dashboard": "1"}


class AlertGroupArgs(TypedDict):
    """One model group as the monitoring sees it."""

    name: str
    """Model group name. Required."""
    models: NotRequired[list[str]]
    """Models the group loads explicitly; each gets a 'not loaded' alert. Default: none."""
    model_load_timeout_seconds: NotRequired[Annotated[int, MODEL_LOAD_TIMEOUT_SECONDS]]
    """The group's model-load budget; 'not ready' waits at least this long. Default: 600."""
    hpa_name: NotRequired[str | None]
    """HPA of the group's autoscaler; adds the 'at maximum' alert. Default: none."""
    scale_to_zero: NotRequired[bool]
    """The group may have no pods; absence alerts then need running replicas. Default: False."""


class AlertThresholdsArgs(TypedDict):
    """When the alerts fire."""

    queue_time_ms: NotRequired[Annotated[float, Setting(200, gt=0)]]
    """Average queue time per request. Default: 200."""
    failure_ratio: NotRequired[Annotated[float, Setting(0.05, gt=0, lt=1)]]
    """Failed over all requests. Default: 0.05."""
    gpu_memory_ratio: NotRequired[Annotated[float, Setting(0.9, gt=0, le=1)]]
    """Used over total GPU memory. Default: 0.9."""
    for_minutes: NotRequired[Annotated[int, Setting(10, ge=1, le=120)]]
    """How long a condition holds before firing. Default: 10."""
    model_not_ready_minutes: NotRequired[Annotated[int, Setting(15, ge=1, le=240)]]
    """How long pods may stay not Ready (never less than the model-load budget). Default: 15."""


class TritonAlertsArgs(TypedDict):
    """Inputs of ``TritonAlerts``."""

    namespace: pulumi.Input[str]
    """Triton's namespace (the rule lives there and its queries select it). Required."""
    instance: str
    """``app.kubernetes.io/instance`` of the Triton release. Required."""
    environment: str
    """Added to every alert as a label. Required."""
    model_groups: list[AlertGroupArgs]
    """Groups to alert on. Required."""
    labels: NotRequired[Mapping[str, str]]
    """Labels the Prometheus selects rules by. Default: none."""
    thresholds: NotRequired[AlertThresholdsArgs]
    """Thresholds. Default: see ``AlertThresholdsArgs``."""
    wake_up_job: NotRequired[str | None]
    """Scrape job of the ingress gateway (scale-to-zero wake-up signal); alerts when it is missing. Default: none."""
    wait_for: NotRequired[Sequence[pulumi.Resource]]
    """Resources that install the PrometheusRule CRD in this stack. Default: none."""


class TritonDashboardArgs(TypedDict):
    """Inputs of ``TritonDashboard``."""

    namespace: pulumi.Input[str]
    """Namespace the Grafana sidecar watches. Required."""
    triton_namespace: pulumi.Input[str]
    """Triton's namespace, selected by every query. Required."""
    instance: str
    """``app.kubernetes.io/instance`` of the Triton release. Required."""
    environment: str
    """Shown in the title and part of the dashboard uid. Required."""
    labels: NotRequired[Mapping[str, str]]
    """The sidecar's label. Default: ``{"grafana_dashboard": "1"}``."""
    wait_for: NotRequired[Sequence[pulumi.Resource]]
    """Resources that create the dashboard's namespace in this stack (the Grafana release). Default: none."""


class DashboardArgs(TypedDict):
    """Where the Grafana sidecar finds the dashboard."""

    namespace: pulumi.Input[str]
    """Namespace the Grafana sidecar watches. Required."""
    labels: NotRequired[Mapping[str, str]]
    """Sidecar label. Default: ``{"grafana_dashboard": "1"}``."""


class GatewayMonitorArgs(TypedDict):
    """Scrape the Istio ingress gateway's Envoy stats: the wake-up signal of groups at zero."""

    namespace: str
    """Gateway namespace. Required."""
    selector: Mapping[str, str]
    """Pod labels of the gateway, e.g. ``{"istio": "ingressgateway"}``. Required."""


class TritonMonitoringArgs(TypedDict):
    """Inputs of ``TritonMonitoring``."""

    namespace: pulumi.Input[str]
    """Triton's namespace; monitors and rules live beside the Services. Required."""
    instance: str
    """``app.kubernetes.io/instance`` of the Triton release. Required."""
    environment: str
    """Written into every series as ``environment``. Required."""
    model_groups: list[AlertGroupArgs]
    """Groups to scrape and alert on. Required."""
    monitor_kind: NotRequired[Annotated[Literal["ServiceMonitor", "PodMonitor"], Setting("ServiceMonitor")]]
    """Scrape through the Service's endpoints or the pods directly. Default: ``ServiceMonitor``."""
    monitor_labels: NotRequired[Mapping[str, str]]
    """Labels the Prometheus selects monitors and rules by. Default: none."""
    scrape_interval_seconds: NotRequired[Annotated[int, Setting(2, ge=1, le=300)]]
    """Scrape interval. Default: 2."""
    tls: NotRequired[Annotated[Literal["none", "istio-certs"], Setting("none")]]
    """``none`` (plain HTTP; the mesh must leave 8002 permissive) or ``istio-certs`` (HTTPS with the
    Istio workload certificate mounted in Prometheus at /etc/prom-certs). Default: ``none``."""
    alerts: NotRequired[AlertThresholdsArgs | None]
    """Alert thresholds; None renders no PrometheusRule. Default: the defaults of ``TritonAlerts``."""
    dashboard: NotRequired[DashboardArgs | None]
    """Grafana dashboard placement; None renders none. Default: none."""
    gateway_monitor: NotRequired[GatewayMonitorArgs | None]
    """Scrape the ingress gateway (needed by scale-to-zero). Default: none."""
    wait_for: NotRequired[Sequence[pulumi.Resource]]
    """Resources that install the Prometheus Operator CRDs (and the dashboard's namespace) in this
    stack, e.g. the kube-prometheus-stack release. Default: none."""


def validate_monitoring(args: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming the input, the bad value and what is accepted (single-key limits, the
    alert thresholds' included, are the keys' Settings)."""
    kind = setting_value(args, TritonMonitoringArgs, "monitor_kind")
    if kind not in MONITOR_KINDS:
        raise ValueError(f"monitor_kind is {kind!r}; use one of {', '.join(MONITOR_KINDS)}")
    tls = setting_value(args, TritonMonitoringArgs, "tls")
    if tls not in TLS_MODES:
        raise ValueError(f"tls is {tls!r}; use one of {', '.join(TLS_MODES)}")
    if tls == "istio-certs" and kind == "PodMonitor":
        raise ValueError(
            "tls 'istio-certs' reads certificate files, which a PodMonitor cannot; use monitor_kind ServiceMonitor"
        )
    if not args.get("model_groups"):
        raise ValueError("model_groups is empty; give at least one group to monitor")
    for group in args["model_groups"]:
        if not _DNS_LABEL.match(group.get("name", "")):
            raise ValueError(f"model group name {group.get('name')!r} must be a DNS label (a-z, 0-9, -)")
    if not re.fullmatch(r"[a-z0-9][-a-z0-9]*", args.get("environment", "")):
        raise ValueError(f"environment {args.get('environment')!r} must be lowercase letters, digits and '-'")
