"""``TritonEgressPolicy``: default-deny egress for Triton's namespace, and the few destinations it needs.

* DNS: the cluster DNS pods (``kube-dns``, NodeLocal DNSCache's ``node-local-dns``) in
  ``kube-system`` and the link-local DNS addresses a platform serves (NodeLocal DNSCache's
  169.254.20.10; GKE's Cloud DNS answers on the metadata address), UDP and TCP 53.
* istiod on 15012 (configuration and certificates for the sidecar), when the pods are meshed.
  15017 is istiod's webhook port: the API server calls it, workloads never do.
* Node-local endpoints a cloud's workload identity needs, given by the caller (GKE's metadata
  server; nothing on EKS, where IRSA exchanges tokens with STS over HTTPS).
* HTTPS (TCP 443) to public addresses: the model bucket's API (storage.googleapis.com,
  s3.<region>.amazonaws.com), token endpoints (oauth2.googleapis.com, sts.<region>.amazonaws.com).
  These publish no fixed address ranges, so the rule admits 0.0.0.0/0 *except* private, shared
  (100.64/10) and link-local ranges: Triton can still reach the storage APIs wherever they
  resolve, but nothing inside the VPC or cluster (other pods, nodes, the control plane, databases)
  and no metadata endpoint on 443. Private endpoints of those APIs (VPC interface endpoints,
  Private Service Connect) are listed explicitly in ``private_https_cidrs``.

Prometheus scraping and gateway traffic are ingress (``MeshSecurity``); they are not affected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..common import labels as _labels
from ..common.args import check_args, setting_value
from .triton_egress_policy_args import NodeEndpointArgs as NodeEndpointArgs  # keeps its import path from here
from .triton_egress_policy_args import TritonEgressPolicyArgs, validate_egress

#: Ranges the public-HTTPS rule never reaches: RFC 1918, shared address space (CGNAT; some pod
#: ranges live there) and link-local (metadata servers, NodeLocal DNSCache).
NON_PUBLIC_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")
ISTIOD_XDS_PORT = 15012


class TritonEgressPolicy(pulumi.ComponentResource):
    """NetworkPolicies: the namespace denies all egress; Triton's pods reach DNS, istiod, node
    endpoints and public HTTPS only."""

    def __init__(self, name: str, args: TritonEgressPolicyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_args("TritonEgressPolicy", name, args, TritonEgressPolicyArgs)  # misspelt keys and wrong types first
        validate_egress(args)  # before anything is registered: nothing is half-created
        super().__init__("tritonplatform:index:TritonEgressPolicy", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace = args["namespace"]
        labels = _labels.recommended_labels(args["instance"], "egress-policy")

        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata={"name": "default-deny-egress", "namespace": namespace, "labels": labels},
            spec={"podSelector": {}, "policyTypes": ["Egress"]},
            opts=child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-triton",
            metadata={"name": "triton-egress", "namespace": namespace, "labels": labels},
            spec={
                "podSelector": {"matchLabels": _labels.selector_labels(args["instance"])},
                "policyTypes": ["Egress"],
                "egress": egress_rules(args),
            },
            opts=child,
        )
        self.register_outputs({})


def egress_rules(args: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The allow rules of ``triton-egress``, in the order the module docstring explains them."""
    dns_ports = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    dns_peers: list[dict[str, Any]] = [
        {
            "namespaceSelector": {
                "matchLabels": {
                    "kubernetes.io/metadata.name": setting_value(args, TritonEgressPolicyArgs, "dns_namespace")
                }
            },
            "podSelector": {
                "matchExpressions": [
                    {
                        "key": "k8s-app",
                        "operator": "In",
                        "values": list(setting_value(args, TritonEgressPolicyArgs, "dns_pod_labels")),
                    }
                ]
            },
        },
        *({"ipBlock": {"cidr": cidr}} for cidr in setting_value(args, TritonEgressPolicyArgs, "dns_cidrs")),
    ]
    rules: list[dict[str, Any]] = [{"to": dns_peers, "ports": dns_ports}]
    if args.get("istiod_namespace"):
        rules.append(
            {
                "to": [
                    {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": args["istiod_namespace"]}},
                        "podSelector": {"matchLabels": {"app": "istiod"}},
                    }
                ],
                "ports": [{"port": ISTIOD_XDS_PORT, "protocol": "TCP"}],
            }
        )
    for endpoint in args.get("node_endpoints", ()):
        rules.append(
            {
                "to": [{"ipBlock": {"cidr": endpoint["cidr"]}}],
                "ports": [{"port": port, "protocol": "TCP"} for port in endpoint["ports"]],
            }
        )
    https_peers: list[dict[str, Any]] = [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(NON_PUBLIC_RANGES)}}]
    https_peers += [{"ipBlock": {"cidr": cidr}} for cidr in args.get("private_https_cidrs", ())]
    rules.append({"to": https_peers, "ports": [{"port": 443, "protocol": "TCP"}]})
    return rules
