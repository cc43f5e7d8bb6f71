"""Read one ``Pulumi.<stack>.yaml`` into the config the Pulumi engine would pass, or one clear error.

Everything that can go wrong before the config model becomes a ``ConfigError`` naming the file and,
where the parser knows it, the line: a file that cannot be read as UTF-8 YAML text (a directory,
binary or non-UTF-8 bytes, NUL bytes, tabs, unclosed brackets or quotes) is a ``StackFileError``
("Cannot read ..."); a readable file of the wrong shape (not a mapping, ``config:`` not a mapping,
a key given twice, a top-level key Pulumi does not know) is listed like any other invalid
configuration ("Invalid configuration in ...").

Values are read as the Pulumi CLI reads them, not as PyYAML would: the CLI parses stack files with
Go's ``gopkg.in/yaml.v3`` (YAML 1.2 core schema, with that library's own number rules), so
``spot: yes`` is the text "yes", not true; ``1e3``, ``0x1F``, ``017`` and ``1_000`` are numbers;
``1:30`` is text; a timestamp reaches the program as Go prints it ("2026-01-02 00:00:00 +0000 UTC");
a key left empty is "" at the top level; a key without a namespace belongs to the project; a
secure value anywhere in an object makes the whole key secret. ``tests/e2e/test_stack_file_reader.py``
compares this reader with the real CLI on a corpus of such files.
"""

from __future__ import annotations

import base64
import difflib
import json
import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from .loader import PROJECT, ConfigError

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
        if isinstance(key, _NonTextKey):
            problems.append(
                f"line {_line(_key_node(config_node, key))}: config key {_scalar(key)} is not text; keys are "
                "<namespace>:<name>, such as triton-platform:environment"
            )
    if problems:
        raise ConfigError(name, problems)
    project = _project_name(path)
    values: dict[str, str] = {}
    secret_keys: list[str] = []
    for written, value in config.items():
        # As the CLI does: a key without a namespace is the project's.
        key = written if ":" in written else f"{project}:{written}"
        masked, secret = _mask_secrets(value)
        if secret:
            secret_keys.append(key)
        try:
            values[key] = _engine_text(masked)
        except ValueError as error:
            problems.append(f"line {_line(_value_node(config_node, written))}: {written}: {error}")
    if problems:
        raise ConfigError(name, problems)
    return values, secret_keys


def _project_name(path: Path) -> str:
    """The ``name`` of the ``Pulumi.yaml`` beside the stack file (the namespace of keys without one)."""
    try:
        project = yaml.safe_load((path.parent / "Pulumi.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return PROJECT
    name = project.get("name") if isinstance(project, dict) else None
    return name if isinstance(name, str) and name else PROJECT


def _mask_secrets(value: Any) -> tuple[Any, bool]:
    """``value`` with each ``{secure: <ciphertext>}`` as ``SECRET_PLACEHOLDER`` (never decrypted here), and
    whether there was one: the engine marks the whole key secret when any part of it is."""
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get("secure"), str):
            return SECRET_PLACEHOLDER, True
        pairs = [(_go_key(k), *_mask_secrets(v)) for k, v in value.items()]
        return {k: v for k, v, _ in pairs}, any(secret for _, _, secret in pairs)
    if isinstance(value, list):
        items = [_mask_secrets(v) for v in value]
        return [v for v, _ in items], any(secret for _, secret in items)
    return value, False


def _go_key(key: Any) -> str:
    """A mapping key as the engine writes it (Go's ``fmt.Sprintf("%v", key)``)."""
    if isinstance(key, str):
        return key
    if key is None:
        return "<nil>"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float):
        text = repr(key)
        exponent = int(text.split("e")[1]) if "e" in text else len(str(int(abs(key)))) - 1 if abs(key) >= 1 else -1
        if math.isfinite(key) and -4 <= exponent < 21:
            return _go_float(key)
        return text.replace("inf", "Inf").replace("nan", "NaN")
    return str(key)


def _engine_text(value: Any) -> str:
    """The text the engine hands the program for one key (``config.object.MarshalString``): text as is,
    an empty key as "", a scalar as Go's JSON prints it, a list or mapping as Go's JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return _go_json(value)


def _go_json(value: Any) -> str:
    """Go's ``encoding/json`` text for a decoded value: sorted keys, Go's float format, no NaN or infinity."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_go_json(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_go_json(v) for v in value) + "]"
    if isinstance(value, float):
        return _go_float(value)
    return json.dumps(value)


