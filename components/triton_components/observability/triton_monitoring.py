"""``TritonMonitoring``: scrape every model group's metrics port, alert on it, chart it.

One ServiceMonitor (or PodMonitor) per model group on port ``metrics`` (8002, ``/metrics``), with
relabelings that write ``environment``, ``model_group`` and ``track`` (stable/canary) into every
series; a ``TritonAlerts`` PrometheusRule and a ``TritonDashboard`` ConfigMap as children.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from ..common import labels as _labels
from ..common import names as _names
from ..common.args import check_args
from . import promql as _promql
from .triton_alerts import AlertGroupArgs, AlertThresholdsArgs, TritonAlerts, validate_alerts
from .triton_dashboard import TritonDashboard

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
MONITOR_KINDS = ("ServiceMonitor", "PodMonitor")
TLS_MODES = ("none", "istio-certs")
#: Where Istio's documented "Prometheus with Istio certificates" setup mounts the workload certificate.
ISTIO_CERTS_DIR = "/etc/prom-certs"


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
    monitor_kind: NotRequired[Literal["ServiceMonitor", "PodMonitor"]]
    """Scrape through the Service's endpoints or the pods directly. Default: ``ServiceMonitor``."""
    monitor_labels: NotRequired[Mapping[str, str]]
    """Labels the Prometheus selects monitors and rules by. Default: none."""
    scrape_interval_seconds: NotRequired[int]
    """Scrape interval. Default: 2."""
    tls: NotRequired[Literal["none", "istio-certs"]]
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
    """Raise ``ValueError`` naming the input, the bad value and what is accepted."""
    kind = args.get("monitor_kind", "ServiceMonitor")
    if kind not in MONITOR_KINDS:
        raise ValueError(f"monitor_kind is {kind!r}; use one of {', '.join(MONITOR_KINDS)}")
    tls = args.get("tls", "none")
    if tls not in TLS_MODES:
        raise ValueError(f"tls is {tls!r}; use one of {', '.join(TLS_MODES)}")
    if tls == "istio-certs" and kind == "PodMonitor":
        raise ValueError(
            "tls 'istio-certs' reads certificate files, which a PodMonitor cannot; use monitor_kind ServiceMonitor"
        )
    interval = args.get("scrape_interval_seconds", 2)
    if not 1 <= interval <= 300:
        raise ValueError(f"scrape_interval_seconds is {interval}; use 1 to 300")
    if not args.get("model_groups"):
        raise ValueError("model_groups is empty; give at least one group to monitor")
    for group in args["model_groups"]:
        if not _DNS_LABEL.match(group.get("name", "")):
            raise ValueError(f"model group name {group.get('name')!r} must be a DNS label (a-z, 0-9, -)")
    if not re.fullmatch(r"[a-z0-9][-a-z0-9]*", args.get("environment", "")):
        raise ValueError(f"environment {args.get('environment')!r} must be lowercase letters, digits and '-'")
    if args.get("alerts", {}) is not None:
        validate_alerts({"thresholds": args.get("alerts", {})})


def relabelings(environment: str) -> list[dict[str, Any]]:
    """Target labels every Triton series carries: environment, model group and track."""
    pod_label = "__meta_kubernetes_pod_label_"
    return [
        {"action": "replace", "targetLabel": _promql.ENVIRONMENT_LABEL, "replacement": environment},
        {
            "action": "replace",
            "sourceLabels": [pod_label + re.sub(r"[^a-zA-Z0-9_]", "_", _labels.MODEL_GROUP_LABEL)],
            "targetLabel": _promql.MODEL_GROUP_LABEL,
        },
        {
            "action": "replace",
            "sourceLabels": [pod_label + re.sub(r"[^a-zA-Z0-9_]", "_", _labels.TRACK_LABEL)],
            "targetLabel": _promql.TRACK_LABEL,
        },
    ]


