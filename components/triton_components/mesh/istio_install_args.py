"""Inputs of ``IstioInstallation`` (``IstioInstallationArgs``), their defaults and limits, and their
validation.

Apart from the component so the platform's config models read the same contract without loading the
Kubernetes SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, NotRequired, TypedDict

from ..common.args import Setting, setting_value
from ..common.istio_charts import missing_charts

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
    system_namespace: NotRequired[Annotated[str, Setting("istio-system")]]
    """Namespace of istiod and the CNI DaemonSet (created; Pod Security ``privileged``, as the CNI
    mounts host paths). Default: ``istio-system``."""
    gateway_namespace: NotRequired[Annotated[str, Setting("istio-ingress")]]
    """Namespace of the ingress gateway (created, Pod Security ``baseline``). Default: ``istio-ingress``."""
    gateway_name: NotRequired[Annotated[str, Setting(DEFAULT_GATEWAY_NAME)]]
    """Release name of the gateway; its pods get ``istio: <name without istio->``. Default: ``istio-ingressgateway``."""
    gateway_replicas: NotRequired[Annotated[int, Setting(2, ge=1, le=20)]]
    """Minimum gateway replicas (the chart's HPA scales above). Default: 2."""
    istiod_replicas: NotRequired[Annotated[int, Setting(2, ge=1, le=5)]]
    """Minimum istiod replicas. With 1, the chart's disruption budget (``minAvailable: 1``, not
    configurable) is turned off so a drain can move istiod. Default: 2."""
    gateway_service_annotations: NotRequired[Mapping[str, str]]
    """Annotations of the gateway's LoadBalancer Service (internal LB, static IP). Default: none."""
    platform: NotRequired[str | None]
    """Istio's ``global.platform`` (``gke`` sets the CNI paths and quotas GKE needs). Default: none."""


def validate_installation(args: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming the input, the bad value and what is accepted (the replica bounds are
    the keys' Settings)."""
    folder = args.get("chart_folder")
    if folder is not None and (missing := missing_charts(folder)):
        raise ValueError(
            f"chart_folder is {folder!r}, which has no {', '.join(f'{m}/Chart.yaml' for m in missing)}; "
            "use the manifests/charts folder of Istio's source tree, or None for the chart repository"
        )
    platform = args.get("platform")
    if platform is not None and platform not in PLATFORMS:
        raise ValueError(f"platform is {platform!r}; use one of {', '.join(PLATFORMS)}, or None")
    name = setting_value(args, IstioInstallationArgs, "gateway_name")
    if not name.startswith("istio-"):
        raise ValueError(
            f"gateway_name is {name!r}; use a name starting with 'istio-' (the chart derives its labels from it)"
        )
