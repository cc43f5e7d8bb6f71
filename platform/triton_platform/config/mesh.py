"""The Istio mesh: routing, canaries, resilience, JWT at the gateway and the install, and the rules
relating them to each other and to the stack (weights summing to 100, a canary needing the mesh,
JWT settings complete, no wildcard host in prod). Each rule names the one key a user has to change."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Literal, cast

from pydantic import AfterValidator, Field

from triton_components.common import versions
from triton_components.common.istio_charts import missing_charts
from triton_components.common.quantities import cpu_millicores, memory_bytes
from triton_components.mesh.routing_args import DEFAULT_RETRY_ON, GatewayTlsArgs, OutlierDetectionArgs, RetryArgs
from triton_components.mesh.security_args import DEFAULT_JWT_AT_GATEWAY, JwtArgs

from .base import Environment, Model, Problem
from .field_docs import from_contract

if TYPE_CHECKING:
    from .settings import PlatformSettings

IMAGE_TAG_PATTERN = r"^[0-9]{2}\.[0-9]{2}(\.[0-9]+)?(-[a-z0-9-]+)?$"
#: An HTTP/2 header name as Envoy matches it: lowercase token, no pseudo-headers.
HEADER_NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
#: A DNS name, optionally with a leading ``*.``, or ``*`` alone.
HOST_PATTERN = r"^(\*|(\*\.)?([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]*[a-z0-9])?)$"
NAMESPACE_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
#: Headers a canary override must not reuse: routing, auth and protocol headers.
RESERVED_HEADERS = frozenset(
    {"host", "authorization", "content-type", "content-length", "te", "grpc-timeout", "triton-model"}
)
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

MAX_RETRY_ATTEMPTS = 2
#: Pod labels of the gateway ``install`` deploys (chart ``gateway``, release ``istio-ingressgateway``).
INSTALLED_GATEWAY_SELECTOR = {"istio": "ingressgateway"}
MAX_EJECTION_PERCENT = 50

Namespace = Annotated[str, Field(pattern=NAMESPACE_PATTERN, max_length=63)]
HeaderName = Annotated[str, Field(pattern=HEADER_NAME_PATTERN, max_length=64)]
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
    namespace: Namespace = "istio-ingress"
    """Namespace of the ingress gateway pods: the only source admitted to Triton's serving ports (8000, 8001)."""
    selector: Annotated[dict[str, str], Field(min_length=1)] = Field(
        default_factory=lambda: dict(INSTALLED_GATEWAY_SELECTOR)
    )
    """Pod labels of the ingress gateway (the default matches the chart ``mesh.install`` installs)."""
    path_prefix: Annotated[str, Field(pattern=r"^(/[a-z0-9][a-z0-9-]*)+$", max_length=64)] = "/triton"
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
    gateway_replicas: Annotated[int, Field(ge=1, le=20)] = 2
    """Minimum ingress gateway replicas; its disruption budget lets one pod go at a time, so one replica never
    blocks a drain."""
    istiod_replicas: Annotated[int, Field(ge=1, le=5)] = 2
    """Minimum istiod replicas: 2 keeps sidecar injection and certificates served through a drain; with 1 (a
    cheap dev cluster) the chart's fixed disruption budget is dropped so it never blocks one."""
    gateway_service_annotations: dict[str, str] = Field(default_factory=dict)
    """Annotations on the gateway's LoadBalancer Service."""
    chart_folder: Annotated[str, Field(min_length=1)] | None = None
    """Install from local chart files in the layout of Istio's ``manifests/charts`` (``base``,
    ``istio-control/istio-discovery``, ``istio-cni``, ``gateway``; relative to the project folder), for
    clusters or CI without access to the chart repository; the version is then whatever the folder holds.
    Unset: Istio's chart repository."""


def _cpu(value: str) -> str:
    """CPU quantity (``4``, ``500m``)"""
    cpu_millicores(value)
    return value


def _memory(value: str) -> str:
    """memory quantity (``16Gi``, ``512Mi``)"""
    memory_bytes(value)
    return value


class SidecarSettings(Model):
    """Resources of the Istio sidecar in each Triton pod: requests = limits, so the pod stays Guaranteed
    QoS (the mesh default, 100m/128Mi requested with 2/1Gi limits, would make it Burstable). They add
    to the model group's own cpu and memory on the GPU node."""

    cpu: Annotated[str, AfterValidator(_cpu)] = "500m"
    """Sidecar CPU request and limit; adds to each pod's size."""
    memory: Annotated[str, AfterValidator(_memory)] = "512Mi"
    """Sidecar memory request and limit; adds to each pod's size."""


