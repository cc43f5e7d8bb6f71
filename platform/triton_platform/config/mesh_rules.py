"""Rules relating mesh settings to each other and to the stack: weights summing to 100, a canary
needing the mesh, JWT settings complete, no wildcard host in prod. Each names the one key a user
has to change."""

from __future__ import annotations

import re
from collections.abc import Iterator

from triton_components.common.istio_charts import missing_charts
from triton_components.mesh.routing_args import canary_problems

from .base import Environment, Problem, contract_problems
from .mesh import (
    INSTALLED_GATEWAY_SELECTOR,
    JwtSettings,
    MeshSettings,
)
from .settings import PlatformSettings


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
        # The route contract's own rules: weights summing to 100, a usable override header.
        yield from contract_problems(canary_problems(canary.route_args()), at, canary.ROUTE_KEYS)
        if not settings.mesh.enabled:
            yield Problem(
                at,
                "set",
                "needs mesh.enabled: true; without Istio the group's Service spreads requests over stable and "
                "canary pods by pod count and trafficPercent is ignored",
            )


def _resilience(mesh: MeshSettings) -> Iterator[Problem]:
    if mesh.retries.attempts and mesh.retries.per_try_timeout_seconds > mesh.request_timeout_seconds:
        yield Problem(
            ("mesh", "retries", "perTryTimeoutSeconds"),
            mesh.retries.per_try_timeout_seconds,
            f"is above requestTimeoutSeconds ({mesh.request_timeout_seconds}); a try can never outlast the request",
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
