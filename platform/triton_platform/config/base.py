"""What every settings module shares: the model base, the environment and the ``Problem`` a rule yields."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Model(BaseModel):
    """camelCase keys in YAML, unknown keys rejected, immutable once validated."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, frozen=True, validate_default=True)


class Environment(str, Enum):
    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a stack file: the key path to change, its value and what is accepted."""

    path: tuple[str | int, ...]
    value: Any
    message: str
