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

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from ..common import labels as _labels
from ..common import versions
from ..common.args import check_args
from ..common.istio_charts import CHART_FOLDERS, missing_charts

#: Values of Istio's ``global.platform`` (its ``manifests/helm-profiles/platform-*.yaml``); EKS needs none.
PLATFORMS = ("gke", "k3d", "k3s", "microk8s", "minikube", "openshift")
DEFAULT_GATEWAY_NAME = "istio-ingressgateway"


class IstioInstallationArgs(TypedDict):
    """Inputs of ``IstioInstallation``."""

    version: NotRequired[str]
    """Istio (and chart) version. Default: ``versions.ISTIO_VERSION``."""
    chart_repository: NotRequired[str]
    """Helm repository of the charts. Default: ``versions.ISTIO_CHART_REPOSITORY``."""
    chart_folder: NotRequired[str | None]
    """Local folder holding the charts in the layout of Istio's source tree (``manifests/charts``:
    ``base``, ``istio-control/istio-discovery``, ``istio-cni``, ``gateway``). When set, every release
    installs from it and no chart repository is reached (``version`` and ``chart_repository`` are
    not used: the folder's charts are what gets installed). A relative folder is taken from the
    working directory (the project folder under ``pulumi``). Default: none (the repository)."""
    system_namespace: NotRequired[str]
    """Namespace of istiod and the CNI DaemonSet (created; Pod Security ``privileged``, as the CNI
    mounts host paths). Default: ``istio-system``."""
    gateway_namespace: NotRequired[str]
    """Namespace of the ingress gateway (created, Pod Security ``baseline``). Default: ``istio-ingress``."""
    gateway_name: NotRequired[str]
    """Release name of the gateway; its pods get ``istio: <name without istio->``. Default: ``istio-ingressgateway``."""
    gateway_replicas: NotRequired[int]
    """Minimum gateway replicas (the chart's HPA scales above). Default: 2."""
    istiod_replicas: NotRequired[int]
    """Minimum istiod replicas. With 1, the chart's disruption budget (``minAvailable: 1``, not
    configurable) is turned off so a drain can move istiod. Default: 2."""
    gateway_service_annotations: NotRequired[Mapping[str, str]]
    """Annotations of the gateway's LoadBalancer Service (internal LB, static IP). Default: none."""
    platform: NotRequired[str | None]
    """Istio's ``global.platform`` (``gke`` sets the CNI paths and quotas GKE needs). Default: none."""


def validate_installation(args: Mapping[str, Any]) -> None:
    folder = args.get("chart_folder")
    if folder is not None and (missing := missing_charts(folder)):
        raise ValueError(
            f"chart_folder is {folder!r}, which has no {', '.join(f'{m}/Chart.yaml' for m in missing)}; "
            "use the manifests/charts folder of Istio's source tree, or None for the chart repository"
        )
    platform = args.get("platform")
    if platform is not None and platform not in PLATFORMS:
        raise ValueError(f"platform is {platform!r}; use one of {', '.join(PLATFORMS)}, or None")
    for key in ("gateway_replicas", "istiod_replicas"):
        replicas = args.get(key, 2)
        if replicas < 1:
            raise ValueError(f"{key} is {replicas}; use 1 or more (2 or more keeps it up during a drain)")
    name = args.get("gateway_name", DEFAULT_GATEWAY_NAME)
    if not name.startswith("istio-"):
        raise ValueError(
            f"gateway_name is {name!r}; use a name starting with 'istio-' (the chart derives its labels from it)"
        )


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
        gateway_name = args.get("gateway_name", DEFAULT_GATEWAY_NAME)
        platform = args.get("platform")
        platform_values: dict[str, Any] = {"global": {"platform": platform}} if platform else {}
        istiod_replicas = args.get("istiod_replicas", 2)

        system_ns = self._namespace(name, "system", args.get("system_namespace", "istio-system"), "privileged", child)
        gateway_ns = self._namespace(name, "gateway", args.get("gateway_namespace", "istio-ingress"), "baseline", child)

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
        replicas = args.get("gateway_replicas", 2)
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