class RetrySettings(Model):
    """Bounded retries of every route (each retry repeats GPU work)."""

    # At most 2, checked in ``check_mesh`` (its message names the limit), which the contract's doc states.
    attempts: Annotated[int, Field(ge=0), from_contract(RetryArgs, "attempts")] = 1
    per_try_timeout_seconds: Annotated[
        int, Field(ge=1, le=3600), from_contract(RetryArgs, "per_try_timeout_seconds")
    ] = 30
    # The default retries only failures where Triton never saw the request.
    retry_on: Annotated[list[RetryCondition], Field(min_length=1), from_contract(RetryArgs, "retry_on")] = Field(
        default_factory=lambda: cast(list[RetryCondition], list(DEFAULT_RETRY_ON))
    )


class OutlierDetectionSettings(Model):
    """Passive health checking: pods that keep failing are ejected from their group's load balancing."""

    consecutive_5xx_errors: Annotated[
        int,
        Field(ge=1, le=100, alias="consecutive5xxErrors"),
        from_contract(OutlierDetectionArgs, "consecutive_5xx_errors"),
    ] = 5
    interval_seconds: Annotated[int, Field(ge=1, le=300), from_contract(OutlierDetectionArgs, "interval_seconds")] = 10
    base_ejection_time_seconds: Annotated[
        int, Field(ge=1, le=3600), from_contract(OutlierDetectionArgs, "base_ejection_time_seconds")
    ] = 30
    # At most 50, checked in ``check_mesh``: ejecting pods must never remove all of a small group.
    max_ejection_percent: Annotated[
        int, Field(ge=0, le=100), from_contract(OutlierDetectionArgs, "max_ejection_percent")
    ] = 50


class JwtSettings(Model):
    """Validate end-user JWTs at the ingress gateway (Triton's hosts and paths) and at every Triton pod;
    refuse requests without one (``MeshSecurityArgs.jwt``)."""

    issuer: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    """Token issuer (``iss``); set together with ``jwksUri``."""
    jwks_uri: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    """``https://`` URL of the issuer's signing keys (JWKS); set together with ``issuer``."""
    audiences: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    """Accepted audiences (``aud``). Empty: any."""
    at_gateway: Annotated[bool, from_contract(JwtArgs, "at_gateway")] = DEFAULT_JWT_AT_GATEWAY


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
    request_timeout_seconds: Annotated[int, Field(ge=1, le=3600)] = 60
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


def check_mesh(settings: PlatformSettings) -> Iterator[Problem]:
    yield from _canaries(settings)
    yield from _resilience(settings.mesh)
    yield from _jwt(settings.mesh.jwt)
    if settings.mesh.enabled:
        yield from _gateway(settings)
    elif settings.mesh.install.enabled:
        yield Problem(
            ("mesh", "install", "enabled"), True, "installs Istio for nothing: set mesh.enabled: true, or remove it"
        )
    folder = settings.mesh.install.chart_folder
    if settings.mesh.install.enabled and folder is not None and (missing := missing_charts(folder)):
        yield Problem(
            ("mesh", "install", "chartFolder"),
            folder,
            f"has no {', '.join(f'{m}/Chart.yaml' for m in missing)}: use the manifests/charts folder of Istio's "
            "source tree (relative to the project folder), or remove the key to install from the chart repository",
        )
    if settings.mesh.revision is not None and settings.mesh.install.enabled:
        # The stack's own Istio is the default revision: a revision label would leave its pods uninjected.
        yield Problem(
            ("mesh", "revision"),
            settings.mesh.revision,
            "names a revision of the cluster's own Istio, but mesh.install.enabled installs the default revision: "
            "remove mesh.revision, or set mesh.install.enabled: false",
        )


