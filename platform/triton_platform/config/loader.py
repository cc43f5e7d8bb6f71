"""Turn a stack's ``triton-platform:*`` config into ``PlatformSettings`` or one clear error.

The same function serves the Pulumi program (config from the engine) and the CLI (config from
``Pulumi.<stack>.yaml``), so ``validate``, ``render`` and ``pulumi up`` report identical messages.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

import pulumi
from pydantic import BaseModel, ValidationError

from .observability_rules import check_alert_receiver
from .rules import check
from .settings import SECRET_KEYS, PlatformSettings, cloud_sections, settings_model

PROJECT = "triton-platform"
#: Other namespaces a stack file may hold: the providers this program uses read their own keys
#: (``kubernetes:context``, each cloud's provider its own, ...) and ``pulumi:`` is Pulumi's own.
#: Any other namespace is read by nothing here, so it is an error (most often a misspelt
#: ``triton-platform``), as is a key without a namespace.
NEUTRAL_NAMESPACES = ("kubernetes", "pulumi", "random")


def provider_namespaces() -> tuple[str, ...]:
    """The neutral providers' namespaces and each registered cloud's (its provider's, named as its section)."""
    return tuple(sorted({*NEUTRAL_NAMESPACES, *(section.key for section in cloud_sections())}))


class ConfigError(pulumi.RunError):
    """Invalid stack configuration. A ``RunError``, so Pulumi prints the message without a traceback."""

    def __init__(self, stack_file: str, problems: list[str]) -> None:
        self.stack_file = stack_file
        self.problems = problems
        count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
        lines = [f"Invalid configuration in {stack_file} ({count}):", *(f"  - {p}" for p in problems)]
        super().__init__("\n".join(lines))


def namespace_values(config: Mapping[str, Any]) -> dict[str, Any]:
    """Our keys without the ``triton-platform:`` prefix; objects decoded from Pulumi's JSON strings."""
    values: dict[str, Any] = {}
    for full_key, raw in config.items():
        namespace, _, key = full_key.partition(":")
        if namespace != PROJECT or not key:
            continue
        value = raw
        if isinstance(raw, str) and raw[:1] in "[{":
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                value = raw
        values[key] = value
    return values


def load_settings(
    config: Mapping[str, Any], stack_file: str, secret_keys: frozenset[str] = frozenset()
) -> PlatformSettings:
    """Validate every ``triton-platform:*`` key; raise ``ConfigError`` listing every problem."""
    values = namespace_values(config)
    problems = [p for key in config if (p := _foreign_key_problem(key))]
    secrets_given = frozenset(key for key in SECRET_KEYS if key in values)
    for key in SECRET_KEYS:
        if key in values and f"{PROJECT}:{key}" not in secret_keys:
            problems.append(f"{PROJECT}:{key}: is stored in plain text; set it with `pulumi config set --secret {key}`")
        values.pop(key, None)
    try:
        settings = settings_model().model_validate(values)
    except ValidationError as error:
        problems += [_describe(e) for e in error.errors()]
        raise ConfigError(stack_file, problems) from None
    problems += [_format(p.path, p.value, p.message) for p in check_alert_receiver(settings, secrets_given)]
    # A missing value reads "(not set)" already; any other default says so and which key changes it.
    problems += [describe(settings, p) for p in check(settings)]
    if problems:
        raise ConfigError(stack_file, problems)
    return settings


def _foreign_key_problem(full_key: str) -> str | None:
    """Why a config key is read by nothing (no namespace, or a namespace no one reads), or None."""
    namespace, colon, key = full_key.partition(":")
    if not colon:
        return f"{full_key}: has no namespace, so nothing reads it; write {PROJECT}:{full_key}"
    providers = provider_namespaces()
    if namespace == PROJECT or namespace in providers:
        return None if key else f"{full_key}: has no key name after the namespace"
    readers = f"{PROJECT} and the providers' {', '.join(providers)}"
    close = difflib.get_close_matches(namespace, [PROJECT, *providers], n=1, cutoff=0.75)
    if close:
        return (
            f"{full_key}: no program reads the namespace {namespace!r}; did you mean {close[0]}:{key}? "
            f"This stack reads {readers}"
        )
    return f"{full_key}: no program reads the namespace {namespace!r}; this stack reads {readers}"


def describe(settings: PlatformSettings, problem: Any) -> str:
    """One line for a ``Problem`` of valid settings: key path, value (and whether it is a default), message."""
    note = _default_note(settings, problem.path) if problem.value is not None else ""
    return _format(problem.path, problem.value, problem.message, note)


def _format(path: tuple[str | int, ...], value: Any, message: str, note: str = "") -> str:
    return f"{key_path(path)} = {_show(value)}{note}: {message}"


def _default_note(settings: BaseModel, path: tuple[str | int, ...]) -> str:
    """`` (default; ...)`` when the stack file never wrote the key at ``path`` (nor maybe its parent), else ''.

    A problem in a value the user never wrote reads as a mystery unless it says where the value came
    from and which key to write to change it: the first key along the path the file leaves out."""
    node: Any = settings
    for depth, part in enumerate(path):
        if isinstance(part, int):
            if not isinstance(node, (list, tuple)) or part >= len(node):
                return ""
            node = node[part]
            continue
        if not isinstance(node, BaseModel):
            return ""
        name = next((n for n, f in type(node).model_fields.items() if (f.alias or n) == part), None)
        if name is None:
            return ""
        if name not in node.model_fields_set:
            if depth == len(path) - 1:
                return " (default; set this key to change it)"
            return f" (default, as the stack file has no {key_path(path[: depth + 1])}; set this key to change it)"
        node = getattr(node, name)
    return ""


def key_path(path: tuple[str | int, ...]) -> str:
    text = f"{PROJECT}:"
    for i, part in enumerate(path):
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if i else "") + str(part)
    return text


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        text = json.dumps(value, sort_keys=True)
        return text if len(text) <= 60 else text[:57] + "..."
    if value is None:
        return "(not set)"
    return repr(value) if isinstance(value, str) else json.dumps(value)


def _describe(error: Mapping[str, Any]) -> str:
    path = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        accepted = _accepted_keys(path[:-1])
        return f"{key_path(path)}: unknown key; accepted keys here: {', '.join(accepted)}"
    if kind == "missing":
        return f"{key_path(path)}: is required"
    message = error["msg"].removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        message = f"does not have the accepted form (regular expression {error['ctx']['pattern']})"
    return f"{key_path(path)} = {_show(error.get('input'))}: {message}"


def _accepted_keys(path: tuple[str | int, ...]) -> list[str]:
    """The camelCase keys the model accepts at ``path`` (for 'unknown key' messages)."""
    model: Any = settings_model()
    for part in path:
        if isinstance(part, int):
            continue
        field = next((f for f in model.model_fields.values() if f.alias == part), None)
        if field is None:
            return []
        model = _model_of(field.annotation)
    keys = [f.alias or name for name, f in model.model_fields.items()] if model else []
    return keys + (list(SECRET_KEYS) if not path else [])


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def from_pulumi_config() -> PlatformSettings:
    """Inside a Pulumi program: validate the current stack's config."""
    from pulumi.runtime import config as runtime_config

    config = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret_keys = frozenset(
        k for k in config if pulumi.runtime.is_config_secret(k) or k in runtime_config.get_config_secret_keys_env()
    )
    return load_settings(config, f"Pulumi.{pulumi.get_stack()}.yaml", secret_keys)
