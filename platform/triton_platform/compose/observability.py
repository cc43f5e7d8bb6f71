"""Compose KEDA autoscaling and Prometheus monitoring for one environment.

Order: the add-ons (when this stack installs them) first, because every custom resource below
waits for the CRDs their Helm releases create; then one monitor per model group, the alert rules
and the dashboard; then one KEDA ScaledObject per autoscaled group.
"""

from __future__ import annotations

from typing import Any, cast

import pulumi

from triton_components import (
    AlertGroupArgs,
    AlertReceiverArgs,
    AlertThresholdsArgs,
    MonitoringAddons,
    MonitoringAddonsArgs,
    ScaleToZeroArgs,
    TritonAutoscaler,
    TritonAutoscalerArgs,
    TritonMonitoring,
    TritonMonitoringArgs,
    TritonServer,
)
from triton_components.common.names import hpa_name
from triton_components.observability.alertmanager_config import needs_credential

from ..config.observability import AlertReceiverSettings
from ..config.observability_rules import alert_receiver_warning
from ..config.serving import ModelGroupSettings
from ..config.settings import PlatformSettings

#: ``autoscaling`` keys whose stack-file name spells the unit out.
_AUTOSCALING_KEYS = {
    "queue_time_target_milliseconds": "queue_time_target_ms",
    "queue_time_activation_milliseconds": "queue_time_activation_ms",
}


#: ``observability.scrape`` keys as ``TritonMonitoringArgs`` names them.
_SCRAPE_KEYS = {"kind": "monitor_kind", "interval_seconds": "scrape_interval_seconds"}


def _gateway(settings: PlatformSettings) -> tuple[str, dict[str, str]]:
    """Namespace and pod selector of the Istio ingress gateway (the scale-to-zero wake-up source)."""
    gateway = settings.mesh.gateway
    return gateway.namespace, dict(gateway.selector)


def receiver_args(receiver: AlertReceiverSettings, credential: pulumi.Input[str] | None) -> AlertReceiverArgs:
    """The component's receiver args: the settings' fields (camelCase in the stack file) and the secret."""
    args = AlertReceiverArgs(kind=receiver.kind)
    for key in ("slack_channel", "email_to", "email_from", "email_smarthost", "email_auth_username"):
        value = getattr(receiver, key)
        if value is not None:
            args[key] = value
    if needs_credential(args):
        args["credential"] = credential
    return args


def addons_args(
    settings: PlatformSettings, alert_receiver_secret: pulumi.Input[str] | None = None
) -> MonitoringAddonsArgs | None:
    addons = settings.observability.addons
    args = MonitoringAddonsArgs()
    if addons.keda:
        args["keda"] = {"namespace": addons.keda_namespace}
    if addons.prometheus_stack:
        args["prometheus_stack"] = {
            "namespace": addons.monitoring_namespace,
            "grafana": addons.grafana,
            "alertmanager": addons.alertmanager,
            "node_exporter": addons.node_exporter,
            "retention": addons.prometheus_retention,
            "istio_certs": settings.observability.scrape.tls == "istio-certs",
        }
        receiver = settings.observability.alerts.receiver
        if receiver is not None:
            prometheus_stack = args["prometheus_stack"]
            assert prometheus_stack is not None  # set just above
            prometheus_stack["alert_receiver"] = receiver_args(receiver, alert_receiver_secret)
    return args or None


def autoscaler_args(
    group: ModelGroupSettings,
    settings: PlatformSettings,
    triton: TritonServer,
    prometheus_url: str,
    wait_for: list[pulumi.Resource] | None = None,
) -> TritonAutoscalerArgs:
    a = group.autoscaling
    assert a is not None
    model_group = triton.model_groups[group.name]
    args = cast(
        TritonAutoscalerArgs,
        {
            # By name, but for the stack file's unit-carrying spellings of the queue-time keys.
            **a.args_for(TritonAutoscalerArgs, rename=_AUTOSCALING_KEYS, drop={"fallback", "scale_to_zero"}),
            "namespace": triton.namespace,
            "instance": triton.pulumi_resource_name,
            "model_group": group.name,
            "deployment_name": model_group.deployment_names.apply(lambda names: names["stable"]),
            "prometheus_url": prometheus_url,
            "fallback": {"failure_threshold": a.fallback.failure_threshold, "replicas": a.fallback_replicas},
            "wait_for": list(wait_for or []),
        },
    )
    if a.scale_to_zero.enabled:
        args["scale_to_zero"] = cast(
            ScaleToZeroArgs,
            {
                **a.scale_to_zero.args_for(ScaleToZeroArgs),
                "service_name": model_group.service_name,
                "gateway_namespace": _gateway(settings)[0],
            },
        )
    return args


