"""The JWT contract of ``MeshSecurity``: no Pulumi resources, so config models can import it."""

from __future__ import annotations

from typing import NotRequired, TypedDict

#: Validate tokens at the ingress gateway as well as at the pods, unless a stack opts out.
DEFAULT_JWT_AT_GATEWAY = True


class JwtArgs(TypedDict):
    issuer: str
    """``iss`` of accepted tokens, e.g. ``https://keycloak.example.com/realms/ml``. Required."""
    jwks_uri: str
    """HTTPS URL of the issuer's public keys. Required."""
    audiences: NotRequired[list[str]]
    """Accepted ``aud`` values. Default: any."""
    at_gateway: NotRequired[bool]
    """Also validate at the ingress gateway, for Triton's hosts and paths only, and forward the token to
    the pods, which check it again (the audience only there). A gateway validating tokens refuses, on
    every host it serves, a request carrying a token of an issuer no RequestAuthentication there names,
    and its DENY rule, matching on HTTP attributes, refuses plain TCP traffic whole: set False on a
    gateway shared with applications whose tokens come from other issuers, or with TCP or
    TLS-passthrough servers (the pods still enforce the JWT). Default: True."""
