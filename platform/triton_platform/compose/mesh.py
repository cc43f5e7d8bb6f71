"""Compose Istio for one environment: optional installation, routing and mesh security.

Order on a fresh cluster, in one ``pulumi up``: the Istio releases (CRDs, sidecar injector, CNI,
gateway) first; then Triton, whose pods must be created after the injector is serving or they run
without a sidecar; then the Istio custom resources, which need the CRDs. ``install_istio`` returns
the options that carry this ordering: ``TritonServer`` depends on the installation, and its
children register only after it; the custom resources name the installation themselves. Previews
work before the CRDs exist because the Kubernetes provider skips the server-side dry run of kinds
the cluster does not know yet.
"""

from __future__ import annotations

import json
from typing import Any, cast

import pulumi

from triton_components import IstioInstallation, MeshSecurity, TritonRouting, TritonServer
from triton_components.mesh.istio_install_args import IstioInstallationArgs
from triton_components.mesh.istio_routes import MODEL_HEADER
from triton_components.mesh.routing_args import RouteGroupArgs, TritonRoutingArgs
from triton_components.mesh.security_args import JwtArgs, MeshSecurityArgs
from triton_components.serving.triton_pod import shutdown_seconds

from ..clouds import stack_cloud
from ..config.base import Environment
from ..config.serving import ModelGroupSettings
from ..config.settings import PlatformSettings

#: Seconds the sidecar keeps forwarding after Triton's latest exit, so Triton's last responses still
#: reach their clients; well inside the pod's ``triton_pod.EXIT_MARGIN_SECONDS``, so the proxy stops by itself.
PROXY_OUTLIVES_TRITON_SECONDS = 2


def mesh_server_args(settings: PlatformSettings) -> dict[str, Any]:
    """Extra ``TritonServerArgs`` the mesh needs (namespace labels, pod annotations)."""
    if not settings.mesh.enabled:
        return {}
    return {
        # istio-injection wins over istio.io/rev, so a revision is selected by its label alone.
        "namespace_labels": (
            {"istio-injection": "enabled"}
            if settings.mesh.revision is None
            else {"istio.io/rev": settings.mesh.revision}
        ),
        "pod_annotations": sidecar_resource_annotations(settings.mesh.sidecar.cpu, settings.mesh.sidecar.memory),
    }


def mesh_group_args(settings: PlatformSettings, group: ModelGroupSettings) -> dict[str, Any]:
    """Extra ``ModelGroupArgs`` of one group: its sidecar's ProxyConfig, sized from the group's shutdown."""
    if not settings.mesh.enabled:
        return {}
    return {"pod_annotations": {"proxy.istio.io/config": json.dumps(proxy_config(group))}}


def proxy_config(group: ModelGroupSettings) -> dict[str, Any]:
    """The sidecar starts before Triton and stops after it.

    Triton downloads models from the object store at start; without a ready proxy those calls fail. At the end,
    a classic sidecar gets SIGTERM with Triton, drains for ``terminationDrainDuration`` (Istio's default:
    5 s) and exits, while Triton still sleeps in preStop and then serves its in-flight requests for up
    to its exit timeout: the drain must outlast both, or those responses are cut. (A native sidecar,
    which Istio injects by itself where every node runs Kubernetes 1.33 or later, already waits for
    Triton to exit; both settings are then unused.)
    """
    triton_done = shutdown_seconds(group.pre_stop_sleep_seconds, group.exit_timeout_seconds)
    return {
        "holdApplicationUntilProxyStarts": True,
        "terminationDrainDuration": f"{triton_done + PROXY_OUTLIVES_TRITON_SECONDS}s",
    }


def sidecar_resource_annotations(cpu: str, memory: str) -> dict[str, str]:
    """The injector sizes the sidecar (and its istio-validation init container) from these; requests
    equal to limits keep the Triton pod Guaranteed QoS, so a busy node never evicts it first."""
    return {
        "sidecar.istio.io/proxyCPU": cpu,
        "sidecar.istio.io/proxyCPULimit": cpu,
        "sidecar.istio.io/proxyMemory": memory,
        "sidecar.istio.io/proxyMemoryLimit": memory,
    }


