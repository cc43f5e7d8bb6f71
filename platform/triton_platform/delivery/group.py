"""The model group a repository is checked and published for: what it loads, what hardware it has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config.settings import PlatformSettings


@dataclass(frozen=True)
class GroupSpec:
    """The model group a repository is checked for: what it loads and what hardware it has."""

    name: str
    #: Models the group loads (``--load-model``); empty with model-control mode ``none`` (all of them).
    models: tuple[str, ...] = ()
    gpus_per_replica: int = 1
    model_control_mode: str = "none"

    @classmethod
    def from_settings(cls, settings: PlatformSettings, group: str | None = None) -> GroupSpec:
        """The named group of a stack (default: the first)."""
        groups = {g.name: g for g in settings.model_groups}
        chosen = groups.get(group) if group else settings.model_groups[0]
        if chosen is None:
            raise ValueError(f"no model group {group!r} in this stack; groups: {', '.join(groups)}")
        return cls(
            name=chosen.name,
            models=tuple(chosen.models),
            gpus_per_replica=chosen.gpus_per_replica,
            model_control_mode=settings.triton.model_control_mode,
        )

    @property
    def explicit(self) -> bool:
        return self.model_control_mode == "explicit"
