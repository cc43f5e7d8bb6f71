"""Compose Triton's egress policy: the cloud layer says what its identity needs, the mesh adds istiod."""

from __future__ import annotations

from typing import Any

import pulumi

from triton_components import TritonEgressPolicy, TritonServer
from triton_components.common.args import setting
from triton_components.mesh.istio_install_args import IstioInstallationArgs

from ..clouds.seam import CloudLayer
from ..config.settings import PlatformSettings

#: Where istiod runs: the namespace ``mesh.install`` creates, and where sidecars look for it
#: (``CA_ADDR`` defaults to ``istiod.istio-system.svc:15012``).
ISTIO_SYSTEM_NAMESPACE: str = setting(IstioInstallationArgs, "system_namespace").default


def build_egress(
    settings: PlatformSettings, triton: TritonServer, cloud: CloudLayer | None, opts: pulumi.ResourceOptions | None
) -> TritonEgressPolicy:
    args: dict[str, Any] = {
        "namespace": triton.namespace,
        "instance": triton.pulumi_resource_name,
        "istiod_namespace": ISTIO_SYSTEM_NAMESPACE if settings.mesh.enabled else None,
        "private_https_cidrs": list(settings.triton.egress.private_https_cidrs),
        **(cloud.egress if cloud is not None else {}),
    }
    return TritonEgressPolicy("triton-egress", args, opts)  # type: ignore[arg-type]  # a dict merged from the cloud's keys
