"""The stack-file reader reads values as the Pulumi CLI does (Go's yaml.v3, YAML 1.2), not as YAML 1.1.

``EXPECTED`` is, for each file of ``tests/support/stack_files.py``, the text the engine hands the program
for each key, as the real CLI gave it (``pulumi config --json`` and a running program; the e2e test
``tests/e2e/test_stack_file_reader.py`` compares the reader with that CLI on the same corpus).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.config import GCP, env, problems
from support.stack_files import CASES, secrets_of, stack_text
from triton_platform.config import ConfigError, load_settings
from triton_platform.config.stack_file import read_stack_file

EXPECTED: dict[str, dict[str, str]] = {
    "anchors": {
        "base": '{"x":1,"y":["a","b"],"z":{"deep":"yes"}}',
        "alias": '{"x":1,"y":["a","b"],"z":{"deep":"yes"}}',
        "merged": '{"x":1,"y":3,"z":{"deep":"yes"}}',
        "other": '{"w":16}',
        "merged-list": '{"w":16,"x":"overridden","y":["a","b"],"z":{"deep":"yes"}}',
        "scalar-anchor": "on",
        "scalar-alias": '["on","on"]',
    },
    "booleans": {
        "b-true": "true",
        "b-True": "true",
        "b-TRUE": "true",
        "b-false": "false",
        "b-False": "false",
        "b-FALSE": "false",
        "b-yes": "yes",
        "b-Yes": "Yes",
        "b-YES": "YES",
        "b-no": "no",
        "b-No": "No",
        "b-on": "on",
        "b-On": "On",
        "b-off": "off",
        "b-OFF": "OFF",
        "b-y": "y",
        "b-n": "n",
        "b-quoted": "true",
        "b-tagged": "true",
        "bools": '{"a":"yes","b":true,"c":"off","d":"y","e":"true","f":false,"g":"No","h":"tRuE"}',
        "bool-list": '["yes","no","on","off",true,false,true,false]',
    },
    "keys": {
        "environment": "dev",
        "odd-keys": '{"1":"one","1.5":"half","8":"octal","<nil>":"none","true":"yes"}',
        "binary": "hello",
    },
    "nulls": {
        "null-empty": "",
        "null-tilde": "",
        "null-word": "",
        "null-Null": "",
        "null-quoted": "null",
        "nulls": '{"a":null,"b":null,"c":null,"d":null,"e":"~"}',
        "null-list": '[null,null,"",null]',
    },
    "numbers": {
        "n-int": "42",
        "n-negative": "-7",
        "n-plus": "7",
        "n-hex": "31",
        "n-octal-0o": "15",
        "n-octal-leading-zero": "15",
        "n-not-octal": "9",
        "n-binary": "5",
        "n-underscores": "1000",
        "n-float": "1.5",
        "n-whole-float": "2",
        "n-exponent": "1000",
        "n-small": "1e-7",
        "n-beyond-int64": "100000000000000000000",
        "n-out-of-range": "1e400",
        "n-leading-dot": "0.5",
        "n-sexagesimal": "1:30",
        "n-quoted": "5",
        "n-str-tag": "5",
        "n-float-tag": "5",
        "n-version": "1.1",
        "n-address": "10.0.0.1",
        "numbers": '{"a":31,"b":1000,"c":15,"d":"2","e":2,"f":1e+21,"g":123456789012345678,"h":0.000001,"i":-0,"j":15.25}',
        "number-list": '[1,1.5,7,100,"3","1:2"]',
    },
    "secrets": {
        "adminApiKey": "[secret]",
        "auth": '{"port":80,"token":"[secret]","user":"admin"}',
        "secret-list": '["plain","[secret]"]',
    },
    "strings": {
        "literal": "line one\n  indented two\nline three\n",
        "literal-strip": "kept\nstripped",
        "literal-keep": "kept with trailing\n\n",
        "folded": "folded into one\n",
        "folded-strip": "a b",
        "plain-multiline": "first second",
        "double-quoted": 'tab\there é "q"',
        "single-quoted": "it's",
        "colon": "a:b",
        "hash": "a",
        "unicode": "héllo ✓",
        "strings": '{"a":"x: y","b":"two lines","c":"single","d":"plain words"}',
    },
    "timestamps": {
        "t-date": "2026-01-02 00:00:00 +0000 UTC",
        "t-utc": "2026-01-02 03:04:05 +0000 UTC",
        "t-fraction": "2026-01-02 03:04:05.5 +0000 UTC",
        "t-space": "2026-01-02 03:04:05 +0000 UTC",
        "t-offset": "2026-01-02 03:04:05 +0200 +0200",
        "t-short-fields": "2026-01-02 00:00:00 +0000 UTC",
        "t-not-a-date": "2026-13-01",
        "t-quoted": "2026-01-02",
        "t-tagged-str": "2026-01-02",
        "timestamps": '{"a":"2026-01-02 00:00:00 +0000 UTC","b":"2026-01-02"}',
    },
}
SECRET_KEYS = {"secrets": ["adminApiKey", "auth", "secret-list"]}


def read(tmp_path: Path, case: str) -> tuple[dict[str, str], list[str]]:
    path = tmp_path / "Pulumi.corpus.yaml"
    path.write_text(stack_text(case, dict.fromkeys(secrets_of(case), "v1:c2FsdA==:Y2lwaGVydGV4dA==")))
    return read_stack_file(path)


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_value_is_the_text_the_engine_hands_the_program(tmp_path, case):
    values, secret_keys = read(tmp_path, case)
    assert {k.removeprefix("triton-platform:"): v for k, v in values.items()} == EXPECTED[case]
    assert secret_keys == [f"triton-platform:{k}" for k in SECRET_KEYS.get(case, [])]


def write(tmp_path: Path, spot: str) -> Path:
    path = tmp_path / "Pulumi.spot.yaml"
    gcp = "{project: acme-ml-dev, region: us-central1, cluster: {name: ml, location: us-central1}, gpuPool: {spot: %s}}"
    path.write_text(
        f"config:\n  triton-platform:environment: dev\n  triton-platform:gcp: {gcp % spot}\n"
        "  triton-platform:modelGroups: [{name: a, exitTimeoutSeconds: 5}]\n"
    )
    return path


def test_yes_is_not_a_boolean_as_pulumi_reads_it(tmp_path):
    config, _ = read_stack_file(write(tmp_path, "yes"))
    with pytest.raises(ConfigError) as caught:
        load_settings(config, "Pulumi.spot.yaml")
    assert caught.value.problems == ["triton-platform:gcp.gpuPool.spot = 'yes': Input should be a valid boolean"]
    config, _ = read_stack_file(write(tmp_path, "True"))
    assert load_settings(config, "Pulumi.spot.yaml").gcp.gpu_pool.spot is True
    # The same as the config the engine would pass, built by hand.
    assert problems(env("dev", gcp={**GCP, "gpuPool": {"spot": "yes"}})) == [
        "triton-platform:gcp.gpuPool.spot = 'yes': Input should be a valid boolean"
    ]


def test_a_value_json_cannot_hold_is_refused_as_the_cli_refuses_it(tmp_path):
    path = tmp_path / "Pulumi.nan.yaml"
    path.write_text("config:\n  triton-platform:environment: dev\n  triton-platform:triton: {x: .nan}\n")
    with pytest.raises(ConfigError) as caught:
        read_stack_file(path)
    assert str(caught.value) == (
        "Invalid configuration in Pulumi.nan.yaml (1 problem):\n"
        "  - line 3: triton-platform:triton: nan is not a value Pulumi can pass to the program (JSON has no NaN or "
        "infinity); the CLI refuses it"
    )
