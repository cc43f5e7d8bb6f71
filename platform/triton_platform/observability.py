"""Compose KEDA autoscaling and Prometheus monitoring for one environment (issue 5)."""

from __future__ import annotations

from typing import Any

import pulumi

from triton_components import TritonServer

from .config.models import PlatformSettings


def build_observability(
    settings: PlatformSettings, triton: TritonServer, opts: pulumi.ResourceOptions | None
) -> dict[str, Any]:
    """Declare monitors, autoscalers, alerts and dashboards; return extra stack outputs."""
    return {}