def monitoring_args(
    settings: PlatformSettings, triton: TritonServer, wait_for: list[pulumi.Resource] | None = None
) -> TritonMonitoringArgs:
    obs = settings.observability
    groups = [
        cast(
            AlertGroupArgs,
            {
                **g.args_for(AlertGroupArgs),
                "hpa_name": hpa_name(g.name) if g.autoscaling is not None else None,
                "scale_to_zero": g.autoscaling is not None and g.autoscaling.scale_to_zero.enabled,
            },
        )
        for g in settings.model_groups
    ]
    args = cast(
        TritonMonitoringArgs,
        {
            # By name: the monitor kind, the scrape interval and TLS, through their stack-file spellings.
            **obs.scrape.args_for(TritonMonitoringArgs, rename=_SCRAPE_KEYS),
            "namespace": triton.namespace,
            "instance": triton.pulumi_resource_name,
            "environment": settings.environment.value,
            "model_groups": groups,
            "monitor_labels": dict(obs.prometheus.selector_labels),
            "alerts": None,
            "dashboard": None,
            "wait_for": list(wait_for or []),
        },
    )
    if obs.alerts.enabled:
        args["alerts"] = cast(
            AlertThresholdsArgs,
            obs.alerts.args_for(AlertThresholdsArgs, rename={"queue_time_milliseconds": "queue_time_ms"}),
        )
    if obs.dashboard.enabled:
        args["dashboard"] = {"namespace": obs.dashboard.namespace or obs.addons.monitoring_namespace}
    if any(g["scale_to_zero"] for g in groups):
        namespace, selector = _gateway(settings)
        args["gateway_monitor"] = {"namespace": namespace, "selector": selector}
    return args


def build_observability(
    settings: PlatformSettings,
    triton: TritonServer,
    opts: pulumi.ResourceOptions | None,
    alert_receiver_secret: pulumi.Input[str] | None = None,
) -> dict[str, Any]:
    """Declare monitors, autoscalers, alerts and dashboards; return extra stack outputs."""
    obs = settings.observability
    if not obs.enabled:
        return {}
    warning = alert_receiver_warning(settings, f"Pulumi.{pulumi.get_stack()}.yaml")
    if warning is not None:
        pulumi.log.warn(warning)
    keda_crds: list[pulumi.Resource] = []
    prometheus_crds: list[pulumi.Resource] = []
    addons = addons_args(settings, alert_receiver_secret)
    if addons is not None:
        installed = MonitoringAddons("monitoring-addons", addons, opts)
        keda_crds, prometheus_crds = installed.keda_crds, installed.prometheus_crds

    instance = triton.pulumi_resource_name
    TritonMonitoring(f"{instance}-monitoring", monitoring_args(settings, triton, prometheus_crds), opts)
    scaled_objects: dict[str, pulumi.Output[str]] = {}
    for group in settings.model_groups:
        if group.autoscaling is None:
            continue
        url = obs.prometheus_url
        assert url is not None  # guaranteed by check_observability
        autoscaler = TritonAutoscaler(
            f"{instance}-{group.name}-autoscaler", autoscaler_args(group, settings, triton, url, keda_crds), opts
        )
        scaled_objects[group.name] = autoscaler.scaled_object_name

    outputs: dict[str, Any] = {}
    if obs.prometheus_url is not None:
        outputs["prometheusUrl"] = obs.prometheus_url
    if scaled_objects:
        outputs["scaledObjects"] = scaled_objects
    return outputs
