"""Settings for Istio routing, canaries and mesh security (``triton-platform:mesh``).

Structure and single-field limits live in these models; ``mesh_rules.check_mesh`` holds the rules that relate
several keys (weights summing to 100, a canary needing the mesh, JWT settings complete, no
wildcard host in prod), each naming the one key a user has to change.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from triton_components.common.quantities import cpu_millicores, memory_bytes

from .base import Model
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
    #: 2 keeps sidecar injection and certificates served through a drain; 1 (a cheap dev cluster)
    #: drops istiod's disruption budget so it never blocks one.
    istiod_replicas: Annotated[int, Field(ge=1, le=5)] = 2
    gateway_service_annotations: dict[str, str] = Field(default_factory=dict)
    #: ``IstioInstallationArgs.chart_folder``: install from local chart files instead of the repository.
    chart_folder: Annotated[str, Field(min_length=1)] | None = None


def _cpu(value: str) -> str:
    cpu_millicores(value)
    return value


def _memory(value: str) -> str:
    memory_bytes(value)
    return value


class SidecarSettings(Model):
    """Resources of the Istio sidecar in each Triton pod: requests = limits, so the pod stays Guaranteed
    QoS (the mesh default, 100m/128Mi requested with 2/1Gi limits, would make it Burstable). They add
    to the model group's own cpu and memory on the GPU node."""

    cpu: Annotated[str, AfterValidator(_cpu)] = "500m"
    memory: Annotated[str, AfterValidator(_memory)] = "512Mi"


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
    """Validate end-user JWTs at the ingress gateway (Triton's hosts and paths) and at every Triton pod;
    refuse requests without one (``MeshSecurityArgs.jwt``)."""

    issuer: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    jwks_uri: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    audiences: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)


class MeshSettings(Model):
    enabled: bool = False
    install: IstioInstallSettings = IstioInstallSettings()
    #: The cluster's own Istio revision to inject (``istio.io/rev``) where it runs no default
    #: revision; None: the default revision (``istio-injection: enabled``). A revision-only install
    #: ignores the ``istio-injection`` label and has no ``istio-sidecar-injector`` ConfigMap to check.
    revision: Annotated[str, Field(pattern=NAMESPACE_PATTERN, max_length=63)] | None = None
    gateway: GatewaySettings = GatewaySettings()
    request_timeout_seconds: Annotated[int, Field(ge=1, le=3600)] = 60
    retries: RetrySettings = RetrySettings()
    outlier_detection: OutlierDetectionSettings = OutlierDetectionSettings()
    jwt: JwtSettings | None = None
    #: Namespace of the Prometheus that scrapes port 8002; null closes the metrics port entirely.
    prometheus_namespace: Namespace | None = "monitoring"
    sidecar: SidecarSettings = SidecarSettings()
