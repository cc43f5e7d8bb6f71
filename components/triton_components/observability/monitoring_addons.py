"""``MonitoringAddons``: KEDA and kube-prometheus-stack from their official Helm charts, pinned.

For clusters that lack them. Sized for a small cluster (requests a few hundred millicores in all).
Custom resources of other components must wait for ``keda_crds`` / ``prometheus_crds`` (the
releases that install their CRDs).
Grafana's admin password is generated and kept in a Secret, never the chart's well-known default.
Alertmanager sends to the receiver given (``alertmanager_config``); without one, to the chart's
``null`` receiver, i.e. nowhere.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from ..common import labels as _labels
from ..common import versions
from ..common.args import check_args
from .addon_values import SMALL, prometheus_stack_values
from .alertmanager_config import RECEIVER_SECRET_KEY, RECEIVER_SECRET_NAME
from .monitoring_addons_args import MonitoringAddonsArgs, validate_addons


class MonitoringAddons(pulumi.ComponentResource):
    """KEDA and/or kube-prometheus-stack as pinned Helm releases in their own namespaces."""

    prometheus_url: pulumi.Output[str] | None
    """In-cluster Prometheus query URL, when the stack is installed."""
    keda_crds: list[pulumi.Resource]
    """The KEDA release, when installed; ScaledObjects must depend on it."""
    prometheus_crds: list[pulumi.Resource]
    """The kube-prometheus-stack release, when installed; monitors, rules and dashboards depend on it."""

    def __init__(self, name: str, args: MonitoringAddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_args(
            "MonitoringAddons", name, args, MonitoringAddonsArgs
        )  # misspelt keys and wrong types, before anything else
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
            namespace = self._namespace(
                name, "monitoring", namespace_name, privileged=stack.get("node_exporter", False)
            )
            password = random.RandomPassword(
                f"{name}-grafana-password", length=32, special=False, opts=pulumi.ResourceOptions(parent=self)
            )
            admin_password: pulumi.Output[str] = pulumi.Output.secret(password.result)
            admin = k8s.core.v1.Secret(
                f"{name}-grafana-admin",
                metadata={
                    "name": "grafana-admin",
                    "namespace": namespace,
                    "labels": _labels.recommended_labels(name, "monitoring"),
                },
                type="Opaque",
                string_data={"admin-user": "admin", "admin-password": admin_password},
                opts=pulumi.ResourceOptions(parent=self),
            )
            waits_for: list[pulumi.Resource] = [admin]
            receiver = stack.get("alert_receiver")
            credential = receiver.get("credential") if receiver else None
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
        created_name: pulumi.Output[str] = created.metadata.apply(lambda m: m["name"])
        return created_name

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
