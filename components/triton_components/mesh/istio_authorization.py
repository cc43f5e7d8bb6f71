"""Triton's API surface as Istio authorization rules: pure functions returning dictionaries.

Allowed from the gateway: inference, metadata and health, over HTTP and gRPC. Denied to every
caller that goes through the mesh: the management APIs (reference: Triton's protocol extensions
for model repository, configuration, shared memory, statistics, trace and logging). Operators reach
those with ``kubectl port-forward`` and the admin key, which bypasses the mesh.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..common import ports
from .istio_routes import GRPC_SERVICE_PREFIX

HTTP = str(ports.HTTP_PORT)
GRPC = str(ports.GRPC_PORT)
METRICS = str(ports.METRICS_PORT)
GRPC_SERVICE = "inference.GRPCInferenceService"
#: Paths use Istio's path templates (Istio 1.22+): ``{*}`` is exactly one path segment.
HTTP_READ_PATHS = (
    "/v2",
    "/v2/health/live",
    "/v2/health/ready",
    "/v2/models/{*}",
    "/v2/models/{*}/ready",
    "/v2/models/{*}/versions/{*}",
    "/v2/models/{*}/versions/{*}/ready",
)
HTTP_INFERENCE_PATHS = tuple(
    f"/v2/models/{{*}}{version}/{action}"
    for action in ("infer", "generate", "generate_stream")
    for version in ("", "/versions/{*}")
)
GRPC_ALLOWED_METHODS = (
    "ServerLive",
    "ServerReady",
    "ModelReady",
    "ServerMetadata",
    "ModelMetadata",
    "ModelInfer",
    "ModelStreamInfer",
)
#: Management APIs, denied to every caller that goes through the mesh (admins port-forward instead).
HTTP_MANAGEMENT_PATHS = (
    "/v2/repository*",
    "/v2/systemsharedmemory*",
    "/v2/cudasharedmemory*",
    "/v2/logging*",
    "/v2/trace*",
    "*/stats",
    "*/config",
    "*/trace/setting",
)
GRPC_MANAGEMENT_METHODS = (
    "ModelConfig",
    "ModelStatistics",
    "RepositoryIndex",
    "RepositoryModelLoad",
    "RepositoryModelUnload",
    "SystemSharedMemoryStatus",
    "SystemSharedMemoryRegister",
    "SystemSharedMemoryUnregister",
    "CudaSharedMemoryStatus",
    "CudaSharedMemoryRegister",
    "CudaSharedMemoryUnregister",
    "TraceSetting",
    "LogSettings",
)


def grpc_paths(methods: tuple[str, ...]) -> list[str]:
    return [f"/{GRPC_SERVICE}/{method}" for method in methods]


def serving_rules(gateway_namespace: str, prometheus_namespace: str | None, metrics_mtls: bool) -> list[dict[str, Any]]:
    """ALLOW rules, positive matches only: the gateway's serving calls, and Prometheus' scrape."""
    rules: list[dict[str, Any]] = [
        {
            "from": [{"source": {"namespaces": [gateway_namespace]}}],
            "to": [
                {"operation": {"ports": [HTTP], "methods": ["GET"], "paths": list(HTTP_READ_PATHS)}},
                {"operation": {"ports": [HTTP], "methods": ["POST"], "paths": list(HTTP_INFERENCE_PATHS)}},
                {
                    "operation": {
                        "ports": [GRPC],
                        "methods": ["POST"],
                        "paths": [*grpc_paths(GRPC_ALLOWED_METHODS), "/grpc.health.v1.Health/Check"],
                    }
                },
            ],
        }
    ]
    if prometheus_namespace is not None:
        metrics: dict[str, Any] = {
            "to": [{"operation": {"ports": [METRICS], "methods": ["GET"], "paths": ["/metrics"]}}]
        }
        if metrics_mtls:
            metrics["from"] = [{"source": {"namespaces": [prometheus_namespace]}}]
        # Otherwise plain-text scrapes carry no peer identity: the NetworkPolicy is the source check.
        rules.append(metrics)
    return rules


def management_rules() -> list[dict[str, Any]]:
    """DENY rules naming every management API; ``/v2/models/{*}`` alone would also allow ``/v2/models/stats``."""
    return [
        {
            "to": [
                {"operation": {"ports": [HTTP], "paths": list(HTTP_MANAGEMENT_PATHS)}},
                {"operation": {"ports": [GRPC], "paths": grpc_paths(GRPC_MANAGEMENT_METHODS)}},
            ]
        }
    ]


def require_token_rules() -> list[dict[str, Any]]:
    """DENY rules for serving requests without a validated JWT (a RequestAuthentication alone admits them)."""
    return [{"from": [{"source": {"notRequestPrincipals": ["*"]}}], "to": [{"operation": {"ports": [HTTP, GRPC]}}]}]


def jwt_rule(jwt: Mapping[str, Any], forward_original_token: bool = False) -> dict[str, Any]:
    """A ``RequestAuthentication`` JWT rule. Istio's filter removes the token from the request once it
    has validated it unless ``forwardOriginalToken`` is set (Envoy's ``forward``, default false)."""
    rule: dict[str, Any] = {"issuer": jwt["issuer"], "jwksUri": jwt["jwks_uri"]}
    if jwt.get("audiences"):
        rule["audiences"] = list(jwt["audiences"])
    if forward_original_token:
        rule["forwardOriginalToken"] = True
    return rule


def gateway_require_token_rules(issuer: str, hosts: list[str] | None, path_prefix: str) -> list[dict[str, Any]]:
    """DENY rules for the ingress gateway: Triton's routes (HTTP under ``path_prefix``, gRPC's inference
    service) on Triton's hosts, for requests without a principal from ``issuer``.

    Scoped so a gateway shared with other applications keeps serving their hosts and paths, its own
    health endpoints included. The principal must come from our issuer: another application's
    RequestAuthentication on the same gateway would otherwise let its tokens through to Triton.
    """
    operation: dict[str, Any] = {"paths": [f"{path_prefix}/*", f"{GRPC_SERVICE_PREFIX}*"]}
    scoped = gateway_host_matches(hosts)
    if scoped is not None:
        operation["hosts"] = scoped
    return [{"from": [{"source": {"notRequestPrincipals": [f"{issuer}/*"]}}], "to": [{"operation": operation}]}]


def gateway_host_matches(hosts: list[str] | None) -> list[str] | None:
    """Authorization ``hosts`` covering what the gateway routes for ``hosts``; None: every host.

    The gateway routes ``name:<any port>`` to ``name`` (Envoy ignores the port when it picks a virtual
    host) while the policy compares the whole ``:authority``, so every name also gets ``name:*``. A
    wildcard name cannot: ``*.example.com:*`` is a literal suffix to Istio. With a wildcard the
    refusal covers Triton's paths on every host instead, failing closed.
    """
    if not hosts or any(h.startswith("*") for h in hosts):
        return None
    return [match for host in hosts for match in (host, f"{host}:*")]