def _canaries(settings: PlatformSettings) -> Iterator[Problem]:
    for i, group in enumerate(settings.model_groups):
        canary = group.canary
        if canary is None:
            continue
        at = ("modelGroups", i, "canary")
        weights = canary.traffic_percent
        if weights.stable + weights.canary != 100:
            yield Problem(
                (*at, "trafficPercent"),
                {"stable": weights.stable, "canary": weights.canary},
                f"stable {weights.stable} + canary {weights.canary} = {weights.stable + weights.canary}; "
                "the weights must sum to 100",
            )
        if not settings.mesh.enabled:
            yield Problem(
                at,
                "set",
                "needs mesh.enabled: true; without Istio the group's Service spreads requests over stable and "
                "canary pods by pod count and trafficPercent is ignored",
            )
        if canary.override_header is not None and canary.override_header.name in RESERVED_HEADERS:
            yield Problem(
                (*at, "overrideHeader", "name"),
                canary.override_header.name,
                f"is reserved; choose another header name (not one of {', '.join(sorted(RESERVED_HEADERS))})",
            )


def _resilience(mesh: MeshSettings) -> Iterator[Problem]:
    if mesh.retries.attempts > MAX_RETRY_ATTEMPTS:
        yield Problem(
            ("mesh", "retries", "attempts"),
            mesh.retries.attempts,
            f"use 0 to {MAX_RETRY_ATTEMPTS}: every retry repeats the GPU work of an inference request",
        )
    if mesh.retries.attempts and mesh.retries.per_try_timeout_seconds > mesh.request_timeout_seconds:
        yield Problem(
            ("mesh", "retries", "perTryTimeoutSeconds"),
            mesh.retries.per_try_timeout_seconds,
            f"is above requestTimeoutSeconds ({mesh.request_timeout_seconds}); a try can never outlast the request",
        )
    if mesh.outlier_detection.max_ejection_percent > MAX_EJECTION_PERCENT:
        yield Problem(
            ("mesh", "outlierDetection", "maxEjectionPercent"),
            mesh.outlier_detection.max_ejection_percent,
            f"use 0 to {MAX_EJECTION_PERCENT}: with one or two replicas per group, a higher cap lets outlier "
            "detection eject every pod of the group at once",
        )


def _jwt(jwt: JwtSettings | None) -> Iterator[Problem]:
    """Complete (issuer and jwksUri) or absent: half a JWT setup would validate nothing."""
    if jwt is None:
        return
    if jwt.issuer is None and jwt.jwks_uri is None:
        yield Problem(("mesh", "jwt"), {}, "sets neither issuer nor jwksUri; set both, or remove jwt")
    elif jwt.issuer is None or jwt.jwks_uri is None:
        missing, given = ("jwksUri", "issuer") if jwt.jwks_uri is None else ("issuer", "jwksUri")
        yield Problem(
            ("mesh", "jwt", missing),
            None,
            f"is required when jwt.{given} is set; set both issuer and jwksUri, or remove jwt",
        )
    if jwt.jwks_uri is not None and not re.fullmatch(r"https://\S+", jwt.jwks_uri):
        yield Problem(
            ("mesh", "jwt", "jwksUri"),
            jwt.jwks_uri,
            "must be an https:// URL: Istio fetches the token signing keys from it",
        )


def _gateway(settings: PlatformSettings) -> Iterator[Problem]:

    mesh = settings.mesh
    prod = settings.environment is Environment.PROD
    at = ("mesh", "gateway")
    if not mesh.gateway.hosts:
        yield Problem(
            (*at, "hosts"),
            [],
            "is empty; list the host names clients use, e.g. triton.example.com ('*' is accepted outside prod)",
        )
    for j, host in enumerate(mesh.gateway.hosts):
        if prod and host.startswith("*"):
            yield Problem((*at, "hosts", j), host, "wildcard hosts are not allowed in prod; name the host")
    if prod and mesh.gateway.tls is None:
        yield Problem(
            (*at, "tls"),
            None,
            "prod serves clients over TLS only: set tls.credentialName to the certificate Secret in the "
            f"gateway namespace ({mesh.gateway.namespace})",
        )
    if mesh.install.enabled and mesh.gateway.selector != INSTALLED_GATEWAY_SELECTOR:
        yield Problem(
            (*at, "selector"),
            mesh.gateway.selector,
            "does not select the gateway this stack installs (istio: ingressgateway); remove selector, or "
            "set install.enabled: false to use a gateway installed otherwise",
        )
    if settings.triton.model_control_mode == "none" and len(settings.model_groups) > 1:
        for i, group in enumerate(settings.model_groups[1:], start=1):
            yield Problem(
                ("modelGroups", i, "name"),
                group.name,
                "is unreachable through the gateway: with triton.modelControlMode 'none' every group serves the "
                f"whole repository and all requests go to the first group ({settings.model_groups[0].name!r}); "
                "use modelControlMode: explicit with models per group, or one group",
            )
