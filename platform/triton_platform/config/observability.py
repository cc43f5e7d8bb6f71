"""Settings for KEDA autoscaling and Prometheus monitoring (``triton-platform:observability`` and
``modelGroups[].autoscaling``), and the rules that relate them to the rest of the stack."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from triton_components.observability.alertmanager_config import AlertReceiverKind

from .base import Model
Namespace = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)]
#: Prometheus needs at least two samples inside a rate() window; four keeps one lost scrape harmless.
SAMPLES_PER_WINDOW = 4
MIN_SCALE_DOWN_STABILIZATION_SECONDS = 300
#: Helm release (and object-name prefix) of the kube-prometheus-stack this platform installs.
PROMETHEUS_STACK_RELEASE = "kube-prometheus-stack"


class ScaleUpSettings(Model):
    max_pods: Annotated[int, Field(ge=1, le=100)] = 2
    period_seconds: Annotated[int, Field(ge=15, le=1800)] = 60
    stabilization_seconds: Annotated[int, Field(ge=0, le=3600)] = 0


class FallbackSettings(Model):
    failure_threshold: Annotated[int, Field(ge=3, le=100)] = 3
    #: Default: max(minReplicas, 1). The current count is kept when it is higher.
    replicas: Annotated[int, Field(ge=1, le=100)] | None = None


class ScaleToZeroSettings(Model):
    enabled: bool = False
    #: ``source_workload`` of the Istio ingress gateway (its Deployment name).
    gateway_workload: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")] = "istio-ingressgateway"
    activation_requests_per_second: Annotated[float, Field(ge=0)] = 0
    cooldown_seconds: Annotated[int, Field(ge=60, le=86400)] = 900


class AutoscalingSettings(Model):
    min_replicas: Annotated[int, Field(ge=0, le=100)] = 1
    max_replicas: Annotated[int, Field(ge=1, le=100)] = 3
    queue_time_target_milliseconds: Annotated[float, Field(gt=0, le=60000)] = 50
    queue_time_activation_milliseconds: Annotated[float, Field(ge=0, le=60000)] = 0
    #: 10 s (the least allowed) with a 2 s scrape: a 2x load step crosses the target about 5 s after the step
    #: (benchmarks/lab_reaction_time.py measures it on the real Triton and Prometheus). 30 s took 15 s.
    query_window_seconds: Annotated[int, Field(ge=10, le=600)] = 10
    pending_requests_per_replica: Annotated[int, Field(ge=1, le=100000)] | None = None
    gpu_utilization_percent: Annotated[int, Field(ge=1, le=100)] | None = None
    polling_interval_seconds: Annotated[int, Field(ge=5, le=300)] = 15
    use_cached_metrics: bool = False
    scale_down_stabilization_seconds: Annotated[int, Field(ge=0, le=3600)] = MIN_SCALE_DOWN_STABILIZATION_SECONDS
    scale_up: ScaleUpSettings = ScaleUpSettings()
    fallback: FallbackSettings = FallbackSettings()
    scale_to_zero: ScaleToZeroSettings = ScaleToZeroSettings()

    @property
    def fallback_replicas(self) -> int:
        return self.fallback.replicas if self.fallback.replicas is not None else max(self.min_replicas, 1)


class AddonSettings(Model):
    keda: bool = False
    prometheus_stack: bool = False
    keda_namespace: Namespace = "keda"
    monitoring_namespace: Namespace = "monitoring"
    grafana: bool = True
    alertmanager: bool = True
    node_exporter: bool = False
    prometheus_retention: Annotated[str, Field(pattern=r"^[0-9]+(h|d|w)$")] = "2d"


class PrometheusSettings(Model):
    #: Query URL KEDA uses. Default: the installed stack's Service when addons.prometheusStack is true.
    url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/\S*)?$")] | None = None
    #: Labels on every monitor and rule, so an existing Prometheus selects them.
    selector_labels: dict[str, str] = Field(default_factory=lambda: {"release": PROMETHEUS_STACK_RELEASE})


class ScrapeSettings(Model):
    kind: Literal["ServiceMonitor", "PodMonitor"] = "ServiceMonitor"
    #: 2 s: detection of a load step is scrape interval + window / overload; see AutoscalingSettings.query_window_seconds.
    interval_seconds: Annotated[int, Field(ge=1, le=300)] = 2
    #: none: plain HTTP (the mesh leaves port 8002 permissive); istio-certs: Prometheus presents Istio's certificate.
    tls: Literal["none", "istio-certs"] = "none"


class AlertReceiverSettings(Model):
    """``alerts.receiver``: the args of ``AlertReceiverArgs`` (defaults and meaning there), in camelCase.
    Its credential is the secret config key ``alertReceiverSecret``, never a field here."""

    kind: AlertReceiverKind
    slack_channel: Annotated[str, Field(min_length=1)] | None = None
    email_to: str | None = None
    email_from: str | None = None
    email_smarthost: str | None = None
    email_auth_username: Annotated[str, Field(min_length=1)] | None = None


class AlertSettings(Model):
    enabled: bool = True
    #: Where Alertmanager sends alerts. Default: nowhere (the chart's null receiver); required in prod.
    receiver: AlertReceiverSettings | None = None
    queue_time_milliseconds: Annotated[float, Field(gt=0)] = 200
    failure_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.05
    gpu_memory_ratio: Annotated[float, Field(gt=0, le=1)] = 0.9
    for_minutes: Annotated[int, Field(ge=1, le=120)] = 10
    model_not_ready_minutes: Annotated[int, Field(ge=1, le=240)] = 15


class DashboardSettings(Model):
    enabled: bool = True
    #: Namespace the Grafana sidecar watches. Default: addons.monitoringNamespace.
    namespace: Namespace | None = None


class ObservabilitySettings(Model):
    enabled: bool = False
    addons: AddonSettings = AddonSettings()
    prometheus: PrometheusSettings = PrometheusSettings()
    scrape: ScrapeSettings = ScrapeSettings()
    alerts: AlertSettings = AlertSettings()
    dashboard: DashboardSettings = DashboardSettings()

    @property
    def prometheus_url(self) -> str | None:
        if self.prometheus.url is not None:
            return self.prometheus.url
        if self.addons.prometheus_stack:
            namespace = self.addons.monitoring_namespace
            return f"http://{PROMETHEUS_STACK_RELEASE}-prometheus.{namespace}.svc.cluster.local:9090"
        return None
