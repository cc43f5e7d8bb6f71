"""Settings for Istio routing, canaries and mesh security (``triton-platform:mesh``).

Structure and single-field limits live in the models; ``check_mesh`` holds the rules that relate
several keys (weights summing to 100, a canary needing the mesh, JWT settings complete, no
wildcard host in prod), each naming the one key a user has to change.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Iterator, Literal

from pydantic import Field

from .base import Model

if TYPE_CHECKING:
    from .models import PlatformSettings
    from .rules import Problem

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
    canary: Percent = 0


class OverrideHeaderSettings(Model):
    """Requests carrying ``<name>: <value>`` always reach the canary (for testing it before it gets weight)."""

    name: HeaderName = "triton-track"
    value: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]+$", max_length=64)] = "canary"


class CanarySettings(Model):
    image_tag: Annotated[str, Field(pattern=IMAGE_TAG_PATTERN)] | None = None
    model_repository_path: str | None = None
    replicas: Annotated[int, Field(ge=1, le=100)] = 1
    #: A new canary starts dark (0 %); shift weight by editing these two numbers.
    traffic_percent: TrafficPercentSettings = TrafficPercentSettings()
    override_header: OverrideHeaderSettings | None = None


class GatewayTlsSettings(Model):
    """TLS termination at the ingress gateway; the certificate Secret lives in the gateway namespace."""

    credential_name: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253)]
    mode: Literal["SIMPLE", "MUTUAL"] = "SIMPLE"
    https_redirect: bool = True


class GatewaySettings(Model):
    hosts: list[Annotated[str, Field(pattern=HOST_PATTERN, max_length=253)]] = Field(default_factory=list)
    #: Namespace of the ingress gateway pods: the only source admitted to Triton's serving ports.
    namespace: Namespace = "istio-ingress"
    #: Pod labels of the ingress gateway (``istio: ingressgateway`` for the chart this platform installs).
    selector: Annotated[dict[str, str], Field(min_length=1)] = Field(
        default_factory=lambda: dict(INSTALLED_GATEWAY_SELECTOR)
    )
    path_prefix: Annotated[str, Field(pattern=r"^(/[a-z0-9][a-z0-9-]*)+$", max_length=64)] = "/triton"
    tls: GatewayTlsSettings | None = None


class IstioInstallSettings(Model):
    """Install Istio (base, istiod, CNI, ingress gateway) from its official Helm charts."""

    enabled: bool = False
    gateway_replicas: Annotated[int, Field(ge=1, le=20)] = 2
    gateway_service_annotations: dict[str, str] = Field(default_factory=dict)


class RetrySettings(Model):
    #: At most 2 (checked in ``check_mesh``): every retry repeats GPU work.
    attempts: Annotated[int, Field(ge=0)] = 1
    per_try_timeout_seconds: Annotated[int, Field(ge=1, le=3600)] = 30
    #: Default: only failures where Triton never saw the request.
    retry_on: Annotated[list[RetryCondition], Field(min_length=1)] = Field(
        default_factory=lambda: ["connect-failure", "refused-stream", "unavailable"]
    )


class OutlierDetectionSettings(Model):
    consecutive_5xx_errors: Annotated[int, Field(ge=1, le=100, alias="consecutive5xxErrors")] = 5
    interval_seconds: Annotated[int, Field(ge=1, le=300)] = 10
    base_ejection_time_seconds: Annotated[int, Field(ge=1, le=3600)] = 30
    #: At most 50 (checked in ``check_mesh``): ejecting pods must never remove all of a small group.
    max_ejection_percent: Annotated[int, Field(ge=0, le=100)] = 50


class JwtSettings(Model):
    """Validate end-user JWTs at every Triton pod and reject requests without one."""

    issuer: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    jwks_uri: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    audiences: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)


class MeshSettings(Model):
    enabled: bool = False
    install: IstioInstallSettings = IstioInstallSettings()
    gateway: GatewaySettings = GatewaySettings()
    request_timeout_seconds: Annotated[int, Field(ge=1, le=3600)] = 60
    retries: RetrySettings = RetrySettings()
    outlier_detection: OutlierDetectionSettings = OutlierDetectionSettings()
    jwt: JwtSettings | None = None
    #: Namespace of the Prometheus that scrapes port 8002; null closes the metrics port entirely.
    prometheus_namespace: Namespace | None = "monitoring"


def check_mesh(settings: PlatformSettings) -> Iterator[Problem]:
    yield from _canaries(settings)
    yield from _resilience(settings.mesh)
    yield from _jwt(settings.mesh.jwt)
    if settings.mesh.enabled:
        yield from _gateway(settings)
    elif settings.mesh.install.enabled:
        yield _problem(("mesh", "install", "enabled"), True, "installs Istio for nothing: set mesh.enabled: true, or remove it")


def _problem(path: tuple[str | int, ...], value: object, message: str) -> Problem:
    from .rules import Problem  # rules imports this module

    return Problem(path, value, message)


def _canaries(settings: PlatformSettings) -> Iterator[Problem]:
    for i, group in enumerate(settings.model_groups):
        canary = group.canary
        if canary is None:
            continue
        at = ("modelGroups", i, "canary")
        weights = canary.traffic_percent
        if weights.stable + weights.canary != 100:
            yield _problem(
                (*at, "trafficPercent"),
                {"stable": weights.stable, "canary": weights.canary},
                f"stable {weights.stable} + canary {weights.canary} = {weights.stable + weights.canary}; "
                "the weights must sum to 100",
            )
        if not settings.mesh.enabled:
            yield _problem(
                at,
                "set",
                "needs mesh.enabled: true; without Istio the group's Service spreads requests over stable and "
                "canary pods by pod count and trafficPercent is ignored",
            )
        if canary.override_header is not None and canary.override_header.name in RESERVED_HEADERS:
            yield _problem(
                (*at, "overrideHeader", "name"),
                canary.override_header.name,
                f"is reserved; choose another header name (not one of {', '.join(sorted(RESERVED_HEADERS))})",
            )


def _resilience(mesh: MeshSettings) -> Iterator[Problem]:
    if mesh.retries.attempts > MAX_RETRY_ATTEMPTS:
        yield _problem(
            ("mesh", "retries", "attempts"),
            mesh.retries.attempts,
            f"use 0 to {MAX_RETRY_ATTEMPTS}: every retry repeats the GPU work of an inference request",
        )
    if mesh.retries.attempts and mesh.retries.per_try_timeout_seconds > mesh.request_timeout_seconds:
        yield _problem(
            ("mesh", "retries", "perTryTimeoutSeconds"),
            mesh.retries.per_try_timeout_seconds,
            f"is above requestTimeoutSeconds ({mesh.request_timeout_seconds}); a try can never outlast the request",
        )
    if mesh.outlier_detection.max_ejection_percent > MAX_EJECTION_PERCENT:
        yield _problem(
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
        yield _problem(("mesh", "jwt"), {}, "sets neither issuer nor jwksUri; set both, or remove jwt")
    elif jwt.issuer is None or jwt.jwks_uri is None:
        missing, given = ("jwksUri", "issuer") if jwt.jwks_uri is None else ("issuer", "jwksUri")
        yield _problem(
            ("mesh", "jwt", missing), None, f"is required when jwt.{given} is set; set both issuer and jwksUri, or remove jwt"
        )
    if jwt.jwks_uri is not None and not re.fullmatch(r"https://\S+", jwt.jwks_uri):
        yield _problem(
            ("mesh", "jwt", "jwksUri"), jwt.jwks_uri, "must be an https:// URL: Istio fetches the token signing keys from it"
        )


def _gateway(settings: PlatformSettings) -> Iterator[Problem]:
    from .models import Environment  # models imports this module

    mesh = settings.mesh
    prod = settings.environment is Environment.PROD
    at = ("mesh", "gateway")
    if not mesh.gateway.hosts:
        yield _problem(
            (*at, "hosts"),
            [],
            "is empty; list the host names clients use, e.g. triton.example.com ('*' is accepted outside prod)",
        )
    for j, host in enumerate(mesh.gateway.hosts):
        if prod and host.startswith("*"):
            yield _problem((*at, "hosts", j), host, "wildcard hosts are not allowed in prod; name the host")
    if prod and mesh.gateway.tls is None:
        yield _problem(
            (*at, "tls"),
            None,
            "prod serves clients over TLS only: set tls.credentialName to the certificate Secret in the "
            f"gateway namespace ({mesh.gateway.namespace})",
        )
    if mesh.install.enabled and mesh.gateway.selector != INSTALLED_GATEWAY_SELECTOR:
        yield _problem(
            (*at, "selector"),
            mesh.gateway.selector,
            "does not select the gateway this stack installs (istio: ingressgateway); remove selector, or "
            "set install.enabled: false to use a gateway installed otherwise",
        )
    if settings.triton.model_control_mode == "none" and len(settings.model_groups) > 1:
        for i, group in enumerate(settings.model_groups[1:], start=1):
            yield _problem(
                ("modelGroups", i, "name"),
                group.name,
                "is unreachable through the gateway: with triton.modelControlMode 'none' every group serves the "
                f"whole repository and all requests go to the first group ({settings.model_groups[0].name!r}); "
                "use modelControlMode: explicit with models per group, or one group",
            )
