"""The args contract of ``MonitoringAddons``: its TypedDicts and their validation.

Kept free of Pulumi resources so the Helm values builder (``addon_values``) and the config layer
can read it without importing the component.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

from .alertmanager_config import AlertReceiverArgs, validate_receiver

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


class KedaAddonArgs(TypedDict):
    """KEDA from ``kedacore/keda``."""

    namespace: NotRequired[str]
    """Namespace (created). Default: ``keda``."""


class PrometheusStackArgs(TypedDict):
    """Prometheus Operator, Prometheus, Grafana (and Alertmanager) from ``kube-prometheus-stack``."""

    namespace: NotRequired[str]
    """Namespace (created). Default: ``monitoring``."""
    release_name: NotRequired[str]
    """Helm release name and name prefix of every object. Default: ``kube-prometheus-stack``."""
    grafana: NotRequired[bool]
    """Install Grafana with the dashboard sidecar. Default: True."""
    alertmanager: NotRequired[bool]
    """Install Alertmanager. Default: True."""
    alert_receiver: NotRequired[AlertReceiverArgs | None]
    """Where Alertmanager sends every alert. Default: none, the chart's ``null`` receiver (alerts are dropped)."""
    node_exporter: NotRequired[bool]
    """Install node-exporter (host access: the namespace becomes Pod Security 'privileged'). Default: False."""
    retention: NotRequired[str]
    """Prometheus retention, e.g. ``2d``. Default: ``2d``."""
    istio_certs: NotRequired[bool]
    """Give Prometheus an Istio sidecar that only writes its workload certificate to /etc/prom-certs,
    for scraping through STRICT mTLS. Default: False."""


class MonitoringAddonsArgs(TypedDict):
    """Inputs of ``MonitoringAddons``: set the add-ons to install."""

    keda: NotRequired[KedaAddonArgs | None]
    """Install KEDA. Default: not installed."""
    prometheus_stack: NotRequired[PrometheusStackArgs | None]
    """Install kube-prometheus-stack. Default: not installed."""


def validate_addons(args: Mapping[str, Any]) -> None:
    keda, stack = args.get("keda"), args.get("prometheus_stack")
    if keda is None and stack is None:
        raise ValueError("neither keda nor prometheus_stack is set; MonitoringAddons would install nothing")
    names = [("keda namespace", (keda or {}).get("namespace", "keda"))] if keda is not None else []
    if stack is not None:
        names += [
            ("prometheus_stack namespace", stack.get("namespace", "monitoring")),
            ("prometheus_stack release_name", stack.get("release_name", "kube-prometheus-stack")),
        ]
    for what, value in names:
        if not _DNS_LABEL.match(value) or len(value) > 26:
            raise ValueError(f"{what} {value!r} must be a DNS label of at most 26 characters")
    if stack is not None and not re.fullmatch(r"[0-9]+(h|d|w)", stack.get("retention", "2d")):
        raise ValueError(f"prometheus_stack retention {stack['retention']!r} must look like 12h, 2d or 1w")
    receiver = (stack or {}).get("alert_receiver")
    if receiver is not None:
        if not (stack or {}).get("alertmanager", True):
            raise ValueError(
                "prometheus_stack alert_receiver is set but alertmanager is False; nothing would send to it"
            )
        validate_receiver(receiver)
