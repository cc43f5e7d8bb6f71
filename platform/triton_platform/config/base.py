"""What every settings module shares: the model base, the environment, the ``Problem`` a rule yields and the
field types several concerns use (quantities, DNS labels)."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, cast

from pydantic import AfterValidator, BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic.alias_generators import to_camel
from pydantic_core import CoreSchema

from triton_components.common.args import ArgProblem, contract_fields
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

    def args_for(
        self, contract: type, *, rename: Mapping[str, str] | None = None, drop: Collection[str] = ()
    ) -> dict[str, Any]:
        """This model's settings as ``contract``'s args, by name: every field whose name (or its entry in
        ``rename``: ``{field: key}``) is a key of the args ``TypedDict``, nested models as plain dicts.

        Config keys and component keys share names, so composition passes settings through this and
        writes by hand only what differs (``drop`` the keys it builds itself). A field of the same name
        that the contract does not have stays out: a new setting needs no line here.
        """
        keys = set(contract_fields(contract)[0])
        renames = dict(rename or {})
        found: dict[str, Any] = {}
        for name in type(self).model_fields:
            key = renames.get(name, name)
            if key in keys and key not in drop:
                found[key] = _plain(getattr(self, name))
        return found


def _plain(value: Any) -> Any:
    """Settings values as component args take them: models as dicts, tuples and lists as lists."""
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


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


def contract_problems(
    problems: Iterable[ArgProblem], at: tuple[str | int, ...], rename: Mapping[str, tuple[str, ...]] | None = None
) -> Iterator[Problem]:
    """A component contract's own rule, reported at the stack file's keys: ``at`` is where the settings that
    became the args live, ``rename`` maps an args key to its path under ``at`` where the names differ
    (others are the key in camelCase). Keys in ````double backticks```` in a message are renamed the same
    way, so the user reads the stack file's names."""
    names = dict(rename or {})

    def path(key: str) -> tuple[str, ...]:
        return names.get(key, (to_camel(key),))

    for problem in problems:
        message = re.sub(r"``([a-z0-9_]+)``", lambda m: ".".join(path(m.group(1))), problem.message)
        yield Problem((*at, *[part for key in problem.key for part in path(key)]), problem.value, message)


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
