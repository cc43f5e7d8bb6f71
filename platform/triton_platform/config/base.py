"""What every settings module shares: the model base, the environment, the ``Problem`` a rule yields and the
field types several concerns use (quantities, DNS labels)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, cast

from pydantic import AfterValidator, BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic.alias_generators import to_camel
from pydantic_core import CoreSchema

from triton_components.common.quantities import cpu_millicores, memory_bytes


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


def _memory(value: str) -> str:
    """memory quantity (``16Gi``, ``512Mi``)"""
    memory_bytes(value)
    return value


def _cpu(value: str) -> str:
    """CPU quantity (``4``, ``500m``)"""
    cpu_millicores(value)
    return value


def _dns_label(value: str) -> str:
    """DNS label of at most 40 characters"""
    if not re.fullmatch(r"[a-z]([-a-z0-9]{0,38}[a-z0-9])?", value):
        raise ValueError("must be a DNS label of at most 40 characters: lowercase letters, digits and '-'")
    return value


Memory = Annotated[str, AfterValidator(_memory)]
Cpu = Annotated[str, AfterValidator(_cpu)]
DnsLabel = Annotated[str, AfterValidator(_dns_label)]
