"""Observability: Prometheus monitors, alert rules, the Grafana dashboard, KEDA autoscaling on
Triton's metrics, and the pinned KEDA / kube-prometheus-stack add-ons."""

from .alertmanager_config import AlertReceiverArgs
from .autoscaler_args import FallbackArgs, ScaleToZeroArgs, ScaleUpArgs, TritonAutoscalerArgs
from .monitoring_addons import MonitoringAddons
from .monitoring_addons_args import KedaAddonArgs, MonitoringAddonsArgs, PrometheusStackArgs
from .triton_alerts import AlertGroupArgs, AlertThresholdsArgs, TritonAlerts, TritonAlertsArgs
from .triton_autoscaler import TritonAutoscaler
from .triton_dashboard import TritonDashboard, TritonDashboardArgs
from .triton_monitoring import DashboardArgs, GatewayMonitorArgs, TritonMonitoring, TritonMonitoringArgs

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
