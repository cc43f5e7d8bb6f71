"""What every settings module shares: the model base, the environment and the ``Problem`` a rule yields."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic.alias_generators import to_camel
from pydantic_core import CoreSchema


class Model(BaseModel):
    """camelCase keys in YAML, unknown keys rejected, immutable once validated.

    Strict: no value is converted into another type, so ``replicas: true`` is an error instead of
    1, ``spot: 1`` instead of true, and ``replicas: "2"`` instead of 2. Stack files give every
    type directly (``pulumi config set --path`` stores numbers and true/false as such).

    Each field is documented where it is declared, for the stack file (camelCase keys, ``unset`` for a
    key left out): by the docstring right below it, a ``Field(description=...)``, or ``from_contract``
    where it mirrors a component's args key. ``field_docs`` reads them; docs/configuration.md shows them.
    """

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, frozen=True, validate_default=True, strict=True)


class Environment(str, Enum):  # noqa: UP042 - StrEnum changes what str() and format() give for a member
    """Kind of environment; ``prod`` turns on the stricter rules."""

    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        # Config gives the name as text; strict mode alone would want an Environment instance.
        schema = handler(source)
        cast(dict[str, Any], schema)["strict"] = False
        return schema


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a stack file: the key path to change, its value and what is accepted."""

    path: tuple[str | int, ...]
    value: Any
    message: str
