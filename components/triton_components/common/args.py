"""One check of a component's args against its ``TypedDict``, shared by every component.

Python does not check a ``TypedDict`` at run time, so a misspelt key used to be ignored (the
default applied silently) and a wrong type failed deep inside with a ``TypeError``. Every component
calls ``check_args`` first thing in ``__init__``, before anything is registered: unknown keys (with
a close match), missing required keys and wrong basic types (``str``, ``int``, ``bool``, lists,
mappings, nested args) fail with the component, the resource name, the key path and what is
accepted. Values a ``TypedDict`` allows as ``pulumi.Input`` may be Outputs; their contents are
checked by the component's own validation or the provider.

A key's default and limits are declared once, on the key itself: ``Annotated[int, Setting(600, ge=30,
le=7200)]`` in the ``TypedDict``. ``check_args`` refuses a value outside the limits, ``setting_value``
gives the value or the default, and the platform's config models read the same ``Setting`` by key
(``setting``), so the stack file and a component's direct users get one default and one rule.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import functools
import re
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, ForwardRef, Literal, NotRequired, Required, Union

import pulumi


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: ``Setting.default`` of a key with no default.
REQUIRED: Any = _Required()


@dataclasses.dataclass(frozen=True)
class Setting:
    """The default and limits of one args key, as ``Annotated`` metadata of its type in the ``TypedDict``.

    ``ge``/``le`` bound a number (inclusive), ``gt``/``lt`` from below/above (exclusive); ``pattern`` is a regular expression a string
    must match in full. Its docstring in the ``TypedDict`` says what the key means and ends with ``Default: ...``, which a
    test holds equal to ``default``.
    """

    default: Any = REQUIRED
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    lt: float | None = None
    pattern: str | None = None
    accepts: str = ""
    """What a matching value looks like, for the message (``pattern`` alone is shown otherwise)."""

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` against the limits (``None`` when it is within them)."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            low = (self.ge is not None and value < self.ge) or (self.gt is not None and value <= self.gt)
            high = (self.le is not None and value > self.le) or (self.lt is not None and value >= self.lt)
            if low or high:
                return f"give a number {self.range()}"
        if self.pattern is not None and isinstance(value, str) and not re.fullmatch(self.pattern, value):
            return f"give {self.accepts or f'a text matching {self.pattern}'}"
        return None

    def range(self) -> str:
        low = f"above {self.gt}" if self.gt is not None else f"from {self.ge}" if self.ge is not None else ""
        if self.lt is not None:
            return f"{low} and below {self.lt}" if low else f"below {self.lt}"
        if low and self.le is not None:
            return f"{low} to {self.le}" if self.gt is None else f"{low} and at most {self.le}"
        if low:
            return low if self.gt is not None else f"of at least {self.ge}"
        return f"of at most {self.le}"


def setting(schema: type, key: str) -> Setting:
    """The ``Setting`` declared on ``schema``'s ``key`` (a ``KeyError`` naming both when there is none)."""
    found = _settings(schema).get(key)
    if found is None:
        raise KeyError(f"{schema.__name__}.{key} declares no Setting (Annotated[T, Setting(...)])")
    return found


def setting_value(args: Mapping[str, Any], schema: type, key: str) -> Any:
    """``args[key]``, or the default its ``Setting`` declares when the key is absent."""
    return args[key] if key in args else setting(schema, key).default


def with_defaults(args: Mapping[str, Any], schema: type) -> dict[str, Any]:
    """``args`` with the declared default of every ``Setting`` key it leaves out (a required key stays out)."""
    defaults = {key: found.default for key, found in _settings(schema).items() if found.default is not REQUIRED}
    return {**defaults, **args}


def settings_of(schema: type) -> dict[str, Setting]:
    """Every key of ``schema`` that declares a ``Setting``, with it."""
    return dict(_settings(schema))


@dataclasses.dataclass(frozen=True)
class ArgProblem:
    """One thing wrong in a component's args, relating several keys: the key to change (``key``, a path
    of args keys), its value and what is accepted (other keys in ````double backticks````). A
    component raises the first (``raise_first``); the platform's config reports every one at the
    stack-file key that maps to ``key``. So a rule is written once, beside the contract."""

    key: tuple[str, ...]
    value: Any
    message: str

    def __str__(self) -> str:
        return f"{'.'.join(self.key)} is {_show(self.value)}: {self.message.replace('``', '')}"


def raise_first(problems: Iterable[ArgProblem]) -> None:
    """``ValueError`` for the first problem, if any."""
    for problem in problems:
        raise ValueError(str(problem))


