"""Read one ``Pulumi.<stack>.yaml`` into the config the Pulumi engine would pass, or one clear error.

Everything that can go wrong before the config model becomes a ``ConfigError`` naming the file and,
where the parser knows it, the line: a file that cannot be read as UTF-8 YAML text (a directory,
binary or non-UTF-8 bytes, NUL bytes, tabs, unclosed brackets or quotes) is a ``StackFileError``
("Cannot read ..."); a readable file of the wrong shape (not a mapping, ``config:`` not a mapping,
a key given twice, a top-level key Pulumi does not know) is listed like any other invalid
configuration ("Invalid configuration in ...").
"""

from __future__ import annotations

import difflib
import json
import math
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from .loader import ConfigError

#: Marks a secret value in the config the CLI passes on (the ciphertext is never decrypted offline).
SECRET_PLACEHOLDER = "[secret]"
#: Top-level keys of a Pulumi stack file (Pulumi's project/stack file reference).
STACK_FILE_KEYS = ("config", "environment", "secretsprovider", "encryptedkey", "encryptionsalt")


class StackFileError(ConfigError):
    """The file cannot be read as YAML text at all: one line, naming the file (and line)."""

    def __init__(self, stack_file: str, problem: str) -> None:
        super().__init__(stack_file, [problem])
        self.args = (f"Cannot read {stack_file}: {problem}",)

    def __str__(self) -> str:
        return self.args[0]


def read_stack_file(path: Path) -> tuple[dict[str, str], list[str]]:
    """The stack file's config as the engine passes it: strings, objects as JSON, secrets masked."""
    name = path.name
    text = _text(path)
    data, root = _parse(text, name)
    config_node = _value_node(root, "config")
    problems = list(data.duplicates)
    if data.value is not None and not isinstance(data.value, dict):
        problems.append(
            f"line {_line(root)}: the file holds {_kind(data.value)}, not a mapping; a stack file has a config: "
            "section mapping keys such as triton-platform:environment to values"
        )
    raw = data.value if isinstance(data.value, dict) else {}
    for key in raw:
        if key not in STACK_FILE_KEYS:
            problems.append(f"line {_line(_key_node(root, key))}: {_top_level_key_problem(key)}")
    config = raw.get("config")
    if config is not None and not isinstance(config, dict):
        problems.append(
            f"line {_line(config_node)}: config holds {_kind(config)}, not a mapping; it maps keys such as "
            "triton-platform:environment to values"
        )
    config = config if isinstance(config, dict) else {}
    for key in config:
        if not isinstance(key, str):
            problems.append(
                f"line {_line(_key_node(config_node, key))}: config key {_scalar(key)} is not text; keys are "
                "<namespace>:<name>, such as triton-platform:environment"
            )
    if problems:
        raise ConfigError(name, problems)
    values: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in config.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[key] = SECRET_PLACEHOLDER
            secret_keys.append(key)
        elif isinstance(value, str):
            values[key] = value
        else:
            values[key] = json.dumps(_plain(value))
    return values, secret_keys


def _text(path: Path) -> str:
    name = path.name
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise StackFileError(name, "it is a directory, not a file") from None
    except OSError as error:
        raise StackFileError(name, (error.strerror or str(error)).lower()) from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise StackFileError(name, "it is UTF-16 text; save the file as UTF-8")
    nul = data.find(b"\0")
    if nul >= 0:
        raise StackFileError(name, f"{_byte_position(data, nul)}: contains a NUL byte; a stack file is UTF-8 text, not binary data")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise StackFileError(
            name,
            f"{_byte_position(data, error.start)}: byte 0x{data[error.start]:02x} is not UTF-8 text; save the file as UTF-8",
        ) from None


def _byte_position(data: bytes, offset: int) -> str:
    line_start = data.rfind(b"\n", 0, offset) + 1
    line = data.count(b"\n", 0, offset) + 1
    return f"line {line}, column {offset - line_start + 1}"


