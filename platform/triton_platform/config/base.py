"""What every settings module shares: the model base, the environment and the ``Problem`` a rule yields."""

from __future__ import annotations

import ast
import functools
import inspect
import itertools
import re
import sys
import textwrap
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo
from pydantic_core import CoreSchema


class Model(BaseModel):
    """camelCase keys in YAML, unknown keys rejected, immutable once validated.

    Strict: no value is converted into another type, so ``replicas: true`` is an error instead of
    1, ``spot: 1`` instead of true, and ``replicas: "2"`` instead of 2. Stack files give every
    type directly (``pulumi config set --path`` stores numbers and true/false as such).

    Each field's docstring (the string right below it) is its description: the text of its row in
    docs/configuration.md, written for the stack file (camelCase keys, ``unset`` for a key left out).
    A field that mirrors a component's args key takes that contract's docstring (``from_contract``).
    """

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        frozen=True,
        validate_default=True,
        strict=True,
        use_attribute_docstrings=True,
    )


_CONTRACT_DEFAULT = re.compile(r"\s*(Default: .*|Required\.)$", re.DOTALL)
_SNAKE_IN_CODE = re.compile(r"``([a-z][a-z0-9]*(?:_[a-z0-9]+)+)``")


def from_contract(contract: type, key: str, *, unset: bool = False, more: str = "") -> FieldInfo:
    """The description of a field that mirrors ``contract``'s ``key``: that key's docstring, so the
    meaning is written once, beside the component that acts on it.

    The contract's closing ``Default: ...`` (or ``Required.``) sentence is dropped, since the reference
    prints the model's own default; with ``unset`` it is kept as ``Unset: ...``, for a field whose
    default (None) means what the contract says. Snake-case keys in ``code`` become the camelCase
    the stack file spells, and Python's True/False its true/false. ``more`` adds what only the stack file knows (prod rules, other keys).
    """
    text = field_docstrings(contract).get(key)
    if not text:
        raise TypeError(f"{contract.__name__}.{key} has no docstring to describe its config key with")
    found = _CONTRACT_DEFAULT.search(text)
    if found and unset and found.group(1).startswith("Default: "):
        tail = found.group(1).removeprefix("Default: ")
        tail = re.sub(r"^(None|none)(, which\s*|:\s*|\.\s*|\s+)", "", tail)
        text = text[: found.start()] + " Unset: " + tail
    elif found:
        text = text[: found.start()]
    text = _SNAKE_IN_CODE.sub(lambda m: f"``{to_camel(m.group(1))}``", text)
    text = re.sub(r"\b(True|False)\b", lambda m: f"``{m.group(1).lower()}``", text)
    return Field(description=" ".join(part for part in (text, more) if part))


@functools.cache
def field_docstrings(contract: type) -> dict[str, str]:
    """Each field's docstring in a class's source (an args ``TypedDict``'s, and those of the args classes
    it extends), whitespace folded to single spaces."""
    (node,) = ast.parse(textwrap.dedent(inspect.getsource(contract))).body
    assert isinstance(node, ast.ClassDef)
    found: dict[str, str] = {}
    namespace = vars(sys.modules[contract.__module__])
    for base in node.bases:
        if isinstance(base, ast.Name) and inspect.isclass(namespace.get(base.id)) and base.id != "TypedDict":
            found.update(field_docstrings(namespace[base.id]))
    for field, doc in itertools.pairwise(node.body):
        if (
            isinstance(field, ast.AnnAssign)
            and isinstance(field.target, ast.Name)
            and isinstance(doc, ast.Expr)
            and isinstance(doc.value, ast.Constant)
            and isinstance(doc.value.value, str)
        ):
            found[field.target.id] = " ".join(doc.value.value.split())
    return found


class Environment(str, Enum):
    """Kind of environment; ``prod`` turns on the stricter rules."""

    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        # Config gives the name as text; strict mode alone would want an Environment instance.
        schema = handler(source)
        schema["strict"] = False
        return schema


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a stack file: the key path to change, its value and what is accepted."""

    path: tuple[str | int, ...]
    value: Any
    message: str
