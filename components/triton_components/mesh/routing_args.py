"""Inputs of ``TritonRouting``: typed args and their defaults.

Kept apart from the component so the pure spec builders in ``istio_routes`` and the component in
``triton_routing`` both depend on the arg types without depending on each other.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, NotRequired, TypedDict

import pulumi

from ..common.args import ArgProblem, Setting, setting, settings_of

DEFAULT_RETRY_ON = ("connect-failure", "refused-stream", "unavailable")
#: An HTTP/2 header name as Envoy matches it: lowercase token, no pseudo-headers.
HEADER_NAME_PATTERN = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
#: Headers a canary override must not reuse: routing, auth and protocol headers.
RESERVED_HEADERS = frozenset(
    {"host", "authorization", "content-type", "content-length", "te", "grpc-timeout", "triton-model"}
)
#: ``TritonRoutingArgs.path_prefix`` when none is given.
DEFAULT_PATH_PREFIX = "/triton"
#: Lowercase path segments, no trailing slash: what Istio's prefix match and rewrite need.
PATH_PREFIX_PATTERN = r"(/[a-z0-9][a-z0-9-]*)+"
#: The gateway's HTTP prefix, shared by the routes and the gateway's JWT rule (``MeshSecurityArgs``).
PATH_PREFIX = Setting(
    DEFAULT_PATH_PREFIX,
    pattern=PATH_PREFIX_PATTERN,
    accepts="a path such as /triton (lowercase segments, no trailing slash)",
)


class CanaryRouteArgs(TypedDict):
    """Traffic split of a group that has a canary Deployment."""

    stable_percent: Annotated[int, Setting(ge=0, le=100)]
    """Percent of requests for the stable subset, 0..100. Required."""
    canary_percent: Annotated[int, Setting(ge=0, le=100)]
    """Percent for the canary subset, 0..100; the two sum to 100. Required."""
    override_header: NotRequired[Mapping[str, str] | None]
    """``{"name": ..., "value": ...}``: requests with this header always reach the canary. Default: none."""


class RouteGroupArgs(TypedDict):
    """One model group as routing sees it."""

    name: str
    """Model group name; names the DestinationRule and routes. Required."""
    service_host: pulumi.Input[str]
    """FQDN of the group's Service, e.g. ``triton-vision.triton.svc.cluster.local``. Required."""
    models: NotRequired[list[str]]
    """Models the group serves, each routed here by path and gRPC header. Default: none (default route only)."""
    canary: NotRequired[CanaryRouteArgs | None]
    """Weights when the group has a canary track. Default: none (all traffic to ``stable``)."""


class GatewayTlsArgs(TypedDict):
    credential_name: str
    """Kubernetes Secret with the certificate, in the gateway's namespace. Required."""
    mode: NotRequired[str]
    """``SIMPLE`` or ``MUTUAL`` (client certificates). Default: ``SIMPLE``."""
    https_redirect: NotRequired[bool]
    """Answer plain HTTP on port 80 with a redirect to HTTPS. Default: True."""


class RetryArgs(TypedDict):
    attempts: Annotated[int, Setting(1, ge=0, le=2)]
    """Retries after the first try, 0..2 (each repeats GPU work). Required."""
    per_try_timeout_seconds: Annotated[int, Setting(30, ge=1, le=3600)]
    """Timeout of each try; at most the request timeout. Required."""
    retry_on: NotRequired[list[str]]
    """Envoy retry conditions. Default: connect-failure, refused-stream, unavailable."""


class OutlierDetectionArgs(TypedDict):
    consecutive_5xx_errors: Annotated[int, Setting(5, ge=1, le=100)]
    """Errors in a row that eject a pod. Required."""
    interval_seconds: Annotated[int, Setting(10, ge=1, le=300)]
    """Sweep interval. Required."""
    base_ejection_time_seconds: Annotated[int, Setting(30, ge=1, le=3600)]
    """Ejection time, multiplied by the number of ejections. Required."""
    max_ejection_percent: Annotated[int, Setting(50, ge=0, le=50)]
    """At most this share of a group's pods ejected at once, 0..50. Required."""


class TritonRoutingArgs(TypedDict):
    """Inputs of ``TritonRouting``."""

    namespace: pulumi.Input[str]
    """Namespace of Triton; the Gateway, VirtualService and DestinationRules go there. Required."""
    hosts: list[str]
    """Host names clients use. Required, at least one."""
    groups: list[RouteGroupArgs]
    """Model groups; the first is the default route. Required, at least one."""
    gateway_selector: NotRequired[Mapping[str, str]]
    """Pod labels of the ingress gateway. Default: ``{"istio": "ingressgateway"}``."""
    tls: NotRequired[GatewayTlsArgs | None]
    """TLS termination at the gateway. Default: none (plain HTTP on port 80)."""
    allow_wildcard_hosts: NotRequired[bool]
    """Accept ``*`` and ``*.domain`` hosts (never in prod). Default: False."""
    path_prefix: NotRequired[Annotated[str, PATH_PREFIX]]
    """External HTTP prefix stripped before Triton. Default: ``/triton``."""
    request_timeout_seconds: NotRequired[Annotated[int, Setting(60, ge=1, le=3600)]]
    """Timeout of every route, retries included. Default: 60."""
    retries: NotRequired[RetryArgs]
    """Bounded retries. Default: 1 attempt, 30 s per try, connect-failure/refused-stream/unavailable."""
    outlier_detection: NotRequired[OutlierDetectionArgs]
    """Passive health checking per group. Default: 5 errors, 10 s interval, 30 s ejection, 50 %."""


DEFAULT_RETRIES = RetryArgs(
    attempts=setting(RetryArgs, "attempts").default,
    per_try_timeout_seconds=setting(RetryArgs, "per_try_timeout_seconds").default,
    retry_on=list(DEFAULT_RETRY_ON),
)
DEFAULT_OUTLIER_DETECTION = OutlierDetectionArgs(
    **{key: found.default for key, found in settings_of(OutlierDetectionArgs).items()}  # type: ignore[typeddict-item]  # every key has a Setting, which a unit test holds
)


def canary_problems(canary: Mapping[str, Any]) -> Iterator[ArgProblem]:
    """What is wrong with a group's canary route beyond single-key limits: weights that do not sum to 100,
    an override header that is not a header name, has no value or is one routing depends on. The
    platform's config reports these at its own keys."""
    stable, weight = canary["stable_percent"], canary["canary_percent"]
    if stable + weight != 100:
        yield ArgProblem(
            ("canary_percent",),
            weight,
            f"with ``stable_percent`` {stable} the two sum to {stable + weight}; the weights must sum to 100",
        )
    header = canary.get("override_header")
    if header is not None:
        name = header.get("name", "")
        if not re.fullmatch(HEADER_NAME_PATTERN, name) or not header.get("value"):
            yield ArgProblem(("override_header",), dict(header), "give a lowercase header name and a value")
        elif name in RESERVED_HEADERS:
            yield ArgProblem(
                ("override_header", "name"),
                name,
                f"is reserved; choose another header name (not one of {', '.join(sorted(RESERVED_HEADERS))})",
            )
