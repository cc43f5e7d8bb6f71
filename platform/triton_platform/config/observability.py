"""Settings for KEDA autoscaling and Prometheus monitoring (``triton-platform:observability`` and
``modelGroups[].autoscaling``), and the rules that relate them to the rest of the stack."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Iterator, Literal

from pydantic import Field

from .base import Model

if TYPE_CHECKING:
    from .models import ModelGroupSettings, PlatformSettings
    from .rules import Problem

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
    query_window_seconds: Annotated[int, Field(ge=10, le=600)] = 30
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
    interval_seconds: Annotated[int, Field(ge=1, le=300)] = 5
    #: none: plain HTTP (the mesh leaves port 8002 permissive); istio-certs: Prometheus presents Istio's certificate.
    tls: Literal["none", "istio-certs"] = "none"


class AlertSettings(Model):
    enabled: bool = True
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


def peak_stable_replicas(group: ModelGroupSettings) -> int:
    """Stable replicas the group can reach: ``autoscaling.maxReplicas`` when autoscaled, else ``replicas``.

    The GPU-capacity rule must count this, not ``replicas``: an autoscaled group ignores ``replicas``.
    """
    return group.autoscaling.max_replicas if group.autoscaling is not None else group.replicas


def check_observability(settings: PlatformSettings) -> Iterator[Problem]:
    from .models import Environment
    from .rules import Problem

    obs = settings.observability
    prod = settings.environment is Environment.PROD
    if not obs.enabled and (obs.addons.keda or obs.addons.prometheus_stack):
        yield Problem(
            ("observability", "enabled"),
            False,
            "observability.addons asks for KEDA or kube-prometheus-stack, which are installed only when this is true; "
            "set it to true or remove the add-ons",
        )
    if obs.scrape.tls == "istio-certs" and obs.scrape.kind == "PodMonitor":
        yield Problem(
            ("observability", "scrape", "tls"),
            "istio-certs",
            "needs scrape.kind: ServiceMonitor; a PodMonitor cannot read the certificate files Istio writes for Prometheus",
        )
    mesh_prometheus = settings.mesh.prometheus_namespace
    if obs.enabled and obs.addons.prometheus_stack and settings.mesh.enabled and mesh_prometheus not in (None, obs.addons.monitoring_namespace):
        yield Problem(
            ("observability", "addons", "monitoringNamespace"),
            obs.addons.monitoring_namespace,
            f"differs from mesh.prometheusNamespace ({mesh_prometheus}), the only namespace the mesh lets scrape "
            "Triton's metrics port; use the same namespace in both",
        )
    autoscaled = False
    for i, g in enumerate(settings.model_groups):
        a = g.autoscaling
        if a is None:
            continue
        autoscaled = True
        at = ("modelGroups", i, "autoscaling")
        if not obs.enabled:
            yield Problem(at, "set", "needs observability.enabled: true; KEDA scales on Triton's metrics, read from Prometheus")
        if a.min_replicas > a.max_replicas:
            yield Problem((*at, "minReplicas"), a.min_replicas, f"is above maxReplicas ({a.max_replicas})")
        if a.min_replicas == 0 and not a.scale_to_zero.enabled:
            yield Problem(
                (*at, "minReplicas"),
                0,
                "scales the group to zero, where every first request waits minutes for a GPU and the model load; "
                "use 1 or more, or set scaleToZero.enabled: true to accept it",
            )
        if a.scale_to_zero.enabled:
            if a.min_replicas > 0:
                yield Problem((*at, "scaleToZero", "enabled"), True, f"has no effect while minReplicas is {a.min_replicas}; set minReplicas: 0")
            if not settings.mesh.enabled:
                yield Problem(
                    (*at, "scaleToZero", "enabled"),
                    True,
                    "needs mesh.enabled: true: a group at zero publishes no Triton metrics, so only the Istio ingress "
                    "gateway's request rate can wake it",
                )
            if prod:
                yield Problem((*at, "scaleToZero", "enabled"), True, "is not allowed in prod: the first request after idle waits minutes")
        elif prod and a.min_replicas < 2 and not g.accept_single_replica:
            yield Problem(
                (*at, "minReplicas"),
                a.min_replicas,
                "prod needs at least 2 replicas so a rollout or node drain keeps serving; "
                "or set acceptSingleReplica: true to waive it",
            )
        window = SAMPLES_PER_WINDOW * obs.scrape.interval_seconds
        if a.query_window_seconds < window:
            yield Problem(
                (*at, "queryWindowSeconds"),
                a.query_window_seconds,
                f"must be at least {SAMPLES_PER_WINDOW} scrape intervals ({window} s with observability.scrape."
                f"intervalSeconds {obs.scrape.interval_seconds}) so rate() always has enough samples",
            )
        if a.scale_down_stabilization_seconds < MIN_SCALE_DOWN_STABILIZATION_SECONDS:
            yield Problem(
                (*at, "scaleDownStabilizationSeconds"),
                a.scale_down_stabilization_seconds,
                f"must be at least {MIN_SCALE_DOWN_STABILIZATION_SECONDS}: a GPU replica removed too early takes "
                "minutes (node, image, model load) to come back",
            )
        if a.fallback.replicas is not None and not max(a.min_replicas, 1) <= a.fallback.replicas <= a.max_replicas:
            yield Problem(
                (*at, "fallback", "replicas"),
                a.fallback.replicas,
                f"must be between max(minReplicas, 1) ({max(a.min_replicas, 1)}) and maxReplicas ({a.max_replicas})",
            )
        if a.gpu_utilization_percent is not None:
            if g.gpus_per_replica == 0:
                yield Problem((*at, "gpuUtilizationPercent"), a.gpu_utilization_percent, "the group runs on CPU (gpusPerReplica 0); remove it")
            elif settings.gcp is not None and settings.gcp.gpu_pool.gpu_sharing.strategy == "mig":
                yield Problem(
                    (*at, "gpuUtilizationPercent"),
                    a.gpu_utilization_percent,
                    "Triton reports no GPU utilization on MIG partitions; remove it and scale on queue time",
                )
    if autoscaled and obs.enabled and obs.prometheus_url is None:
        yield Problem(
            ("observability", "prometheus", "url"),
            None,
            "is required for autoscaling unless observability.addons.prometheusStack is true: give the in-cluster "
            "query URL, e.g. http://prometheus-operated.monitoring.svc:9090",
        )
