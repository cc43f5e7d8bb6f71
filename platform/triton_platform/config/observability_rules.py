"""Rules relating autoscaling and monitoring settings to the rest of the stack."""

from __future__ import annotations

from collections.abc import Iterator

from triton_components.observability.alertmanager_config import (
    ALERT_RECEIVER_KINDS,
    CREDENTIAL_MEANING,
    EMAIL_ADDRESS,
    HOST_PORT,
    needs_credential,
)

from .base import Environment, Problem
from .observability import SAMPLES_PER_WINDOW
from .serving import ModelGroupSettings
from .settings import PlatformSettings

#: How a secret value is shown in a problem (its text is never read offline).
SECRET_SHOWN = "[secret]"


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
    if (
        obs.enabled
        and obs.addons.prometheus_stack
        and settings.mesh.enabled
        and mesh_prometheus not in (None, obs.addons.monitoring_namespace)
    ):
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
            yield Problem(
                at, "set", "needs observability.enabled: true; KEDA scales on Triton's metrics, read from Prometheus"
            )
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
                yield Problem(
                    (*at, "scaleToZero", "enabled"),
                    True,
                    f"has no effect while minReplicas is {a.min_replicas}; set minReplicas: 0",
                )
            if not settings.mesh.enabled:
                yield Problem(
                    (*at, "scaleToZero", "enabled"),
                    True,
                    "needs mesh.enabled: true: a group at zero publishes no Triton metrics, so only the Istio ingress "
                    "gateway's request rate can wake it",
                )
            if prod:
                yield Problem(
                    (*at, "scaleToZero", "enabled"),
                    True,
                    "is not allowed in prod: the first request after idle waits minutes",
                )
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
        if a.fallback.replicas is not None and not max(a.min_replicas, 1) <= a.fallback.replicas <= a.max_replicas:
            yield Problem(
                (*at, "fallback", "replicas"),
                a.fallback.replicas,
                f"must be between max(minReplicas, 1) ({max(a.min_replicas, 1)}) and maxReplicas ({a.max_replicas})",
            )
        if a.gpu_utilization_percent is not None:
            if g.gpus_per_replica == 0:
                yield Problem(
                    (*at, "gpuUtilizationPercent"),
                    a.gpu_utilization_percent,
                    "the group runs on CPU (gpusPerReplica 0); remove it",
                )
            elif settings.cloud_settings is not None and settings.cloud_settings.gpus_are_mig_partitions:
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


#: The secret config key holding the alert receiver's credential (``AlertReceiverArgs.credential``).
ALERT_RECEIVER_SECRET = "alertReceiverSecret"
_SET_SECRET = f"`pulumi config set --secret {ALERT_RECEIVER_SECRET} <value>`"
_KINDS = f"{', '.join(ALERT_RECEIVER_KINDS[:-1])} or {ALERT_RECEIVER_KINDS[-1]}"


def installs_alertmanager(settings: PlatformSettings) -> bool:
    obs = settings.observability
    return obs.enabled and obs.addons.prometheus_stack and obs.addons.alertmanager


def check_alert_receiver(settings: PlatformSettings, secrets_given: frozenset[str]) -> Iterator[Problem]:
    """The receiver and its secret key belong together; prod must have one where this stack installs
    Alertmanager. (The loader calls this: only it knows which secret keys the stack file sets.)"""
    receiver = settings.observability.alerts.receiver
    has_secret = ALERT_RECEIVER_SECRET in secrets_given
    at = ("observability", "alerts", "receiver")
    if receiver is None:
        if installs_alertmanager(settings) and settings.environment is Environment.PROD:
            yield Problem(
                at,
                None,
                "prod must send alerts to someone, but without a receiver Alertmanager drops every alert (the "
                f"chart's null receiver); set observability.alerts.receiver.kind to {_KINDS}, and its credential "
                f"with {_SET_SECRET}",
            )
        if has_secret:
            yield Problem(
                (ALERT_RECEIVER_SECRET,),
                SECRET_SHOWN,
                "is read by nothing: observability.alerts.receiver is not set; set it or remove this key",
            )
        return
    if not installs_alertmanager(settings):
        yield Problem(
            (*at, "kind"),
            receiver.kind,
            "has no effect: this stack installs no Alertmanager (it needs observability.enabled, addons.prometheusStack "
            "and addons.alertmanager true); configure your own Alertmanager or remove the receiver",
        )
    for key in ("slackChannel", "emailTo", "emailFrom", "emailSmarthost", "emailAuthUsername"):
        value = getattr(receiver, _snake(key))
        if value is not None and not _snake(key).startswith(f"{receiver.kind}_"):
            yield Problem(
                (*at, key), value, f"applies only to kind {_snake(key).split('_')[0]}, not {receiver.kind}; remove it"
            )
    if receiver.kind == "email":
        for key, pattern, accepted in (
            ("emailTo", EMAIL_ADDRESS, "an email address"),
            ("emailFrom", EMAIL_ADDRESS, "an email address"),
            ("emailSmarthost", HOST_PORT, "the SMTP server as host:port, e.g. smtp.example.com:587"),
        ):
            value = getattr(receiver, _snake(key))
            if value is None:
                yield Problem((*at, key), None, f"is required for kind email: {accepted}")
            elif not pattern.match(value):
                yield Problem((*at, key), value, f"must be {accepted}")
    needed = needs_credential(
        {"kind": receiver.kind, **({"email_auth_username": 1} if receiver.email_auth_username else {})}
    )
    if needed and not has_secret:
        yield Problem(
            (ALERT_RECEIVER_SECRET,),
            None,
            f"is required by observability.alerts.receiver.kind {receiver.kind}: {CREDENTIAL_MEANING[receiver.kind]}; "
            f"set it with {_SET_SECRET}",
        )
    if has_secret and not needed:
        yield Problem(
            (ALERT_RECEIVER_SECRET,),
            SECRET_SHOWN,
            "is read only as the SMTP password of observability.alerts.receiver.emailAuthUsername, which is not set; "
            "set that or remove this key",
        )


def alert_receiver_warning(settings: PlatformSettings, stack_file: str) -> str | None:
    """Outside prod, a stack may go without a receiver, but nobody should think its alerts reach them."""
    if settings.observability.alerts.receiver is not None or not installs_alertmanager(settings):
        return None
    return (
        f"{stack_file}: triton-platform:observability.alerts.receiver is not set, so Alertmanager drops every alert "
        f"(the chart's null receiver); prod refuses this. To receive them, set observability.alerts.receiver.kind to "
        f"{_KINDS}, and {_SET_SECRET}."
    )


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)
