"""Settings for KEDA autoscaling and Prometheus monitoring (``triton-platform:observability``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Iterator

from pydantic import Field

from .base import Model

if TYPE_CHECKING:
    from .models import PlatformSettings
    from .rules import Problem


class AutoscalingSettings(Model):
    min_replicas: Annotated[int, Field(ge=0, le=100)] = 1
    max_replicas: Annotated[int, Field(ge=1, le=100)] = 3


class ObservabilitySettings(Model):
    enabled: bool = False


def check_observability(settings: PlatformSettings) -> Iterator[Problem]:
    return iter(())