class ArgsError(TypeError, ValueError):
    """Invalid args for a component: both a ``TypeError`` and a ``ValueError``, so callers catching
    either (the components' own validation raises ``ValueError``) see it."""


def check_args(component: str, name: str, args: Mapping[str, Any], schema: type) -> None:
    """Raise ``ArgsError`` listing every unknown key, missing required key and wrong basic type."""
    problems: list[str] = []
    if isinstance(args, Mapping):
        _check_typeddict(args, schema, "args", problems)
    else:
        problems.append(f"args is {_show(args)} ({type(args).__name__}); give a dict of {schema.__name__}")
    if len(problems) == 1:
        raise ArgsError(f"{component} {name!r}: {problems[0]}")
    if problems:
        lines = [f"{component} {name!r} has {len(problems)} problems in its args:", *(f"  - {p}" for p in problems)]
        raise ArgsError("\n".join(lines))


# ---------------------------------------------------------------------------------------------
# Resolving a TypedDict's fields (``from __future__ import annotations`` leaves them as strings,
# and Python 3.11 then counts every ``NotRequired`` key as required).


class _Output:
    """Stands for ``pulumi.Output``/awaitables inside ``pulumi.Input[T]``."""


def contract_fields(schema: type) -> tuple[dict[str, Any], frozenset[str]]:
    """``({key: annotation}, required keys)`` of an args ``TypedDict``, annotations evaluated and
    ``NotRequired`` unwrapped: the contract ``check_args`` enforces, for whatever else describes the
    args (the component package's schema)."""
    return _fields(schema)


def resolve_annotation(raw: Any, module: str) -> Any:
    """An annotation as written (a string under ``from __future__ import annotations``), evaluated in
    ``module``; ``Any`` when it cannot be."""
    return _resolve(raw, module)


def _fields(schema: type) -> tuple[dict[str, Any], frozenset[str]]:
    """``({key: annotation}, required keys)`` of a TypedDict."""
    fields, required, _ = _contract(schema)
    return fields, required


def _settings(schema: type) -> dict[str, Setting]:
    return _contract(schema)[2]


@functools.cache
def _contract(schema: type) -> tuple[dict[str, Any], frozenset[str], dict[str, Setting]]:
    fields: dict[str, Any] = {}
    required: set[str] = set()
    settings: dict[str, Setting] = {}
    for key, raw in schema.__annotations__.items():
        annotation = _resolve(raw, schema.__module__)
        origin = typing.get_origin(annotation)
        if origin in (NotRequired, Required):
            (annotation,) = typing.get_args(annotation)
        if origin is Required or (origin is not NotRequired and getattr(schema, "__total__", True)):
            required.add(key)
        if typing.get_origin(annotation) is Annotated:
            found = [m for m in annotation.__metadata__ if isinstance(m, Setting)]
            if found:
                settings[key] = found[0]
            annotation = annotation.__origin__
        fields[key] = annotation
    return fields, frozenset(required), settings


def _resolve(raw: Any, module: str) -> Any:
    if isinstance(raw, ForwardRef):
        module = getattr(raw, "__forward_module__", None) or module
        raw = raw.__forward_arg__
    if isinstance(raw, str):
        try:
            return eval(raw, dict(vars(sys.modules[module])))  # trusted: the module's own annotation
        except Exception:  # noqa: BLE001 - an annotation we cannot evaluate is not checked
            return Any
    return raw


