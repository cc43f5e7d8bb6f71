"""Settings for Istio routing, canaries and mesh security (``triton-platform:mesh``).

Structure and single-field limits live in these models; ``mesh_rules.check_mesh`` holds the rules that relate
several keys (weights summing to 100, a canary needing the mesh, JWT settings complete, no
wildcard host in prod), each naming the one key a user has to change.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, cast

from pydantic import Field

from triton_components.common import versions
from triton_components.mesh.istio_install_args import IstioInstallationArgs
from triton_components.mesh.routing_args import (
    DEFAULT_RETRY_ON,
    HEADER_NAME_PATTERN,
    CanaryRouteArgs,
    GatewayTlsArgs,
    OutlierDetectionArgs,
    RetryArgs,
    TritonRoutingArgs,
)
from triton_components.mesh.security_args import JwtArgs

from .base import Cpu, Memory, Model
from .field_docs import contract_field, from_contract

IMAGE_TAG_PATTERN = r"^[0-9]{2}\.[0-9]{2}(\.[0-9]+)?(-[a-z0-9-]+)?$"
#: An HTTP/2 header name as Envoy matches it: lowercase token, no pseudo-headers.
#: A DNS name, optionally with a leading ``*.``, or ``*`` alone.
HOST_PATTERN = r"^(\*|(\*\.)?([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]*[a-z0-9])?)$"
NAMESPACE_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
#: Envoy retry conditions (``HTTPRetry.retryOn``) a stack may list.
RetryCondition = Literal[
    "connect-failure",
    "refused-stream",
    "unavailable",
    "cancelled",
    "deadline-exceeded",
    "resource-exhausted",
    "reset",
    "gateway-error",
    "5xx",
    "retriable-4xx",
]

#: Pod labels of the gateway ``install`` deploys (chart ``gateway``, release ``istio-ingressgateway``).
INSTALLED_GATEWAY_SELECTOR = {"istio": "ingressgateway"}

Namespace = Annotated[str, Field(pattern=NAMESPACE_PATTERN, max_length=63)]
HeaderName = Annotated[str, Field(pattern=f"^{HEADER_NAME_PATTERN}$", max_length=64)]
Percent = Annotated[int, Field(ge=0, le=100)]


class TrafficPercentSettings(Model):
    """Share of a model group's requests per track, in whole percent; the two must sum to 100."""

    stable: Percent = 100
    """Percent of the group's requests for the stable Deployment."""
    canary: Percent = 0
    """Percent for the canary; the two sum to 100."""


class OverrideHeaderSettings(Model):
    """Requests carrying ``<name>: <value>`` always reach the canary (for testing it before it gets weight)."""

    name: HeaderName = "triton-track"
    """Header name (not a routing, auth or protocol header)."""
    value: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]+$", max_length=64)] = "canary"
    """Header value that selects the canary."""


class CanarySettings(Model):
    image_tag: Annotated[str, Field(pattern=IMAGE_TAG_PATTERN)] | None = None
    """Triton release of the canary (never pinned by ``triton.imageDigest``). Unset: the group's."""
    model_repository_path: str | None = None
    """Folder in the model bucket the canary reads. Unset: the group's repository."""
    replicas: Annotated[int, Field(ge=1, le=100)] = 1
    """Canary replicas."""
    traffic_percent: TrafficPercentSettings = TrafficPercentSettings()
    """Traffic split between the tracks (needs ``mesh.enabled``); a new canary starts dark (0 %): shift weight
    by editing these two numbers."""
    override_header: OverrideHeaderSettings | None = None
    """Requests with this header always reach the canary. Unset: off."""

    def route_args(self) -> CanaryRouteArgs:
        """The canary's ``CanaryRouteArgs``: the weights, and the override header when set."""
        args = CanaryRouteArgs(stable_percent=self.traffic_percent.stable, canary_percent=self.traffic_percent.canary)
        if self.override_header is not None:
            args["override_header"] = {"name": self.override_header.name, "value": self.override_header.value}
        return args

    #: Where ``CanaryRouteArgs`` keys live under ``canary`` in the stack file.
    ROUTE_KEYS: ClassVar[dict[str, tuple[str, ...]]] = {
        "stable_percent": ("trafficPercent", "stable"),
        "canary_percent": ("trafficPercent", "canary"),
        "override_header": ("overrideHeader",),
    }


class GatewayTlsSettings(Model):
    """TLS termination at the ingress gateway; the certificate Secret lives in the gateway namespace."""

    credential_name: Annotated[
        str,
        Field(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253),
        from_contract(GatewayTlsArgs, "credential_name"),
    ]
    mode: Annotated[Literal["SIMPLE", "MUTUAL"], from_contract(GatewayTlsArgs, "mode")] = "SIMPLE"
    https_redirect: Annotated[bool, from_contract(GatewayTlsArgs, "https_redirect")] = True


class GatewaySettings(Model):
    """The Istio Gateway and routes in front of Triton."""

    hosts: list[Annotated[str, Field(pattern=HOST_PATTERN, max_length=253)]] = Field(default_factory=list)
    """Host names clients use; required with ``mesh.enabled``; ``*`` and ``*.domain`` only outside prod."""
    namespace: Namespace = contract_field(IstioInstallationArgs, "gateway_namespace", doc=False)
    """Namespace of the ingress gateway pods: the only source admitted to Triton's serving ports (8000, 8001)."""
    selector: Annotated[dict[str, str], Field(min_length=1)] = Field(
        default_factory=lambda: dict(INSTALLED_GATEWAY_SELECTOR)
    )
    """Pod labels of the ingress gateway (the default matches the chart ``mesh.install`` installs)."""
    path_prefix: str = contract_field(TritonRoutingArgs, "path_prefix", doc=False, max_length=64)
    """External HTTP prefix, rewritten to ``/`` before Triton."""
    tls: GatewayTlsSettings | None = None
    """TLS termination at the gateway; required in prod. Unset: plain HTTP on port 80."""


