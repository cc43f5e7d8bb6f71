"""Rules relating autoscaling and monitoring settings to the rest of the stack."""

from __future__ import annotations

from typing import Iterator

from .base import Environment, Problem
from .models import ModelGroupSettings, PlatformSettings
from .observability import MIN_SCALE_DOWN_STABILIZATION_SECONDS, SAMPLES_PER_WINDOW


def peak_stable_replicas(group: ModelGroupSettings) -> int:
    """Stable replicas the group can reach: ``autoscaling.maxReplicas`` when autoscaled, else ``replicas``.

    The GPU-capacity rule must count this, not ``replicas``: an autoscaled group ignores ``replicas``.
    """
    return group.autoscaling.max_replicas if group.autoscaling is not None else group.replicas


def check_observability(settings: PlatformSettings) -> Iterator[Problem]:
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