def _members(annotation: Any) -> list[Any]:
    """The alternatives of a union (``pulumi.Input[T]`` is ``T | Awaitable[T] | Output[T]``)."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        found: list[Any] = []
        for member in typing.get_args(annotation):
            for inner in _members(member):
                if inner not in found:
                    found.append(inner)
        return found
    if isinstance(annotation, (ForwardRef, str)):
        text = annotation.__forward_arg__ if isinstance(annotation, ForwardRef) else annotation
        return [_Output] if text.startswith("Output") else [Any]
    if typing.get_origin(annotation) is collections.abc.Awaitable or annotation is pulumi.Output:
        return [_Output]
    if typing.get_origin(annotation) is pulumi.Output:
        return [_Output]
    return [annotation]


# ---------------------------------------------------------------------------------------------
# Checking a value


def _check(value: Any, annotation: Any, path: str, problems: list[str]) -> None:
    members = _members(annotation)
    if Any in members or (_Output in members and _is_output(value)):
        return
    attempts = []
    for member in members:
        found: list[str] = []
        _check_one(value, member, path, found)
        if not found:
            return
        attempts.append((member, found))
    shaped = [found for member, found in attempts if _same_shape(value, member)]
    if len(shaped) == 1:
        problems.extend(shaped[0])  # e.g. a dict for a nested args TypedDict: report inside it
    else:
        problems.append(f"{path} is {_show(value)} ({type(value).__name__}); give {_describe(annotation)}")


def _check_one(value: Any, annotation: Any, path: str, problems: list[str]) -> None:
    origin, params = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is type(None):
        ok = value is None
    elif annotation is _Output:
        ok = _is_output(value)
    elif typing.is_typeddict(annotation):
        if isinstance(value, Mapping):
            _check_typeddict(value, annotation, path, problems)
            return
        ok = False
    elif origin is Literal:
        # Only the basic type: which values are accepted is the component's own check, with its message.
        ok = any(type(value) is type(option) for option in params)
    elif annotation is bool:
        ok = isinstance(value, bool)
    elif annotation is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif annotation is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif origin in (list, collections.abc.Sequence, tuple, set, frozenset, collections.abc.Set):
        ok = (
            isinstance(value, (list, tuple, set, frozenset))
            if origin is not collections.abc.Sequence
            else (isinstance(value, collections.abc.Sequence) and not isinstance(value, (str, bytes)))
        )
        if ok and params and origin is not tuple:
            for i, item in enumerate(value):
                _check(item, params[0], f"{path}[{i}]", problems)
    elif origin in (dict, collections.abc.Mapping, collections.abc.MutableMapping):
        ok = isinstance(value, Mapping)
        if ok and len(params) == 2:
            for key, item in value.items():
                _check(key, params[0], f"{path} key {key!r}", problems)
                _check(item, params[1], f"{path}[{key!r}]", problems)
    elif isinstance(annotation, type):
        ok = isinstance(value, annotation)
    else:
        ok = True  # a typing construct this check does not know: not checked
    if not ok:
        problems.append(f"{path} is {_show(value)} ({type(value).__name__}); give {_describe(annotation)}")


def _check_typeddict(value: Mapping[str, Any], schema: type, path: str, problems: list[str]) -> None:
    fields, required = _fields(schema)
    for key in value:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ";"
            problems.append(f"{path} has unknown key {key!r}{hint} Accepted keys: {', '.join(fields)}")
    settings = _settings(schema)
    for key, annotation in fields.items():
        if key in value:
            before = len(problems)
            _check(value[key], annotation, f"{path}.{key}", problems)
            limit = settings[key].problem(value[key]) if key in settings and len(problems) == before else None
            if limit is not None:
                problems.append(f"{path}.{key} is {_show(value[key])}; {limit}")
        elif key in required:
            problems.append(f"{path}.{key} is required")


def _is_output(value: Any) -> bool:
    return isinstance(value, pulumi.Output) or (
        isinstance(value, collections.abc.Awaitable) and not isinstance(value, (str, bytes, Mapping, list))
    )


def _same_shape(value: Any, annotation: Any) -> bool:
    """Whether ``value`` has the container shape ``annotation`` asks for (so problems inside it are
    the better report than 'wrong type')."""
    origin = typing.get_origin(annotation) or annotation
    if typing.is_typeddict(annotation) or origin in (dict, collections.abc.Mapping, collections.abc.MutableMapping):
        return isinstance(value, Mapping)
    if origin in (list, collections.abc.Sequence, tuple, set, frozenset):
        return isinstance(value, (list, tuple, set, frozenset))
    return False


def _describe(annotation: Any) -> str:
    members = _members(annotation)
    if len(members) > 1:
        plain = [_describe(m) for m in members if m is not _Output]
        return " or ".join(plain) + (" (or an Output)" if _Output in members else "")
    (annotation,) = members
    origin, params = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is type(None):
        return "None"
    if annotation is _Output:
        return "an Output"
    if origin is Literal:
        return (
            " or ".join(dict.fromkeys(type(p).__name__ for p in params))
            + " ("
            + ", ".join(repr(p) for p in params)
            + ")"
        )
    if origin in (list, collections.abc.Sequence, tuple, set, frozenset):
        return f"list of {_describe(params[0])}" if params else "list"
    if origin in (dict, collections.abc.Mapping, collections.abc.MutableMapping):
        return f"mapping of {_describe(params[0])} to {_describe(params[1])}" if len(params) == 2 else "mapping"
    if typing.is_typeddict(annotation):
        return str(annotation.__name__)
    return str(getattr(annotation, "__name__", annotation))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
