"""Compose Istio routing and mesh security for one environment (owned by the Istio work, issue 4)."""

from __future__ import annotations

from typing import Any

import pulumi

from triton_components import TritonServer

from .config.models import PlatformSettings


def mesh_server_args(settings: PlatformSettings) -> dict[str, Any]:
    """Extra ``TritonServerArgs`` the mesh needs (namespace labels, pod annotations)."""
    return {}


def build_mesh(settings: PlatformSettings, triton: TritonServer, opts: pulumi.ResourceOptions | None) -> dict[str, Any]:
    """Declare the mesh resources; return extra stack outputs."""
    return {}
