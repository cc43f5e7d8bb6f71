"""``MeshSecurity``: zero-trust defaults for the Triton namespace.

* ``PeerAuthentication`` STRICT for the namespace: only mTLS from mesh workloads.
* ``AuthorizationPolicy`` ``allow-nothing`` (default deny) plus one ALLOW policy with positive
  matches only: from the ingress gateway's namespace, the inference, metadata and health HTTP paths
  and gRPC methods. A DENY policy names the management APIs (repository, config, shared memory,
  statistics, trace, logging) as a second layer behind Triton's own admin key: ``/v2/models/{*}``
  would otherwise also match ``GET /v2/models/stats``.
* Optional JWT: ``RequestAuthentication`` with the issuer's JWKS, and a DENY policy for requests
  without a valid token (a RequestAuthentication alone lets token-less requests through), at the
  ingress gateway (edge: Triton's hosts and paths only, the token forwarded) and at every Triton pod
  (defence in depth, behind mTLS).
* ``NetworkPolicy``: default-deny ingress for the namespace; Triton's serving ports admit only the
  gateway pods, the metrics port only the Prometheus namespace.

Prometheus under STRICT mTLS (default strategy): port 8002 alone is PERMISSIVE (a workload-scoped
``PeerAuthentication``), so any Prometheus scrapes it in plain text with an ordinary
ServiceMonitor; the NetworkPolicy admits only the Prometheus namespace there, and the ALLOW policy
only ``GET /metrics``. Port 8002 serves Prometheus text and nothing else: no inference data, no
management API. A Prometheus that presents Istio's certificates (``metrics_mtls=True``) keeps 8002
STRICT and is authorized by its namespace identity instead.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..common import labels as _labels
from ..common import ports
from ..common.args import check_args, setting_value
from . import istio_authorization as authz
from .security_args import JwtArgs, MeshSecurityArgs, validate_security

SECURITY_API = "security.istio.io/v1"


class MeshSecurity(pulumi.ComponentResource):
    """STRICT mTLS, allow-list authorization, optional JWT and NetworkPolicies for Triton."""

    def __init__(self, name: str, args: MeshSecurityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_args("MeshSecurity", name, args, MeshSecurityArgs)  # misspelt keys and wrong types, before anything else
        validate_security(args)  # before anything is registered: nothing is half-created
        super().__init__("tritonplatform:index:MeshSecurity", name, None, opts)
        # Custom resources wait for their CRDs: the caller's depends_on is named on every child.
        child = pulumi.ResourceOptions(parent=self, depends_on=opts.depends_on if opts else None)
        namespace = args["namespace"]
        workload = _labels.selector_labels(args["instance"])
        labels = _labels.recommended_labels(args["instance"], "mesh-security")
        prometheus = args.get("prometheus_namespace")

        def policy(
            suffix: str,
            kind: str,
            object_name: pulumi.Input[str],
            spec: dict[str, Any],
            in_namespace: pulumi.Input[str] = namespace,
        ) -> None:
            k8s.apiextensions.CustomResource(
                f"{name}-{suffix}",
                api_version=SECURITY_API,
                kind=kind,
                metadata={"name": object_name, "namespace": in_namespace, "labels": labels},
                spec=spec,
                opts=child,
            )

        policy("peer-authentication", "PeerAuthentication", "default", {"mtls": {"mode": "STRICT"}})
        metrics_mtls = setting_value(args, MeshSecurityArgs, "metrics_mtls")
        if prometheus is not None and not metrics_mtls:
            # Port-level exceptions need a workload selector; everything but 8002 stays STRICT.
            policy(
                "metrics-peer-authentication",
                "PeerAuthentication",
                "triton-metrics-plaintext",
                {
                    "selector": {"matchLabels": workload},
                    "mtls": {"mode": "STRICT"},
                    "portLevelMtls": {str(ports.METRICS_PORT): {"mode": "PERMISSIVE"}},
                },
            )
        # An ALLOW policy without rules matches nothing: every request not allowed below is denied.
        policy("allow-nothing", "AuthorizationPolicy", "allow-nothing", {"action": "ALLOW"})
        policy(
            "deny-management",
            "AuthorizationPolicy",
            "triton-deny-management-apis",
            {"selector": {"matchLabels": workload}, "action": "DENY", "rules": authz.management_rules()},
        )
        policy(
            "allow-serving",
            "AuthorizationPolicy",
            "triton-allow-serving",
            {
                "selector": {"matchLabels": workload},
                "action": "ALLOW",
                "rules": authz.serving_rules(args["gateway_namespace"], prometheus, metrics_mtls),
            },
        )

        jwt = args.get("jwt")
        if jwt is not None:
            if setting_value(jwt, JwtArgs, "at_gateway"):
                self._require_jwt_at_gateway(args, jwt, policy)
            policy(
                "request-authentication",
                "RequestAuthentication",
                "triton-jwt",
                {"selector": {"matchLabels": workload}, "jwtRules": [authz.jwt_rule(jwt)]},
            )
            policy(
                "require-jwt",
                "AuthorizationPolicy",
                "triton-require-jwt",
                {"selector": {"matchLabels": workload}, "action": "DENY", "rules": authz.require_token_rules()},
            )

        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata={"name": "default-deny-ingress", "namespace": namespace, "labels": labels},
            spec={"podSelector": {}, "policyTypes": ["Ingress"]},
            opts=child,
        )
        gateway_peer: dict[str, Any] = {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": args["gateway_namespace"]}}
        }
        if args.get("gateway_selector"):
            gateway_peer["podSelector"] = {"matchLabels": dict(args["gateway_selector"])}
        ingress: list[dict[str, Any]] = [
            {
                "from": [gateway_peer],
                "ports": [
                    {"port": ports.HTTP_PORT, "protocol": "TCP"},
                    {"port": ports.GRPC_PORT, "protocol": "TCP"},
                ],
            }
        ]
        if prometheus is not None:
            ingress.append(
                {
                    "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": prometheus}}}],
                    "ports": [{"port": ports.METRICS_PORT, "protocol": "TCP"}],
                }
            )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-triton-ingress",
            metadata={"name": "triton-ingress", "namespace": namespace, "labels": labels},
            spec={"podSelector": {"matchLabels": workload}, "policyTypes": ["Ingress"], "ingress": ingress},
            opts=child,
        )
        self.register_outputs({})

    @staticmethod
    def _require_jwt_at_gateway(args: MeshSecurityArgs, jwt: JwtArgs, policy: Any) -> None:
        """The edge: token-less requests for Triton stop at the gateway, before they cost a hop.

        The gateway's filter must forward the token it validated: it removes it otherwise, and the
        Triton pods' own policies would then refuse every request. The audience is left to the pods:
        a gateway rule with audiences refuses (403), on every host it serves, a token of the same
        issuer made for another application's audience. Named after Triton's namespace, so two
        Triton installations can share one gateway namespace.
        """
        gateway_namespace = args["gateway_namespace"]
        selector = {"selector": {"matchLabels": dict(args["gateway_selector"])}}
        edge_jwt = JwtArgs(issuer=jwt["issuer"], jwks_uri=jwt["jwks_uri"])
        policy(
            "gateway-request-authentication",
            "RequestAuthentication",
            pulumi.Output.concat(args["namespace"], "-jwt"),
            {**selector, "jwtRules": [authz.jwt_rule(edge_jwt, forward_original_token=True)]},
            gateway_namespace,
        )
        policy(
            "gateway-require-jwt",
            "AuthorizationPolicy",
            pulumi.Output.concat(args["namespace"], "-require-jwt"),
            {
                **selector,
                "action": "DENY",
                "rules": authz.gateway_require_token_rules(
                    jwt["issuer"], args.get("gateway_hosts"), setting_value(args, MeshSecurityArgs, "path_prefix")
                ),
            },
            gateway_namespace,
        )