def _go_float(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(
            f"{value} is not a value Pulumi can pass to the program (JSON has no NaN or infinity); the CLI refuses it"
        )
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        text = repr(value)  # shortest round trip, as Go's 'e' format with precision -1
        return re.sub(r"e-0(\d)$", r"e-\1", text)
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


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
        raise StackFileError(
            name, f"{_byte_position(data, nul)}: contains a NUL byte; a stack file is UTF-8 text, not binary data"
        )
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


class _NonTextKey(str):
    """A mapping key written as a number, boolean or null, as the engine's text, remembering the value."""

    original: Any

    def __new__(cls, text: str, original: Any) -> _NonTextKey:
        key = super().__new__(cls, text)
        key.original = original
        return key


class _StackFileLoader(yaml.SafeLoader):
    """PyYAML's safe loader that resolves scalars as yaml.v3 does (``go_resolve``), records keys given
    twice in one mapping (the CLI refuses them), and turns a constructor's error (``!!int two``) into
    a marked YAML error."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[str] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # Keys are kept apart as Go keeps them (Python would merge 1 and true), then written as the
        # engine writes them (``_go_key``); a key that is not text remembers it for the config section.
        written = [k for k, _ in node.value if k.tag != MERGE_TAG]
        self.flatten_mapping(node)  # merged keys first, so the mapping's own keys win
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            mapping[self._key(node, key_node)] = self.construct_object(value_node, deep=deep)
        seen: dict[tuple[bool, str], int] = {}
        for key_node in written:
            key = self._key(node, key_node)
            line = key_node.start_mark.line + 1
            identity = (isinstance(key, _NonTextKey), str(key))
            if identity in seen:
                self.duplicates.append(
                    f"line {line}: {_scalar(key)} is given twice in one mapping (first on line {seen[identity]}); "
                    "YAML would silently keep the last one, so remove one"
                )
            seen.setdefault(identity, line)
        return mapping

    def _key(self, mapping: yaml.MappingNode, key_node: yaml.Node) -> Any:
        key = self.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise ConstructorError(
                "while constructing a mapping", mapping.start_mark, "found an unhashable key", key_node.start_mark
            ) from None
        return key if isinstance(key, str) else _NonTextKey(_go_key(key), key)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (yaml.YAMLError, RecursionError, MemoryError):
            raise
        except Exception as error:  # noqa: BLE001 - PyYAML's constructors raise plain Python errors for bad scalars
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            shown = repr(node.value) if isinstance(node, yaml.ScalarNode) else "this value"
            raise ConstructorError(None, None, f"{shown} is not a valid {tag} ({error})", node.start_mark) from None

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        # Plain scalars resolve as yaml.v3 resolves them (below); quoted ones stay text.
        if kind is yaml.ScalarNode and implicit[0]:
            return MERGE_TAG if value == "<<" else _PLAIN_TAG
        return super().resolve(kind, value, implicit)

    def construct_go_scalar(self, node: yaml.ScalarNode) -> Any:
        tag = "" if node.tag == _PLAIN_TAG else node.tag
        if tag == BINARY_TAG:
            try:
                return base64.b64decode(node.value.replace("\n", "").replace(" ", ""), validate=True).decode(
                    "utf-8", "replace"
                )
            except ValueError:
                raise ConstructorError(
                    None, None, f"{node.value!r} is not valid !!binary data (base64)", node.start_mark
                ) from None
        if node.style and tag in ("", STR_TAG):  # quoted or block text
            return node.value
        resolved_tag, value = go_resolve(node.value)
        if tag in ("", STR_TAG) or tag == resolved_tag:
            return node.value if tag == STR_TAG else value
        if tag == FLOAT_TAG and resolved_tag == INT_TAG:
            return float(value)
        short = lambda t: t.replace("tag:yaml.org,2002:", "!!")  # noqa: E731
        raise ConstructorError(
            None,
            None,
            f"{node.value!r} is not a valid {short(tag)}: Pulumi's YAML reads it as {short(resolved_tag)}",
            node.start_mark,
        )


MERGE_TAG = "tag:yaml.org,2002:merge"
STR_TAG = "tag:yaml.org,2002:str"
INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"
BOOL_TAG = "tag:yaml.org,2002:bool"
NULL_TAG = "tag:yaml.org,2002:null"
TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
BINARY_TAG = "tag:yaml.org,2002:binary"
#: A plain scalar not yet resolved: PyYAML's YAML 1.1 resolvers are never consulted.
_PLAIN_TAG = "tag:triton-platform,2026:plain"

for _tag in (_PLAIN_TAG, STR_TAG, INT_TAG, FLOAT_TAG, BOOL_TAG, NULL_TAG, TIMESTAMP_TAG, BINARY_TAG):
    _StackFileLoader.add_constructor(_tag, _StackFileLoader.construct_go_scalar)

#: yaml.v3's table of plain scalars with a fixed meaning (resolve.go): only these spellings are
#: booleans and nulls; "yes", "no", "on", "off", "y" and "n" are text.
_FIXED: dict[str, tuple[str, Any]] = {
    **dict.fromkeys(("true", "True", "TRUE"), (BOOL_TAG, True)),
    **dict.fromkeys(("false", "False", "FALSE"), (BOOL_TAG, False)),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), (NULL_TAG, None)),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), (FLOAT_TAG, math.nan)),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), (FLOAT_TAG, math.inf)),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), (FLOAT_TAG, -math.inf)),
}
_YAML_STYLE_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_DOT_FLOAT = re.compile(r"^\.[0-9]+([eE][-+]?[0-9]+)?$")
#: Go's ``strconv.ParseInt(s, 0, 64)`` syntax: a sign, then 0x/0o/0b or a leading 0 (octal), or decimal.
_GO_INT = re.compile(r"^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$")
_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2}))"
    r"|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,9}))?))?$"
)


def go_resolve(text: str) -> tuple[str, Any]:
    """The tag and value yaml.v3 gives a plain scalar (``resolve`` in its resolve.go), in Python terms;
    a timestamp becomes the text Go's ``time.Time.String`` prints, which is what reaches the program."""
    if text in _FIXED:
        return _FIXED[text]
    first = text[:1]
    if first == ".":
        if _DOT_FLOAT.match(text):
            return _float_or_text(text)
        return STR_TAG, text
    if not first or not (first.isdigit() or first in "+-") or not first.isascii():
        return STR_TAG, text
    stamp = _go_timestamp(text)
    if stamp is not None:
        return TIMESTAMP_TAG, stamp
    plain = text.replace("_", "")
    match = _GO_INT.match(plain)
    if match:
        sign, digits = match.groups()
        prefix = digits[:2].lower()
        number = (
            int(digits[2:], {"0x": 16, "0o": 8, "0b": 2}[prefix])
            if prefix in ("0x", "0o", "0b")
            else (int(digits, 8) if digits.startswith("0") else int(digits))
        )
        # ParseInt (int64, either sign), then ParseUint (no sign, up to 2**64 - 1).
        if number <= 2**63 if sign == "-" else number < (2**63 if sign == "+" else 2**64):
            return INT_TAG, -number if sign == "-" else number
    if _YAML_STYLE_FLOAT.match(plain):
        return _float_or_text(plain)
    # yaml.v3 falls back to "0b..." / "-0b..." / "0o..." / "-0o..." parsed on their own: covered above.
    return STR_TAG, text


def _float_or_text(text: str) -> tuple[str, Any]:
    value = float(text)
    # Go's ParseFloat refuses a value out of range, and yaml.v3 then keeps the text.
    return (FLOAT_TAG, value) if math.isfinite(value) else (STR_TAG, text)


def _go_timestamp(text: str) -> str | None:
    """Go's ``time.Time.String()`` of a timestamp yaml.v3 recognises (its four layouts), or None."""
    match = _TIMESTAMP.match(text)
    if not match:
        return None
    year, month, day, h1, m1, s1, f1, zone, h2, m2, s2, f2 = match.groups()
    hour, minute, second, fraction = (h1, m1, s1, f1) if h1 is not None else (h2, m2, s2, f2)
    try:
        moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError:
        return None
    nanos = int((fraction or "").ljust(9, "0") or 0)
    if zone in (None, "Z"):
        offset, name = 0, "UTC"
    else:
        offset = (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
        name = _local_zone_name(moment - timedelta(seconds=offset), offset)
    digits = f".{nanos:09d}".rstrip("0") if nanos else ""
    sign = "-" if offset < 0 else "+"
    numeric = f"{sign}{abs(offset) // 3600:02d}{abs(offset) % 3600 // 60:02d}"
    return f"{moment:%Y-%m-%d %H:%M:%S}{digits} {numeric} {name or numeric}"


def _local_zone_name(utc: datetime, offset: int) -> str:
    """Go's time.Parse names an offset after the local zone when that zone had the offset then."""
    try:
        local = utc.replace(tzinfo=UTC).astimezone()
    except (OverflowError, OSError, ValueError):
        return ""
    delta = local.utcoffset()
    return (local.tzname() or "") if delta is not None and int(delta.total_seconds()) == offset else ""


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
    value = value.original if isinstance(value, _NonTextKey) else value
    return (
        value if isinstance(value, str) else json.dumps(value) if isinstance(value, (bool, int, float)) else repr(value)
    )


def _top_level_key_problem(key: Any) -> str:
    close = difflib.get_close_matches(str(key), STACK_FILE_KEYS, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return f"{_scalar(key)} is not a stack-file key; {hint}a stack file holds {', '.join(STACK_FILE_KEYS)}"
