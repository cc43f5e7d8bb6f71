"""``TritonMonitoring``: scrape every model group's metrics port, alert on it, chart it.

One ServiceMonitor (or PodMonitor) per model group on port ``metrics`` (8002, ``/metrics``), with
relabelings that write ``environment``, ``model_group`` and ``track`` (stable/canary) into every
series; a ``TritonAlerts`` PrometheusRule and a ``TritonDashboard`` ConfigMap as children.
"""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..common import labels as _labels
from ..common import names as _names
from ..common.args import check_args, setting_value
from . import promql as _promql
from .monitoring_args import DEFAULT_DASHBOARD_LABELS, AlertThresholdsArgs, TritonMonitoringArgs, validate_monitoring

# The nested args keep their import path from this module.
from .monitoring_args import AlertGroupArgs as AlertGroupArgs
from .monitoring_args import DashboardArgs as DashboardArgs
from .monitoring_args import GatewayMonitorArgs as GatewayMonitorArgs
from .triton_alerts import TritonAlerts
from .triton_dashboard import TritonDashboard

#: Where Istio's documented "Prometheus with Istio certificates" setup mounts the workload certificate.
ISTIO_CERTS_DIR = "/etc/prom-certs"


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
        kind = setting_value(args, TritonMonitoringArgs, "monitor_kind")
        interval = setting_value(args, TritonMonitoringArgs, "scrape_interval_seconds")
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
            if setting_value(args, TritonMonitoringArgs, "tls") == "istio-certs":
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
                    "labels": dict(dashboard.get("labels", DEFAULT_DASHBOARD_LABELS)),
                    "wait_for": wait_for,
                },
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.monitor_names = pulumi.Output.from_input(
            {group: monitor.metadata.apply(lambda m: m["name"]) for group, monitor in monitors.items()}
        )
        self.register_outputs({"monitor_names": self.monitor_names})
