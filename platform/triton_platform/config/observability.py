"""Settings for KEDA autoscaling and Prometheus monitoring (``triton-platform:observability`` and
``modelGroups[].autoscaling``), and the rules that relate them to the rest of the stack."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from triton_components.common import versions
from triton_components.observability.alertmanager_config import AlertReceiverArgs, AlertReceiverKind
from triton_components.observability.autoscaler_args import (
    FallbackArgs,
    ScaleToZeroArgs,
    ScaleUpArgs,
    TritonAutoscalerArgs,
)
from triton_components.observability.monitoring_args import AlertThresholdsArgs, TritonMonitoringArgs

from .base import Model
from .field_docs import contract_field, from_contract

Namespace = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)]
#: Prometheus needs at least two samples inside a rate() window; four keeps one lost scrape harmless.
SAMPLES_PER_WINDOW = 4
#: Helm release (and object-name prefix) of the kube-prometheus-stack this platform installs.
PROMETHEUS_STACK_RELEASE = "kube-prometheus-stack"


class ScaleUpSettings(Model):
    """The HPA's scale-up policy."""

    max_pods: int = contract_field(ScaleUpArgs, "max_pods", doc=False)
    """Pods added at most per period."""
    period_seconds: int = contract_field(ScaleUpArgs, "period_seconds", doc=False)
    """Length of that period."""
    stabilization_seconds: int = contract_field(ScaleUpArgs, "stabilization_seconds", doc=False)
    """Scale-up stabilization window."""


class FallbackSettings(Model):
    """What the autoscaler does while Prometheus cannot be queried."""

    failure_threshold: int = contract_field(FallbackArgs, "failure_threshold", doc=False)
    """Failed queries in a row before the fallback applies."""
    replicas: int | None = contract_field(FallbackArgs, "replicas", doc=False)
    """Replicas during the fallback; the current count is kept when it is higher. Unset: ``max(minReplicas, 1)``."""


class ScaleToZeroSettings(Model):
    """Scale the group to no pods when it gets no requests (needs ``minReplicas: 0`` and ``mesh.enabled``;
    not in prod)."""

    enabled: bool = False
    """Scale to zero; the gateway's request rate wakes the group."""
    gateway_workload: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")] = contract_field(
        ScaleToZeroArgs, "gateway_workload", doc=False
    )
    """``source_workload`` of the Istio ingress gateway (its Deployment name), whose request rate counts."""
    activation_requests_per_second: float = contract_field(ScaleToZeroArgs, "activation_requests_per_second", doc=False)
    """Requests per second above which the group wakes from zero."""
    cooldown_seconds: int = contract_field(ScaleToZeroArgs, "cooldown_seconds", doc=False)
    """Time without requests before the group scales to zero."""


class AutoscalingSettings(Model):
    min_replicas: int = contract_field(TritonAutoscalerArgs, "min_replicas", doc=False)
    """Fewest replicas; prod needs 2 or more."""
    max_replicas: int = contract_field(TritonAutoscalerArgs, "max_replicas", doc=False)
    """Most replicas; must fit the GPU nodes."""
    queue_time_target_milliseconds: float = contract_field(TritonAutoscalerArgs, "queue_time_target_ms", doc=False)
    """Target average queue time per request."""
    queue_time_activation_milliseconds: float = contract_field(
        TritonAutoscalerArgs, "queue_time_activation_ms", doc=False
    )
    """Queue time above which the trigger is active (KEDA's activation threshold)."""
    # 10 s (the least allowed) with a 2 s scrape: a 2x load step crosses the target about 5 s after the step
    # (benchmarks/lab_reaction_time.py measures it on the real Triton and Prometheus). 30 s took 15 s.
    query_window_seconds: int = contract_field(TritonAutoscalerArgs, "query_window_seconds", doc=False)
    """``rate()`` window of the queries; at least 4 scrape intervals."""
    pending_requests_per_replica: int | None = contract_field(
        TritonAutoscalerArgs, "pending_requests_per_replica", doc=False
    )
    """Extra trigger: pending requests per replica. Unset: off."""
    gpu_utilization_percent: int | None = contract_field(TritonAutoscalerArgs, "gpu_utilization_percent", doc=False)
    """Extra trigger: GPU utilization (not on MIG). Unset: off."""
    polling_interval_seconds: int = contract_field(TritonAutoscalerArgs, "polling_interval_seconds", doc=False)
    """How often KEDA queries Prometheus."""
    use_cached_metrics: bool = contract_field(TritonAutoscalerArgs, "use_cached_metrics", doc=False)
    """KEDA metric caching."""
    scale_down_stabilization_seconds: int = contract_field(
        TritonAutoscalerArgs, "scale_down_stabilization_seconds", doc=False
    )
    """Scale-down stabilization window; at least 300 (GPU replicas are slow to come back)."""
    scale_up: ScaleUpSettings = ScaleUpSettings()
    """The HPA's scale-up policy."""
    fallback: FallbackSettings = FallbackSettings()
    """What happens while Prometheus cannot be queried."""
    scale_to_zero: ScaleToZeroSettings = ScaleToZeroSettings()
    """Scale the group to no pods while it gets no requests; needs ``minReplicas: 0`` and ``mesh.enabled``,
    not in prod."""

    @property
    def fallback_replicas(self) -> int:
        return self.fallback.replicas if self.fallback.replicas is not None else max(self.min_replicas, 1)


