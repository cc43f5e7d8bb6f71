"""Mesh: the Istio installation, the Gateway/VirtualService/DestinationRules in front of Triton and
the zero-trust defaults (mTLS, authorization policies, ingress NetworkPolicies)."""

from .istio_install import IstioInstallation
from .istio_install_args import IstioInstallationArgs
from .mesh_security import MeshSecurity
from .routing_args import (
    CanaryRouteArgs,
    GatewayTlsArgs,
    OutlierDetectionArgs,
    RetryArgs,
    RouteGroupArgs,
    TritonRoutingArgs,
)
from .security_args import JwtArgs, MeshSecurityArgs
from .triton_routing import TritonRouting

__all__ = [
    "CanaryRouteArgs",
    "GatewayTlsArgs",
    "IstioInstallation",
    "IstioInstallationArgs",
    "JwtArgs",
    "MeshSecurity",
    "MeshSecurityArgs",
    "OutlierDetectionArgs",
    "RetryArgs",
    "RouteGroupArgs",
    "TritonRouting",
    "TritonRoutingArgs",
]
