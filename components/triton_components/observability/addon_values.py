"""Helm values of the add-ons ``MonitoringAddons`` installs: small-cluster sizes and the
kube-prometheus-stack values (Prometheus selecting every monitor, Istio certificates, Alertmanager's
receiver)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .alertmanager_config import RECEIVER_SECRET_NAME, alertmanager_config

if TYPE_CHECKING:
    from .monitoring_addons_args import PrometheusStackArgs

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
                "sidecar.istio.io/userVolumeMount": json.dumps(
                    [{"name": "istio-certs", "mountPath": "/etc/istio-output-certs"}]
                ),
            },
        }
        prometheus_spec["volumes"] = [{"name": "istio-certs", "emptyDir": {"medium": "Memory"}}]
        prometheus_spec["volumeMounts"] = [{"name": "istio-certs", "mountPath": ISTIO_CERTS_DIR}]
    return {
        "fullnameOverride": release,
        "crds": {"enabled": True},
        # Managed control planes (GKE, EKS) expose none of these; their targets would only alert.
        **{
            component: {"enabled": False}
            for component in ("kubeEtcd", "kubeScheduler", "kubeControllerManager", "kubeProxy")
        },
        "nodeExporter": {"enabled": stack.get("node_exporter", False)},
        "prometheusOperator": {"resources": SMALL["operator"]},
        "kube-state-metrics": {"resources": SMALL["kube-state-metrics"]},
        "alertmanager": alertmanager,
        "grafana": {
            "enabled": stack.get("grafana", True),
            "admin": {"existingSecret": admin_secret, "userKey": "admin-user", "passwordKey": "admin-password"},
            "resources": SMALL["grafana"],
            "sidecar": {
                "dashboards": {
                    "enabled": True,
                    "label": "grafana_dashboard",
                    "labelValue": "1",
                    "searchNamespace": "ALL",
                }
            },
        },
        "prometheus": {"service": {"port": 9090}, "prometheusSpec": prometheus_spec},
    }
