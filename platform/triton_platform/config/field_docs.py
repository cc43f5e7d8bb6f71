"""Where each config key's doc is written, and how the reference reads it.

A field's doc is, in this order: its ``Field(description=...)`` (for a text built from a pinned
version), a ``from_contract(...)`` in its ``Annotated`` metadata (a field that mirrors a component's
args key takes that key's docstring, so the meaning is written once, beside the component that acts on
it), or the docstring right below the field. They are read from the source only when the reference is
generated: nothing here runs when a stack's program loads its config.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import re
import sys
import textwrap
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field
from pydantic.alias_generators import to_camel

from triton_components.common.args import REQUIRED, setting

_CONTRACT_DEFAULT = re.compile(r"\s*(Default: .*|Required\.)$", re.DOTALL)
_SNAKE_IN_CODE = re.compile(r"``([a-z][a-z0-9]*(?:_[a-z0-9]+)+)``")


@dataclass(frozen=True)
class FromContract:
    """``Annotated`` metadata of a config field that mirrors ``contract``'s ``key`` (pydantic ignores it).

    ``contract`` is the args class, from its SDK-free ``*_args`` module (the config models stay pure, an
    import contract in pyproject.toml holds them so)."""

    contract: type
    key: str
    unset: bool = False
    more: str = ""

    @property
    def args(self) -> type:
        return self.contract

    def text(self) -> str:
        """The contract key's docstring as the stack file reads it.

        Its closing ``Default: ...`` (or ``Required.``) sentence is dropped, since the reference prints
        the model's own default; with ``unset`` it is kept as ``Unset: ...``, for a field whose default
        (None) means what the contract says. Snake-case keys in ``code`` become the stack file's
        camelCase, and Python's True/False its true/false. ``more`` adds what only the stack file knows
        (prod rules, other keys).
        """
        text = field_docstrings(self.args).get(self.key)
        if not text:
            raise TypeError(f"{self.args.__name__}.{self.key} has no docstring to describe its config key with")
        found = _CONTRACT_DEFAULT.search(text)
        if found and self.unset and found.group(1).startswith("Default: "):
            tail = re.sub(r"^(None|none)(, which\s*|:\s*|\.\s*|\s+)", "", found.group(1).removeprefix("Default: "))
            text = f"{text[: found.start()]} Unset: {tail}"
        elif found:
            text = text[: found.start()]
        text = _SNAKE_IN_CODE.sub(lambda m: f"``{to_camel(m.group(1))}``", text)
        text = re.sub(r"\b(True|False)\b", lambda m: f"``{m.group(1).lower()}``", text)
        return " ".join(part for part in (text, self.more) if part)


def contract_field(
    contract: type, key: str, *, doc: bool = True, unset: bool = False, more: str = "", **field: Any
) -> Any:
    """A config field that is ``contract``'s ``key``: its default and limits are the key's ``Setting``
    (declared once, in the args contract), its doc the key's docstring plus ``more`` (with ``doc=False``:
    the field's own docstring, for a key whose stack-file meaning says more). ``field`` adds what only the
    stack file has (an alias, a length bound, or a ``default`` for a key the component requires)."""
    found = setting(contract, key)
    # A Setting's pattern matches whole values; pydantic's searches, so anchor it (grouped only when needed).
    pattern = found.pattern and (f"^{found.pattern}$" if "|" not in found.pattern else f"^(?:{found.pattern})$")
    default: dict[str, Any] = {"default": found.default}
    if isinstance(found.default, tuple):
        # A sequence default is a tuple in the contract (immutable); the stack file's list gets a fresh copy.
        default = {"default_factory": lambda: list(found.default)}
    elif found.default is REQUIRED:
        # The component requires the key; the stack file may still default it (``field``'s ``default``).
        default = {}
    info = Field(**default, ge=found.ge, le=found.le, gt=found.gt, lt=found.lt, pattern=pattern, **field)
    if doc:
        info.metadata.append(FromContract(contract, key, unset, more))
    return info


def from_contract(contract: type, key: str, *, unset: bool = False, more: str = "") -> FromContract:
    """Document a config field with ``contract``'s ``key`` docstring: ``Annotated[T, from_contract(...)]``."""
    return FromContract(contract, key, unset, more)


def field_doc(model: type[BaseModel], name: str) -> str:
    """The doc of ``model``'s field ``name``, whitespace folded; empty when it has none."""
    field = model.model_fields[name]
    if field.description:
        return " ".join(field.description.split())
    for item in field.metadata:
        if isinstance(item, FromContract):
            return item.text()
    for cls in model.__mro__:
        if name in vars(cls).get("__annotations__", {}):
            return field_docstrings(cls).get(name, "")
    return ""


_DOCSTRINGS: dict[type, dict[str, str]] = {}


def field_docstrings(cls: type) -> dict[str, str]:
    """Each field's docstring in a class's source, and in that of the classes it extends in the same
    module (``TritonModelGroupArgs`` extends ``ModelGroupArgs``), whitespace folded to single spaces."""
    if cls not in _DOCSTRINGS:
        _DOCSTRINGS[cls] = _read_docstrings(cls)
    return _DOCSTRINGS[cls]


def _read_docstrings(cls: type) -> dict[str, str]:
    (node,) = ast.parse(textwrap.dedent(inspect.getsource(cls))).body
    assert isinstance(node, ast.ClassDef)
    found: dict[str, str] = {}
    namespace = vars(sys.modules[cls.__module__])
    for base in node.bases:
        declared = namespace.get(base.id) if isinstance(base, ast.Name) else None
        if isinstance(declared, type) and declared.__module__ == cls.__module__:
            found.update(field_docstrings(declared))
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