class IstioInstallSettings(Model):
    """Install Istio (base, istiod, CNI, ingress gateway) from its official Helm charts."""

    enabled: bool = Field(
        default=False,
        description=f"Install Istio {versions.ISTIO_VERSION} (``base``, ``istiod``, ``cni``, ``gateway``; pinned in "
        "``versions.py``, CNI on). Leave it off if the cluster has Istio 1.22 or later with CNI (its injector's "
        "``pilot.cni.enabled`` is checked at preview).",
    )
    gateway_replicas: int = contract_field(IstioInstallationArgs, "gateway_replicas", doc=False)
    """Minimum ingress gateway replicas; its disruption budget lets one pod go at a time, so one replica never
    blocks a drain."""
    istiod_replicas: int = contract_field(IstioInstallationArgs, "istiod_replicas", doc=False)
    """Minimum istiod replicas: 2 keeps sidecar injection and certificates served through a drain; with 1 (a
    cheap dev cluster) the chart's fixed disruption budget is dropped so it never blocks one."""
    gateway_service_annotations: dict[str, str] = Field(default_factory=dict)
    """Annotations on the gateway's LoadBalancer Service."""
    chart_folder: Annotated[str, Field(min_length=1)] | None = None
    """Install from local chart files in the layout of Istio's ``manifests/charts`` (``base``,
    ``istio-control/istio-discovery``, ``istio-cni``, ``gateway``; relative to the project folder), for
    clusters or CI without access to the chart repository; the version is then whatever the folder holds.
    Unset: Istio's chart repository."""


class SidecarSettings(Model):
    """Resources of the Istio sidecar in each Triton pod: requests = limits, so the pod stays Guaranteed
    QoS (the mesh default, 100m/128Mi requested with 2/1Gi limits, would make it Burstable). They add
    to the model group's own cpu and memory on the GPU node."""

    cpu: Cpu = "500m"
    """Sidecar CPU request and limit; adds to each pod's size."""
    memory: Memory = "512Mi"
    """Sidecar memory request and limit; adds to each pod's size."""


class RetrySettings(Model):
    """Bounded retries of every route (each retry repeats GPU work)."""

    attempts: int = contract_field(RetryArgs, "attempts")
    per_try_timeout_seconds: int = contract_field(RetryArgs, "per_try_timeout_seconds")
    # The default retries only failures where Triton never saw the request.
    retry_on: Annotated[list[RetryCondition], Field(min_length=1), from_contract(RetryArgs, "retry_on")] = Field(
        default_factory=lambda: cast(list[RetryCondition], list(DEFAULT_RETRY_ON))
    )


class OutlierDetectionSettings(Model):
    """Passive health checking: pods that keep failing are ejected from their group's load balancing."""

    consecutive_5xx_errors: int = contract_field(
        OutlierDetectionArgs, "consecutive_5xx_errors", alias="consecutive5xxErrors"
    )
    interval_seconds: int = contract_field(OutlierDetectionArgs, "interval_seconds")
    base_ejection_time_seconds: int = contract_field(OutlierDetectionArgs, "base_ejection_time_seconds")
    max_ejection_percent: int = contract_field(OutlierDetectionArgs, "max_ejection_percent")


class JwtSettings(Model):
    """Validate end-user JWTs at the ingress gateway (Triton's hosts and paths) and at every Triton pod;
    refuse requests without one (``MeshSecurityArgs.jwt``)."""

    issuer: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    """Token issuer (``iss``); set together with ``jwksUri``."""
    jwks_uri: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    """``https://`` URL of the issuer's signing keys (JWKS); set together with ``issuer``."""
    audiences: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    """Accepted audiences (``aud``). Empty: any."""
    at_gateway: bool = contract_field(JwtArgs, "at_gateway")


class MeshSettings(Model):
    enabled: bool = False
    """Istio sidecars, routing and security for Triton."""
    install: IstioInstallSettings = IstioInstallSettings()
    """Istio installed by this stack."""
    revision: Annotated[str, Field(pattern=NAMESPACE_PATTERN, max_length=63)] | None = None
    """The cluster's own Istio revision (``mesh.install.enabled: false`` only) where it runs no default
    revision: the Triton namespace gets ``istio.io/rev: <revision>`` and preview checks
    ``istio-system/istio-sidecar-injector-<revision>``. Unset: the default revision
    (``istio-injection: enabled``)."""
    gateway: GatewaySettings = GatewaySettings()
    """The gateway Triton is reached through."""
    request_timeout_seconds: int = contract_field(TritonRoutingArgs, "request_timeout_seconds", doc=False)
    """Timeout of every route, retries included."""
    retries: RetrySettings = RetrySettings()
    """Bounded retries (each repeats GPU work)."""
    outlier_detection: OutlierDetectionSettings = OutlierDetectionSettings()
    """Passive health checking per group (at most 50 % of a group ejected)."""
    jwt: JwtSettings | None = None
    """End-user JWT validation: when set, every serving request needs a valid token. Unset: off."""
    prometheus_namespace: Namespace | None = "monitoring"
    """Namespace of the Prometheus that scrapes port 8002 (the only one admitted); null closes the metrics
    port entirely."""
    sidecar: SidecarSettings = SidecarSettings()
    """Resources of the Istio sidecar in each Triton pod."""