def install_istio(settings: PlatformSettings, opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions | None:
    """Declare the Istio installation if the stack asks for it; return options that wait for it."""
    mesh = settings.mesh
    if not (mesh.enabled and mesh.install.enabled):
        return opts
    istio = IstioInstallation(
        "istio",
        cast(
            IstioInstallationArgs,
            {
                # By name: the replicas and the gateway Service's annotations; the gateway's namespace.
                **mesh.install.args_for(IstioInstallationArgs, drop={"chart_folder"}),
                **mesh.gateway.args_for(IstioInstallationArgs, rename={"namespace": "gateway_namespace"}),
                "platform": cloud[0].istio_platform if (cloud := stack_cloud(settings)) is not None else None,
                # Only when set, so a stack without it declares exactly what it did before.
                **({"chart_folder": mesh.install.chart_folder} if mesh.install.chart_folder is not None else {}),
            },
        ),
        opts,
    )
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[istio]))


def build_mesh(settings: PlatformSettings, triton: TritonServer, opts: pulumi.ResourceOptions | None) -> dict[str, Any]:
    """Declare routing and security for Triton; return extra stack outputs."""
    mesh = settings.mesh
    if not mesh.enabled:
        return {}
    groups: list[RouteGroupArgs] = []
    for group in settings.model_groups:
        route = RouteGroupArgs(
            name=group.name,
            service_host=pulumi.Output.concat(
                triton.model_groups[group.name].service_name, ".", triton.namespace, ".svc.cluster.local"
            ),
            models=list(group.models),
        )
        if group.canary is not None:
            route["canary"] = group.canary.route_args()
        groups.append(route)

    tls = mesh.gateway.tls
    routing = TritonRouting(
        "triton-routing",
        cast(
            TritonRoutingArgs,
            {
                # By name: the mesh's timeout, retries and outlier detection; the gateway's hosts, prefix, TLS.
                **mesh.args_for(TritonRoutingArgs),
                **mesh.gateway.args_for(TritonRoutingArgs, rename={"selector": "gateway_selector"}, drop={"namespace"}),
                "namespace": triton.namespace,
                "groups": groups,
                "allow_wildcard_hosts": settings.environment is not Environment.PROD,
            },
        ),
        opts,
    )
    jwt = mesh.jwt
    MeshSecurity(
        "triton-mesh-security",
        cast(
            MeshSecurityArgs,
            {
                **mesh.args_for(MeshSecurityArgs, drop={"jwt"}),
                **mesh.gateway.args_for(MeshSecurityArgs, rename=_GATEWAY_KEYS),
                "namespace": triton.namespace,
                "instance": triton.pulumi_resource_name,
                "metrics_mtls": _prometheus_uses_istio_certs(settings),
                "jwt": None if jwt is None or jwt.issuer is None or jwt.jwks_uri is None else jwt.args_for(JwtArgs),
            },
        ),
        opts,
    )
    host = mesh.gateway.hosts[0]
    return {
        "tritonUrl": routing.url,
        "tritonGrpcEndpoint": f"{host}:{443 if tls is not None else 80}",
        "tritonGrpcModelHeader": MODEL_HEADER,
    }


#: ``mesh.gateway`` keys as ``MeshSecurityArgs`` names them (its own ``namespace`` is Triton's).
_GATEWAY_KEYS = {"namespace": "gateway_namespace", "selector": "gateway_selector", "hosts": "gateway_hosts"}


def _prometheus_uses_istio_certs(settings: PlatformSettings) -> bool:
    """The observability settings choose how Prometheus scrapes; plain text unless they ask for Istio certs."""
    return settings.observability.enabled and settings.observability.scrape.tls == "istio-certs"
