"""``MonitoringAddons``: KEDA and kube-prometheus-stack from their official Helm charts, pinned.

For clusters that lack them. Sized for a small cluster (requests a few hundred millicores in all).
Custom resources of other components must wait for ``keda_crds`` / ``prometheus_crds`` (the
releases that install their CRDs).
Grafana's admin password is generated and kept in a Secret, never the chart's well-known default.
Alertmanager sends to the receiver given (``alertmanager_config``); without one, to the chart's
``null`` receiver, i.e. nowhere.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from ..common.args import check_args
from ..common import labels as _labels
from ..common import versions
from .alertmanager_config import (
    RECEIVER_SECRET_KEY,
    RECEIVER_SECRET_NAME,
    AlertReceiverArgs,
    alertmanager_config,
    validate_receiver,
)

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
#: Where Istio's "Prometheus with Istio certificates" recipe mounts the workload certificate.
ISTIO_CERTS_DIR = "/etc/prom-certs/"

#: Small-cluster requests: enough for one Triton environment's series (a few thousand), with
#: memory limits so a cardinality accident cannot take a GPU node's neighbours down.
SMALL = {
    "prometheus": {"requests": {"cpu": "200m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
    "operator": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
    "grafana": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
    "alertmanager": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
    "kube-state-metrics": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
    "keda-operator": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
    "keda-metrics-server": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
    "keda-webhooks": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
}


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
        if not stack.get("alertmanager", True):
            raise ValueError("prometheus_stack alert_receiver is set but alertmanager is False; nothing would send to it")
        validate_receiver(receiver)


def prometheus_stack_values(stack: PrometheusStackArgs, admin_secret: str) -> dict[str, Any]:
    """Helm values of kube-prometheus-stack."""
    release = stack.get("release_name", "kube-prometheus-stack")
    alertmanager: dict[str, Any] = {
        "enabled": stack.get("alertmanager", True),
        "alertmanagerSpec": {"resources": SMALL["alertmanager"]},
    }
    receiver = stack.get("alert_receiver")
    if receiver is not None:
        alertmanager["config"] = alertmanager_config(receiver)
        if receiver.get("credential") is not None:
            alertmanager["alertmanagerSpec"]["secrets"] = [RECEIVER_SECRET_NAME]
    prometheus_spec: dict[str, Any] = {
        "retention": stack.get("retention", "2d"),
        "resources": SMALL["prometheus"],
        # Select every monitor and rule in the cluster; ours also carry the configured selector labels,
        # so the same objects work with a Prometheus installed elsewhere.
        **{f"{kind}SelectorNilUsesHelmValues": False for kind in ("serviceMonitor", "podMonitor", "rule")},
        **{f"{kind}Selector": {} for kind in ("serviceMonitor", "podMonitor", "rule")},
        **{f"{kind}NamespaceSelector": {} for kind in ("serviceMonitor", "podMonitor", "rule")},
    }
    if stack.get("istio_certs", False):
        prometheus_spec["podMetadata"] = {
            "labels": {"sidecar.istio.io/inject": "true"},
            "annotations": {
                # The sidecar intercepts nothing; it only provisions and writes the certificate.
                "traffic.sidecar.istio.io/includeInboundPorts": "",
                "traffic.sidecar.istio.io/includeOutboundIPRanges": "",
                "proxy.istio.io/config": "proxyMetadata:\n  OUTPUT_CERTS: /etc/istio-output-certs\n",
                "sidecar.istio.io/userVolumeMount": json.dumps([{"name": "istio-certs", "mountPath": "/etc/istio-output-certs"}]),
            },
        }
        prometheus_spec["volumes"] = [{"name": "istio-certs", "emptyDir": {"medium": "Memory"}}]
        prometheus_spec["volumeMounts"] = [{"name": "istio-certs", "mountPath": ISTIO_CERTS_DIR}]
    return {
        "fullnameOverride": release,
        "crds": {"enabled": True},
        # Managed control planes (GKE, EKS) expose none of these; their targets would only alert.
        **{component: {"enabled": False} for component in ("kubeEtcd", "kubeScheduler", "kubeControllerManager", "kubeProxy")},
        "nodeExporter": {"enabled": stack.get("node_exporter", False)},
        "prometheusOperator": {"resources": SMALL["operator"]},
        "kube-state-metrics": {"resources": SMALL["kube-state-metrics"]},
        "alertmanager": alertmanager,
        "grafana": {
            "enabled": stack.get("grafana", True),
            "admin": {"existingSecret": admin_secret, "userKey": "admin-user", "passwordKey": "admin-password"},
            "resources": SMALL["grafana"],
            "sidecar": {"dashboards": {"enabled": True, "label": "grafana_dashboard", "labelValue": "1", "searchNamespace": "ALL"}},
        },
        "prometheus": {"service": {"port": 9090}, "prometheusSpec": prometheus_spec},
    }


class MonitoringAddons(pulumi.ComponentResource):
    """KEDA and/or kube-prometheus-stack as pinned Helm releases in their own namespaces."""

    prometheus_url: pulumi.Output[str] | None
    """In-cluster Prometheus query URL, when the stack is installed."""
    keda_crds: list[pulumi.Resource]
    """The KEDA release, when installed; ScaledObjects must depend on it."""
    prometheus_crds: list[pulumi.Resource]
    """The kube-prometheus-stack release, when installed; monitors, rules and dashboards depend on it."""

    def __init__(self, name: str, args: MonitoringAddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_args("MonitoringAddons", name, args, MonitoringAddonsArgs)  # misspelt keys and wrong types, before anything else
        validate_addons(args)  # before anything is registered: nothing is half-created
        super().__init__("tritonplatform:index:MonitoringAddons", name, None, opts)
        self.keda_crds = []
        self.prometheus_crds = []
        self.prometheus_url = None

        keda = args.get("keda")
        if keda is not None:
            namespace = self._namespace(name, "keda", keda.get("namespace", "keda"), privileged=False)
            self.keda_crds.append(
                self._release(
                    name,
                    "keda",
                    namespace,
                    chart="keda",
                    version=versions.KEDA_CHART_VERSION,
                    repository=versions.KEDA_CHART_REPOSITORY,
                    values={
                        "resources": {
                            "operator": SMALL["keda-operator"],
                            "metricServer": SMALL["keda-metrics-server"],
                            "webhooks": SMALL["keda-webhooks"],
                        }
                    },
                )
            )

        stack = args.get("prometheus_stack")
        if stack is not None:
            release = stack.get("release_name", "kube-prometheus-stack")
            namespace_name = stack.get("namespace", "monitoring")
            namespace = self._namespace(name, "monitoring", namespace_name, privileged=stack.get("node_exporter", False))
            password = random.RandomPassword(
                f"{name}-grafana-password", length=32, special=False, opts=pulumi.ResourceOptions(parent=self)
            )
            admin = k8s.core.v1.Secret(
                f"{name}-grafana-admin",
                metadata={"name": "grafana-admin", "namespace": namespace, "labels": _labels.recommended_labels(name, "monitoring")},
                type="Opaque",
                string_data={"admin-user": "admin", "admin-password": pulumi.Output.secret(password.result)},
                opts=pulumi.ResourceOptions(parent=self),
            )
            waits_for: list[pulumi.Resource] = [admin]
            credential = (stack.get("alert_receiver") or {}).get("credential")
            if credential is not None:
                waits_for.append(
                    k8s.core.v1.Secret(
                        f"{name}-alertmanager-receiver",
                        metadata={
                            "name": RECEIVER_SECRET_NAME,
                            "namespace": namespace,
                            "labels": _labels.recommended_labels(name, "monitoring"),
                        },
                        type="Opaque",
                        string_data={RECEIVER_SECRET_KEY: pulumi.Output.secret(credential)},
                        opts=pulumi.ResourceOptions(parent=self),
                    )
                )
            self.prometheus_crds.append(
                self._release(
                    name,
                    "prometheus-stack",
                    namespace,
                    chart="kube-prometheus-stack",
                    version=versions.KUBE_PROMETHEUS_STACK_CHART_VERSION,
                    repository=versions.KUBE_PROMETHEUS_STACK_CHART_REPOSITORY,
                    values=prometheus_stack_values(stack, "grafana-admin"),
                    release_name=release,
                    depends_on=waits_for,
                )
            )
            self.prometheus_url = pulumi.Output.from_input(
                f"http://{release}-prometheus.{namespace_name}.svc.cluster.local:9090"
            )

        self.register_outputs({"prometheus_url": self.prometheus_url})

    def _namespace(self, name: str, suffix: str, namespace: str, *, privileged: bool) -> pulumi.Output[str]:
        created = k8s.core.v1.Namespace(
            f"{name}-{suffix}-namespace",
            metadata={
                "name": namespace,
                "labels": {
                    **_labels.recommended_labels(name, "monitoring"),
                    # node-exporter reads the host; everything else runs under 'baseline' and is warned about 'restricted'.
                    "pod-security.kubernetes.io/enforce": "privileged" if privileged else "baseline",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        return created.metadata.apply(lambda m: m["name"])

    def _release(
        self,
        name: str,
        suffix: str,
        namespace: pulumi.Output[str],
        *,
        chart: str,
        version: str,
        repository: str,
        values: dict[str, Any],
        release_name: str | None = None,
        depends_on: list[pulumi.Resource] | None = None,
    ) -> k8s.helm.v3.Release:
        return k8s.helm.v3.Release(
            f"{name}-{suffix}",
            k8s.helm.v3.ReleaseArgs(
                name=release_name or chart,
                chart=chart,
                version=version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repository),
                namespace=namespace,
                create_namespace=False,
                values=values,
                # Roll back a failed upgrade instead of leaving a half-applied release.
                atomic=True,
                cleanup_on_fail=True,
                max_history=5,
                timeout=900,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on or []),
        )
