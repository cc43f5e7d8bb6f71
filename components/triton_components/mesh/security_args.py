"""Inputs of ``MeshSecurity`` (``MeshSecurityArgs``, ``JwtArgs``), their defaults and their validation.

Apart from the component so the platform's config models read the same contract without loading the
Kubernetes SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, NotRequired, TypedDict

import pulumi

from ..common.args import Setting, setting_value
from .routing_args import PATH_PREFIX

#: Validate tokens at the ingress gateway as well as at the pods, unless a stack opts out.
DEFAULT_JWT_AT_GATEWAY = True


class JwtArgs(TypedDict):
    issuer: str
    """``iss`` of accepted tokens, e.g. ``https://keycloak.example.com/realms/ml``. Required."""
    jwks_uri: str
    """HTTPS URL of the issuer's public keys. Required."""
    audiences: NotRequired[list[str]]
    """Accepted ``aud`` values. Default: any."""
    at_gateway: NotRequired[Annotated[bool, Setting(DEFAULT_JWT_AT_GATEWAY)]]
    """Also validate at the ingress gateway, for Triton's hosts and paths only, and forward the token to
    the pods, which check it again (the audience only there). A gateway validating tokens refuses, on
    every host it serves, a request carrying a token of an issuer no RequestAuthentication there names,
    and its DENY rule, matching on HTTP attributes, refuses plain TCP traffic whole: set False on a
    gateway shared with applications whose tokens come from other issuers, or with TCP or
    TLS-passthrough servers (the pods still enforce the JWT). Default: True."""


class MeshSecurityArgs(TypedDict):
    """Inputs of ``MeshSecurity``."""

    namespace: pulumi.Input[str]
    """Triton's namespace; every policy goes there. Required."""
    instance: str
    """``app.kubernetes.io/instance`` of the Triton release (the ``TritonServer`` name). Required."""
    gateway_namespace: str
    """Namespace of the ingress gateway: the only source of serving traffic. Required."""
    gateway_selector: NotRequired[Mapping[str, str]]
    """Pod labels of the gateway, narrowing the NetworkPolicy further; required with ``jwt`` checked at the
    gateway. Default: any pod in its namespace."""
    prometheus_namespace: NotRequired[Annotated[str | None, Setting(None)]]
    """Namespace allowed to scrape port 8002 in plain text; None keeps the port closed. Default: None."""
    metrics_mtls: NotRequired[Annotated[bool, Setting(False)]]
    """Prometheus scrapes with Istio's certificates: 8002 stays STRICT and only the Prometheus namespace's
    identities may read it. Default: False (plain-text scrape on a PERMISSIVE 8002)."""
    jwt: NotRequired[JwtArgs | None]
    """Require a valid JWT on every serving request, at the Triton pods and (``JwtArgs.at_gateway``) at
    the gateway pods (``gateway_selector`` in ``gateway_namespace``). Default: none."""
    gateway_hosts: NotRequired[list[str] | None]
    """With ``jwt``: the hosts the gateway serves Triton on (``TritonRoutingArgs.hosts``); the gateway
    refuses token-less requests for these only, so other hosts of a shared gateway stay open.
    Default: none (Triton's paths on every host)."""
    path_prefix: NotRequired[Annotated[str, PATH_PREFIX]]
    """With ``jwt``: Triton's HTTP prefix at the gateway (``TritonRoutingArgs.path_prefix``); the gateway
    refuses token-less requests under it and on gRPC's inference service. Default: ``/triton``."""


def validate_security(args: Mapping[str, Any]) -> None:
    for key in ("gateway_namespace", "instance"):
        if not args.get(key):
            raise ValueError(f"{key} is empty; it is required")
    if args.get("prometheus_namespace") == args["gateway_namespace"]:
        raise ValueError(
            f"prometheus_namespace is {args['prometheus_namespace']!r}, the gateway namespace; give Prometheus "
            "its own namespace, or the gateway pods could reach the plain-text metrics port"
        )
    jwt = args.get("jwt")
    if jwt is not None:
        if not jwt.get("issuer") or not jwt.get("jwks_uri"):
            raise ValueError("jwt needs both issuer and jwks_uri")
        if not jwt["jwks_uri"].startswith("https://"):
            raise ValueError(f"jwt.jwks_uri is {jwt['jwks_uri']!r}; use an https:// URL")
    if jwt is not None and setting_value(jwt, JwtArgs, "at_gateway") and not args.get("gateway_selector"):
        raise ValueError(
            "jwt.at_gateway needs gateway_selector (the gateway pods' labels): without one the gateway's "
            "JWT policies would cover every workload of gateway_namespace (the whole mesh in Istio's root "
            "namespace); give the selector, or set jwt.at_gateway False"
        )