class TritonMonitoring(pulumi.ComponentResource):
    """Monitors per model group, plus alert rules and a dashboard."""

    monitor_names: pulumi.Output[dict[str, str]]
    """Monitor name per model group."""

    def __init__(self, name: str, args: TritonMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_args(
            "TritonMonitoring", name, args, TritonMonitoringArgs
        )  # misspelt keys and wrong types, before anything else
        validate_monitoring(args)  # before anything is registered: nothing is half-created
        super().__init__("tritonplatform:index:TritonMonitoring", name, None, opts)
        wait_for = list(args.get("wait_for", []))
        child = pulumi.ResourceOptions(parent=self, depends_on=wait_for)
        kind = args.get("monitor_kind", "ServiceMonitor")
        interval = args.get("scrape_interval_seconds", 2)
        monitor_labels = dict(args.get("monitor_labels", {}))

        monitors = {}
        for group in args["model_groups"]:
            endpoint: dict[str, Any] = {
                "port": "metrics",
                "path": "/metrics",
                "interval": f"{interval}s",
                # Prometheus refuses a timeout longer than the interval.
                "scrapeTimeout": f"{min(interval, 10)}s",
                "relabelings": relabelings(args["environment"]),
            }
            if args.get("tls", "none") == "istio-certs":
                # Istio's recipe: the sidecar in the Prometheus pod writes its workload certificate to a
                # shared volume; the server name is a SPIFFE identity Prometheus cannot verify by name.
                endpoint["scheme"] = "https"
                endpoint["tlsConfig"] = {
                    "caFile": f"{ISTIO_CERTS_DIR}/root-cert.pem",
                    "certFile": f"{ISTIO_CERTS_DIR}/cert-chain.pem",
                    "keyFile": f"{ISTIO_CERTS_DIR}/key.pem",
                    "insecureSkipVerify": True,
                }
            spec: dict[str, Any] = {
                "selector": {"matchLabels": _labels.selector_labels(args["instance"], group["name"])},
                "namespaceSelector": {"matchNames": [args["namespace"]]},
            }
            spec["endpoints" if kind == "ServiceMonitor" else "podMetricsEndpoints"] = [endpoint]
            monitors[group["name"]] = k8s.apiextensions.CustomResource(
                f"{name}-{group['name']}-monitor",
                api_version="monitoring.coreos.com/v1",
                kind=kind,
                metadata={
                    "name": _names.group_object_name(group["name"]),
                    "namespace": args["namespace"],
                    "labels": {
                        **_labels.recommended_labels(args["instance"], "monitoring", model_group=group["name"]),
                        **monitor_labels,
                    },
                },
                spec=spec,
                opts=child,
            )

        gateway = args.get("gateway_monitor")
        if gateway:
            k8s.apiextensions.CustomResource(
                f"{name}-gateway-monitor",
                api_version="monitoring.coreos.com/v1",
                kind="PodMonitor",
                metadata={
                    "name": f"{args['instance']}-wake-up-gateway",
                    "namespace": gateway["namespace"],
                    "labels": {**_labels.recommended_labels(args["instance"], "monitoring"), **monitor_labels},
                },
                spec={
                    "selector": {"matchLabels": dict(gateway["selector"])},
                    # Envoy's own Prometheus endpoint on every Istio proxy (container port http-envoy-prom).
                    "podMetricsEndpoints": [
                        {"port": "http-envoy-prom", "path": "/stats/prometheus", "interval": f"{interval}s"}
                    ],
                },
                opts=child,
            )

        alerts: AlertThresholdsArgs | None = args.get("alerts", AlertThresholdsArgs())
        if alerts is not None:
            TritonAlerts(
                f"{name}-alerts",
                {
                    "namespace": args["namespace"],
                    "instance": args["instance"],
                    "environment": args["environment"],
                    "model_groups": args["model_groups"],
                    "labels": monitor_labels,
                    "thresholds": alerts,
                    "wake_up_job": f"{gateway['namespace']}/{args['instance']}-wake-up-gateway" if gateway else None,
                    "wait_for": wait_for,
                },
                opts=pulumi.ResourceOptions(parent=self),
            )
        dashboard = args.get("dashboard")
        if dashboard is not None:
            TritonDashboard(
                f"{name}-dashboard",
                {
                    "namespace": dashboard["namespace"],
                    "triton_namespace": args["namespace"],
                    "instance": args["instance"],
                    "environment": args["environment"],
                    "labels": dict(dashboard.get("labels", {"grafana_dashboard": "1"})),
                    "wait_for": wait_for,
                },
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.monitor_names = pulumi.Output.from_input(
            {group: monitor.metadata.apply(lambda m: m["name"]) for group, monitor in monitors.items()}
        )
        self.register_outputs({"monitor_names": self.monitor_names})
