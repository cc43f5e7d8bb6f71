"""``IstioInstallation``: Istio from its official Helm charts, for clusters that lack it.

Four releases in dependency order: ``base`` (the CRDs), then ``istiod`` and ``cni``, then the
ingress ``gateway`` (its pods are injected by istiod). Consumers pass the component in
``depends_on``; Pulumi expands that to every release, so custom resources wait for their CRDs and
meshed pods wait for the sidecar injector. The CNI plugin is always installed: without it every
meshed pod needs an ``istio-init`` container with NET_ADMIN/NET_RAW, which Pod Security
``restricted`` (the Triton namespace's level) rejects.

No disruption budget may block a node drain at the configured minimum: the gateway's budget is
``maxUnavailable: 1`` (the chart's usual ``minAvailable: 1`` allows nothing with one replica), and
istiod's chart budget, fixed at ``minAvailable: 1``, is kept only with two or more istiod replicas.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..common import labels as _labels
from ..common import versions
from ..common.args import check_args, setting_value
from ..common.istio_charts import CHART_FOLDERS
from .istio_install_args import IstioInstallationArgs, validate_installation


class IstioInstallation(pulumi.ComponentResource):
    """Istio base, istiod, CNI and an ingress gateway, from the pinned official charts."""

    gateway_namespace: pulumi.Output[str]
    """Namespace of the ingress gateway pods."""
    gateway_selector: dict[str, str]
    """Pod labels of the ingress gateway, for ``Gateway.spec.selector`` and NetworkPolicies."""

    def __init__(self, name: str, args: IstioInstallationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_args(
            "IstioInstallation", name, args, IstioInstallationArgs
        )  # misspelt keys and wrong types, before anything else
        validate_installation(args)  # before anything is registered: nothing is half-created
        super().__init__("tritonplatform:index:IstioInstallation", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        version = args.get("version", versions.ISTIO_VERSION)
        repository = {"repo": args.get("chart_repository", versions.ISTIO_CHART_REPOSITORY)}
        chart_folder = args.get("chart_folder")
        gateway_name = setting_value(args, IstioInstallationArgs, "gateway_name")
        platform = args.get("platform")
        platform_values: dict[str, Any] = {"global": {"platform": platform}} if platform else {}
        istiod_replicas = setting_value(args, IstioInstallationArgs, "istiod_replicas")

        system_ns = self._namespace(
            name, "system", setting_value(args, IstioInstallationArgs, "system_namespace"), "privileged", child
        )
        gateway_ns = self._namespace(
            name, "gateway", setting_value(args, IstioInstallationArgs, "gateway_namespace"), "baseline", child
        )

        def release(
            suffix: str,
            release_name: str,
            chart: str,
            namespace: pulumi.Input[str],
            values: dict[str, Any],
            depends_on: list[pulumi.Resource],
        ) -> k8s.helm.v3.Release:
            source: dict[str, Any] = (
                {"chart": f"{chart_folder.rstrip('/')}/{CHART_FOLDERS[chart]}"}
                if chart_folder
                else {"chart": chart, "version": version, "repository_opts": repository}
            )
            return k8s.helm.v3.Release(
                f"{name}-{suffix}",
                name=release_name,
                **source,
                namespace=namespace,
                values=_merge(platform_values, values),
                # Helm waits for Deployments and DaemonSets to be ready, so dependants see a working mesh.
                timeout=600,
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=depends_on)),
            )

        base = release("base", "istio-base", "base", system_ns, {}, [])
        istiod = release(
            "istiod",
            "istiod",
            "istiod",
            system_ns,
            {
                "pilot": {"cni": {"enabled": True}},
                # Path-based AuthorizationPolicies must see one canonical path: decode %2F and merge
                # slashes before matching, so /v2//repository or %2F tricks cannot slip past a rule.
                "meshConfig": {"pathNormalization": {"normalization": "DECODE_AND_MERGE_SLASHES"}},
                # The chart's HPA minimum and initial count (top-level keys of istiod's values.yaml).
                "autoscaleMin": istiod_replicas,
                "replicaCount": istiod_replicas,
                # The chart's istiod budget is a fixed minAvailable: 1; with one replica it would
                # block every drain of that node, so it exists only when a second replica can serve.
                **({} if istiod_replicas >= 2 else {"global": {"defaultPodDisruptionBudget": {"enabled": False}}}),
            },
            [base],
        )
        cni = release("cni", "istio-cni", "cni", system_ns, {}, [base])
        replicas = setting_value(args, IstioInstallationArgs, "gateway_replicas")
        gateway = release(
            "gateway",
            gateway_name,
            "gateway",
            gateway_ns,
            {
                "autoscaling": {"enabled": True, "minReplicas": replicas, "maxReplicas": max(5, replicas)},
                # One pod at a time, at any replica count: never zero allowed disruptions, and
                # crash-looping pods may always be evicted.
                "podDisruptionBudget": {"maxUnavailable": 1, "unhealthyPodEvictionPolicy": "AlwaysAllow"},
                "service": {"type": "LoadBalancer", "annotations": dict(args.get("gateway_service_annotations", {}))},
            },
            # Gateway pods are injected by istiod's webhook: it must be serving first.
            [istiod],
        )
        self.releases = {"base": base, "istiod": istiod, "cni": cni, "gateway": gateway}
        self.gateway_namespace = gateway.namespace
        self.gateway_selector = {"istio": gateway_name.removeprefix("istio-")}
        self.register_outputs({"gateway_namespace": self.gateway_namespace, "version": version})

    def _namespace(
        self, name: str, suffix: str, namespace: str, pod_security: str, opts: pulumi.ResourceOptions
    ) -> pulumi.Output[str]:
        created = k8s.core.v1.Namespace(
            f"{name}-{suffix}-namespace",
            metadata={
                "name": namespace,
                "labels": {
                    "app.kubernetes.io/name": "istio",
                    "app.kubernetes.io/instance": name,
                    "app.kubernetes.io/part-of": _labels.PART_OF,
                    "app.kubernetes.io/managed-by": "pulumi",
                    "pod-security.kubernetes.io/enforce": pod_security,
                    "pod-security.kubernetes.io/enforce-version": "latest",
                },
            },
            opts=opts,
        )
        created_name: pulumi.Output[str] = created.metadata.apply(lambda m: m["name"])
        return created_name


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Nested dictionaries merged key by key (``global.platform`` survives a chart's own ``global``)."""
    merged = dict(base)
    for key, value in override.items():
        merged[key] = (
            _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged
