"""Observability: Prometheus monitors, alert rules, the Grafana dashboard, KEDA autoscaling on
Triton's metrics, and the pinned KEDA / kube-prometheus-stack add-ons."""

from .alertmanager_config import AlertReceiverArgs
from .autoscaler_args import FallbackArgs, ScaleToZeroArgs, ScaleUpArgs, TritonAutoscalerArgs
from .monitoring_addons import MonitoringAddons
from .monitoring_addons_args import KedaAddonArgs, MonitoringAddonsArgs, PrometheusStackArgs
from .monitoring_args import (
    AlertGroupArgs,
    AlertThresholdsArgs,
    DashboardArgs,
    GatewayMonitorArgs,
    TritonAlertsArgs,
    TritonDashboardArgs,
    TritonMonitoringArgs,
)
from .triton_alerts import TritonAlerts
from .triton_autoscaler import TritonAutoscaler
from .triton_dashboard import TritonDashboard
from .triton_monitoring import TritonMonitoring

__all__ = [
    "AlertGroupArgs",
    "AlertReceiverArgs",
    "AlertThresholdsArgs",
    "DashboardArgs",
    "FallbackArgs",
    "GatewayMonitorArgs",
    "KedaAddonArgs",
    "MonitoringAddons",
    "MonitoringAddonsArgs",
    "PrometheusStackArgs",
    "ScaleToZeroArgs",
    "ScaleUpArgs",
    "TritonAlerts",
    "TritonAlertsArgs",
    "TritonAutoscaler",
    "TritonAutoscalerArgs",
    "TritonDashboard",
    "TritonDashboardArgs",
    "TritonMonitoring",
    "TritonMonitoringArgs",
]
