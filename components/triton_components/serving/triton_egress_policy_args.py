"""Inputs of ``TritonEgressPolicy`` (``TritonEgressPolicyArgs``), their defaults and their validation.

Apart from the component so the platform reads the same contract without loading the Kubernetes SDK.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, NotRequired, TypedDict

import pulumi

from ..common.args import Setting

DEFAULT_DNS_POD_LABELS = ("kube-dns", "node-local-dns")
#: NodeLocal DNSCache's link-local listen address (its documented default).
NODE_LOCAL_DNS_ADDRESS = "169.254.20.10/32"
_LINK_LOCAL = ipaddress.ip_network("169.254.0.0/16")


class NodeEndpointArgs(TypedDict):
    """A node-local service pods must reach, e.g. a metadata server."""

    cidr: str
    """Address range, e.g. ``169.254.169.254/32``. Required."""
    ports: Sequence[int]
    """TCP ports. Required."""


class TritonEgressPolicyArgs(TypedDict):
    """Inputs of ``TritonEgressPolicy``."""

    namespace: pulumi.Input[str]
    """Triton's namespace; both policies go there. Required."""
    instance: str
    """``app.kubernetes.io/instance`` of the Triton release (the ``TritonServer`` name). Required."""
    dns_namespace: NotRequired[Annotated[str, Setting("kube-system")]]
    """Namespace of the cluster DNS pods. Default: ``kube-system``."""
    dns_pod_labels: NotRequired[Annotated[Sequence[str], Setting(DEFAULT_DNS_POD_LABELS)]]
    """``k8s-app`` values of the DNS pods. Default: ``["kube-dns", "node-local-dns"]``."""
    dns_cidrs: NotRequired[Annotated[Sequence[str], Setting((NODE_LOCAL_DNS_ADDRESS,))]]
    """Link-local DNS addresses. Default: ``["169.254.20.10/32"]`` (NodeLocal DNSCache)."""
    istiod_namespace: NotRequired[Annotated[str | None, Setting(None)]]
    """Namespace of istiod when the pods carry a sidecar; None for no mesh. Default: None."""
    node_endpoints: NotRequired[Sequence[NodeEndpointArgs]]
    """Node-local services to reach (metadata servers). Default: none."""
    private_https_cidrs: NotRequired[Sequence[str]]
    """Private addresses of the storage or token APIs (VPC interface endpoints, Private Service
    Connect), reachable on 443. Default: none."""


def validate_egress(args: Mapping[str, Any]) -> None:
    if not args.get("instance"):
        raise ValueError("instance is empty; it is required")
    for key in ("dns_cidrs", "private_https_cidrs"):
        for cidr in args.get(key, ()):
            _network(key, cidr)
    for cidr in args.get("private_https_cidrs", ()):
        if _network("private_https_cidrs", cidr).overlaps(_LINK_LOCAL):
            raise ValueError(
                f"private_https_cidrs has {cidr!r}, which overlaps the link-local range 169.254.0.0/16 (metadata "
                "servers); give node endpoints with their exact ports in node_endpoints instead"
            )
    for endpoint in args.get("node_endpoints", ()):
        _network("node_endpoints", endpoint["cidr"])
        if not endpoint["ports"] or any(not 0 < p < 65536 for p in endpoint["ports"]):
            raise ValueError(f"node_endpoints {endpoint['cidr']} has ports {list(endpoint['ports'])}; give 1 to 65535")


def _network(key: str, cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(cidr)
    except ValueError:
        raise ValueError(f"{key} has {cidr!r}, which is not a CIDR such as 10.0.0.0/24") from None
