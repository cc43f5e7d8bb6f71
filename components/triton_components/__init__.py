"""Reusable Pulumi components for running NVIDIA Triton Inference Server on Kubernetes.

The package is grouped by concern:

* ``serving``: ``TritonServer`` and one ``TritonModelGroup`` per group of models (Deployment,
  Service, PDB), with the hardened pod template, and ``TritonEgressPolicy`` for its namespace;
* ``mesh``: Istio installation, routing (gateway, ``/triton`` rewrite, canary split) and security;
* ``observability``: monitors, alerts, dashboard, KEDA autoscaling and their add-ons;
* ``gcp`` and ``aws``: each cloud's GPU nodes, model bucket and reader identity, imported only by
  the programs that use them, so a GCP program never loads the AWS SDK and vice versa;
* ``common``: labels, ports, quantities, pinned versions and the GPU taint contract.

Every name in ``__all__`` below (and in ``gcp.__all__`` / ``aws.__all__``) is the public API and is
importable from here; module paths inside the subpackages are internal and may move.
"""

from .mesh import (
    CanaryRouteArgs,
    GatewayTlsArgs,
    IstioInstallation,
    IstioInstallationArgs,
    JwtArgs,
    MeshSecurity,
    MeshSecurityArgs,
    OutlierDetectionArgs,
    RetryArgs,
    RouteGroupArgs,
    TritonRouting,
    TritonRoutingArgs,
)
from .observability import (
    AlertGroupArgs,
    AlertThresholdsArgs,
    DashboardArgs,
    FallbackArgs,
    GatewayMonitorArgs,
    KedaAddonArgs,
    MonitoringAddons,
    MonitoringAddonsArgs,
    PrometheusStackArgs,
    ScaleToZeroArgs,
    ScaleUpArgs,
    TritonAlerts,
    TritonAlertsArgs,
    TritonAutoscaler,
    TritonAutoscalerArgs,
    TritonDashboard,
    TritonDashboardArgs,
    TritonMonitoring,
    TritonMonitoringArgs,
)
from .serving import (
    CanaryArgs,
    CredentialsFileArgs,
    CredentialsSecretArgs,
    ModelGroupArgs,
    NodeEndpointArgs,
    TritonEgressPolicy,
    TritonEgressPolicyArgs,
    TritonModelGroup,
    TritonModelGroupArgs,
    TritonServer,
    TritonServerArgs,
)

__all__ = [
    "CanaryArgs",
    "CredentialsFileArgs",
    "CredentialsSecretArgs",
    "ModelGroupArgs",
    "NodeEndpointArgs",
    "TritonEgressPolicy",
    "TritonEgressPolicyArgs",
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
