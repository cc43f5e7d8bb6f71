"""Settings for Istio routing, canaries and mesh security (``triton-platform:mesh``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Iterator

from pydantic import Field

from .base import Model

if TYPE_CHECKING:
    from .models import PlatformSettings
    from .rules import Problem

IMAGE_TAG_PATTERN = r"^[0-9]{2}\.[0-9]{2}(\.[0-9]+)?(-[a-z0-9-]+)?$"


class CanarySettings(Model):
    image_tag: Annotated[str, Field(pattern=IMAGE_TAG_PATTERN)] | None = None
    model_repository_path: str | None = None
    replicas: Annotated[int, Field(ge=1, le=100)] = 1


class MeshSettings(Model):
    enabled: bool = False


def check_mesh(settings: PlatformSettings) -> Iterator[Problem]:
    return iter(())