class AddonSettings(Model):
    """Add-ons this stack installs from their pinned Helm charts (``versions.py``)."""

    keda: bool = Field(
        default=False,
        description=f"Install KEDA {versions.KEDA_CHART_VERSION}. Without it, autoscaling needs the cluster's KEDA "
        f"{'.'.join(map(str, versions.KEDA_MINIMUM_VERSION))} or later (checked at preview).",
    )
    prometheus_stack: bool = Field(
        default=False, description=f"Install kube-prometheus-stack {versions.KUBE_PROMETHEUS_STACK_CHART_VERSION}."
    )
    keda_namespace: Namespace = "keda"
    """Namespace of the KEDA add-on."""
    monitoring_namespace: Namespace = "monitoring"
    """Namespace of the kube-prometheus-stack add-on."""
    grafana: bool = True
    """Grafana, part of the kube-prometheus-stack add-on."""
    alertmanager: bool = True
    """Alertmanager, part of the kube-prometheus-stack add-on."""
    node_exporter: bool = False
    """Node exporter, part of the kube-prometheus-stack add-on."""
    prometheus_retention: Annotated[str, Field(pattern=r"^[0-9]+(h|d|w)$")] = "2d"
    """Prometheus retention (``12h``, ``2d``, ``1w``)."""


class PrometheusSettings(Model):
    """The Prometheus KEDA queries and that selects the monitors and rules."""

    url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/\S*)?$")] | None = None
    """Query URL KEDA uses; required for autoscaling without ``addons.prometheusStack``. Unset: the add-on's
    Service."""
    selector_labels: dict[str, str] = Field(default_factory=lambda: {"release": PROMETHEUS_STACK_RELEASE})
    """Labels on every monitor and rule, so an existing Prometheus selects them."""


class ScrapeSettings(Model):
    """Scraping of Triton's metrics (port 8002, ``/metrics``)."""

    kind: Literal["ServiceMonitor", "PodMonitor"] = contract_field(TritonMonitoringArgs, "monitor_kind", doc=False)
    """Kind of monitor declared."""
    # 2 s: detection of a load step is scrape interval + window / overload; see AutoscalingSettings.query_window_seconds.
    interval_seconds: int = contract_field(TritonMonitoringArgs, "scrape_interval_seconds", doc=False)
    """Scrape interval."""
    tls: Literal["none", "istio-certs"] = contract_field(TritonMonitoringArgs, "tls", doc=False)
    """``none``: plain HTTP (the mesh leaves port 8002 permissive); ``istio-certs``: Prometheus presents
    Istio's certificate."""


class AlertReceiverSettings(Model):
    """``alerts.receiver``: the args of ``AlertReceiverArgs`` (defaults and meaning there), in camelCase.
    Its credential is the secret config key ``alertReceiverSecret``, never a field here."""

    kind: Annotated[
        AlertReceiverKind,
        Field(
            description="Where Alertmanager sends every alert; its credential is "
            "the secret key ``alertReceiverSecret``."
        ),
    ]
    slack_channel: Annotated[
        Annotated[str, Field(min_length=1)] | None, from_contract(AlertReceiverArgs, "slack_channel", unset=True)
    ] = None
    email_to: Annotated[str | None, from_contract(AlertReceiverArgs, "email_to")] = None
    email_from: Annotated[str | None, from_contract(AlertReceiverArgs, "email_from")] = None
    email_smarthost: Annotated[str | None, from_contract(AlertReceiverArgs, "email_smarthost")] = None
    email_auth_username: Annotated[str, Field(min_length=1)] | None = None
    """``email``: the SMTP user; ``alertReceiverSecret`` is then its password. Unset: no SMTP authentication."""


class AlertSettings(Model):
    """Prometheus alert rules for Triton and where their alerts go."""

    enabled: bool = True
    """Declare the alert rules."""
    receiver: AlertReceiverSettings | None = None
    """Where Alertmanager sends alerts. Unset: nowhere (the chart's null receiver): warned, and refused in prod
    where the stack installs Alertmanager."""
    queue_time_milliseconds: float = contract_field(AlertThresholdsArgs, "queue_time_ms")
    failure_ratio: float = contract_field(AlertThresholdsArgs, "failure_ratio")
    gpu_memory_ratio: float = contract_field(AlertThresholdsArgs, "gpu_memory_ratio")
    for_minutes: int = contract_field(AlertThresholdsArgs, "for_minutes")
    model_not_ready_minutes: int = contract_field(AlertThresholdsArgs, "model_not_ready_minutes")


class DashboardSettings(Model):
    """Triton's Grafana dashboard, as a ConfigMap the Grafana sidecar loads."""

    enabled: bool = True
    """Declare the dashboard ConfigMap."""
    namespace: Namespace | None = None
    """Namespace the Grafana sidecar watches. Unset: ``addons.monitoringNamespace``."""


class ObservabilitySettings(Model):
    enabled: bool = False
    """Monitors, alerts, the dashboard and autoscalers; required for any ``autoscaling``."""
    addons: AddonSettings = AddonSettings()
    """Add-ons this stack installs from their Helm charts (pinned in ``versions.py``)."""
    prometheus: PrometheusSettings = PrometheusSettings()
    """The Prometheus that reads Triton's metrics."""
    scrape: ScrapeSettings = ScrapeSettings()
    """Scraping of port 8002."""
    alerts: AlertSettings = AlertSettings()
    """Alert rules and their receiver."""
    dashboard: DashboardSettings = DashboardSettings()
    """The Grafana dashboard."""

    @property
    def prometheus_url(self) -> str | None:
        if self.prometheus.url is not None:
            return self.prometheus.url
        if self.addons.prometheus_stack:
            namespace = self.addons.monitoring_namespace
            return f"http://{PROMETHEUS_STACK_RELEASE}-prometheus.{namespace}.svc.cluster.local:9090"
        return None