class _Document:
    def __init__(self, value: Any, duplicates: list[str]) -> None:
        self.value = value
        self.duplicates = duplicates


class _StackFileLoader(yaml.SafeLoader):
    """PyYAML's safe loader that records keys given twice in one mapping (the last one would win
    silently), keeps timestamps as text (as Pulumi does), and turns a constructor's Python error
    (``!!int two``) into a marked YAML error."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[str] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:
                continue  # an unhashable key: the base class reports it with its line
            if first != key_node.start_mark.line + 1:
                self.duplicates.append(
                    f"line {key_node.start_mark.line + 1}: {_scalar(key)} is given twice in one mapping (first on line "
                    f"{first}); YAML would silently keep the last one, so remove one"
                )
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (yaml.YAMLError, RecursionError, MemoryError):
            raise
        except Exception as error:  # PyYAML's constructors raise plain Python errors for bad scalars
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            shown = repr(node.value) if isinstance(node, yaml.ScalarNode) else "this value"
            raise ConstructorError(None, None, f"{shown} is not a valid {tag} ({error})", node.start_mark) from None


_StackFileLoader.add_constructor("tag:yaml.org,2002:timestamp", _StackFileLoader.construct_yaml_str)


def _parse(text: str, name: str) -> tuple[_Document, yaml.Node | None]:
    loader = None
    try:
        loader = _StackFileLoader(text)  # the reader checks every character here
        root = loader.get_single_node()
        value = loader.construct_document(root) if root is not None else None
        return _Document(value, loader.duplicates), root
    except yaml.MarkedYAMLError as error:
        raise StackFileError(name, _describe(error)) from None
    except yaml.reader.ReaderError as error:
        line_start = text.rfind("\n", 0, error.position) + 1
        where = f"line {text.count(chr(10), 0, error.position) + 1}, column {error.position - line_start + 1}"
        raise StackFileError(
            name, f"{where}: contains the control character U+{error.character:04X}, which YAML does not allow"
        ) from None
    except yaml.YAMLError as error:
        raise StackFileError(name, str(error)) from None
    except RecursionError:
        raise StackFileError(name, "nests lists or mappings too deeply to read") from None
    finally:
        if loader is not None:
            loader.dispose()


def _describe(error: yaml.MarkedYAMLError) -> str:
    problem = error.problem or ""
    mark = error.problem_mark or error.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    if "'\\t'" in problem:
        return f"{where}a tab character; YAML indents with spaces, never tabs"
    if problem == "but found another document":
        return f"{where}a second YAML document (---); a stack file is one document"
    if error.context and error.context_mark and error.context_mark is not mark:
        context = error.context_mark
        return f"{where}{problem} ({error.context} at line {context.line + 1}, column {context.column + 1})"
    return f"{where}{problem}"


def _value_node(mapping: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(mapping, yaml.MappingNode):
        for key_node, value_node in mapping.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return value_node
    return None


def _key_node(mapping: yaml.Node | None, key: Any) -> yaml.Node | None:
    if isinstance(mapping, yaml.MappingNode):
        for key_node, _ in mapping.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(key):
                return key_node
    return mapping


def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _scalar(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (bool, int, float)) else repr(value)


def _top_level_key_problem(key: Any) -> str:
    close = difflib.get_close_matches(str(key), STACK_FILE_KEYS, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return f"{_scalar(key)} is not a stack-file key; {hint}a stack file holds {', '.join(STACK_FILE_KEYS)}"


def _plain(value: Any) -> Any:
    """A YAML value as JSON can hold it (the engine passes objects as JSON): keys as text, sets and
    tuples as lists, bytes and other scalars as text."""
    if isinstance(value, dict):
        return {(k if isinstance(k, str) else json.dumps(k) if isinstance(k, (bool, int, float)) or k is None
                 else str(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)
