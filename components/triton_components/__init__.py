"""Reusable Pulumi components for running NVIDIA Triton Inference Server on Kubernetes.

Cloud-neutral components are importable from here. Cloud-specific ones live in
``triton_components.gcp`` and ``triton_components.aws`` and are imported only by the
programs that use them, so a GCP program never loads the AWS SDK and vice versa.
"""

from .triton_model_group import (
    CanaryArgs,
    CredentialsSecretArgs,
    ModelGroupArgs,
    TritonModelGroup,
    TritonModelGroupArgs,
)
from .triton_server import CredentialsFileArgs, TritonServer, TritonServerArgs
from .istio_install import IstioInstallation, IstioInstallationArgs
from .mesh_security import JwtArgs, MeshSecurity, MeshSecurityArgs
from .triton_routing import (
    CanaryRouteArgs,
    GatewayTlsArgs,
    OutlierDetectionArgs,
    RetryArgs,
    RouteGroupArgs,
    TritonRouting,
    TritonRoutingArgs,
)
from .monitoring_addons import KedaAddonArgs, MonitoringAddons, MonitoringAddonsArgs, PrometheusStackArgs
from .triton_alerts import AlertGroupArgs, AlertThresholdsArgs, TritonAlerts, TritonAlertsArgs
from .triton_autoscaler import FallbackArgs, ScaleToZeroArgs, ScaleUpArgs, TritonAutoscaler, TritonAutoscalerArgs
from .triton_dashboard import TritonDashboard, TritonDashboardArgs
from .triton_monitoring import DashboardArgs, GatewayMonitorArgs, TritonMonitoring, TritonMonitoringArgs

__all__ = [
    "CanaryArgs",
    "CredentialsFileArgs",
    "CredentialsSecretArgs",
    "ModelGroupArgs",
    "TritonModelGroup",
    "TritonModelGroupArgs",
    "TritonServer",
    "TritonServerArgs",
    "CanaryRouteArgs",
    "GatewayTlsArgs",
    "IstioInstallation",
    "IstioInstallationArgs",
    "JwtArgs",
    "MeshSecurity",
    "MeshSecurityArgs",
    "OutlierDetectionArgs",
    "RetryArgs",
    "RouteGroupArgs",
    "TritonRouting",
    "TritonRoutingArgs",
    "AlertGroupArgs",
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
