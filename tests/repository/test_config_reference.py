"""docs/configuration.md is generated from the config models and cannot drift from them: it is current,
it lists every key a stack file accepts, and every key has a doc."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import pytest

from triton_components.mesh.routing_args import RetryArgs
from triton_components.serving.model_group_args import ModelGroupArgs
from triton_platform.cli import main
from triton_platform.config.base import Model
from triton_platform.config.field_docs import field_doc, field_docstrings, from_contract
from triton_platform.config.reference import COMMAND, REFERENCE_PATH, entries, render
from triton_platform.config.settings import SECRET_KEYS, settings_model

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / REFERENCE_PATH


def _rows(text: str) -> dict[str, list[str]]:
    """``{key: [accepts, default, meaning]}`` of every table row in the reference."""
    found = {}
    for line in text.splitlines():
        match = re.match(r"^\| `([^`]+)` \| (.*) \|$", line)
        if match:
            found[match[1]] = [cell.strip() for cell in re.split(r"(?<!\\)\|", match[2])]
    return found


def _schema_keys(schema: dict[str, Any], node: dict[str, Any], prefix: str, found: list[str]) -> None:
    """Every key path of the models' JSON schema: what pydantic accepts, read without the generator."""
    for key, prop in node.get("properties", {}).items():
        path = prefix + key
        found.append(path)
        for option in [prop, *prop.get("anyOf", [])]:
            target, sep = option, "."
            if option.get("type") == "array":
                target, sep = option.get("items", {}), "[]."
            if "$ref" in target:
                name = target["$ref"].rsplit("/", 1)[-1]
                _schema_keys(schema, schema["$defs"][name], path + sep, found)


def test_the_reference_is_current():
    assert REFERENCE.is_file(), f"{REFERENCE_PATH} is missing: run `{COMMAND}`"
    assert REFERENCE.read_text(encoding="utf-8") == render(), (
        f"{REFERENCE_PATH} is stale (a config model or a key's doc changed): run `{COMMAND}` and commit the result"
    )


def test_every_key_the_models_accept_is_in_the_reference_with_a_doc():
    schema = settings_model().model_json_schema(by_alias=True)
    accepted: list[str] = []
    _schema_keys(schema, schema, "", accepted)
    assert {"modelGroups[].shmSize", "gcp.gpuPool.spot", "mesh.outlierDetection.consecutive5xxErrors"} <= set(accepted)
    rows = _rows(REFERENCE.read_text(encoding="utf-8"))
    assert sorted({*accepted, *SECRET_KEYS}) == sorted(rows)
    assert [key for key, cells in rows.items() if len(cells) != 3 or not all(cells)] == []


def test_a_key_without_a_doc_stops_the_generator():
    class Undocumented(Model):
        replicas: int = 1
        """Documented."""
        max_surge: int = 0

    with pytest.raises(ValueError, match=r"^Undocumented\.max_surge \(stack file key group\.maxSurge\) has no doc"):
        entries(Undocumented, "group.")


def test_rows_show_the_key_path_limits_default_and_doc_from_the_model():
    rows = _rows(render())
    assert rows["modelGroups[].shmSize"] == [
        "string, memory quantity (`16Gi`, `512Mi`)",
        "`1Gi`",
        "Size of the memory-backed `/dev/shm`. Must be below `memory`.",
    ]
    assert rows["gcp.gpuPool.spot"][:2] == ["bool", "`false`"]
    assert rows["gcp.project"][1] == "required"
    assert rows["modelGroups[].replicas"][:2] == ["int, 0 to 100", "`1`"]
    assert rows["observability.alerts.failureRatio"][:2] == ["number, > 0, < 1", "`0.05`"]
    assert rows["triton.modelControlMode"][:2] == ["`none` \\| `explicit`", "`none`"]
    assert rows["triton.imageDigest"][:2] == ["string, matching `^sha256:[0-9a-f]{64}$`", "unset"]
    assert rows["mesh.prometheusNamespace"][0].endswith(" or null")
    assert rows["modelGroups"][1] == "`[{name: default}]`"
    assert rows["cluster.gpuNodeSelector"][1] == '`{nvidia.com/gpu.present: "true"}`'
    assert rows["adminApiKey"][:2] == ["secret string", "generated"]


def test_a_key_that_mirrors_a_component_contract_shows_that_contract_doc():
    rows = _rows(render())
    contract = field_docstrings(ModelGroupArgs)["model_load_timeout_seconds"]
    assert contract.endswith(" Default: 600.")
    assert rows["modelGroups[].modelLoadTimeoutSeconds"][2] == contract.removesuffix(" Default: 600.")
    assert rows["mesh.retries.perTryTimeoutSeconds"][2] == field_docstrings(RetryArgs)[
        "per_try_timeout_seconds"
    ].replace(" Required.", "")


def test_from_contract_speaks_the_stack_files_language():
    assert field_docstrings(ModelGroupArgs)["models"] == (
        "Models this group loads (needs ``model_control_mode`` ``explicit``). Default: the whole repository."
    )
    assert from_contract(ModelGroupArgs, "models").text() == (
        "Models this group loads (needs ``modelControlMode`` ``explicit``)."
    )
    assert from_contract(ModelGroupArgs, "models", unset=True, more="More.").text() == (
        "Models this group loads (needs ``modelControlMode`` ``explicit``). Unset: the whole repository. More."
    )
    with pytest.raises(TypeError, match=r"ModelGroupArgs\.nothing has no docstring"):
        from_contract(ModelGroupArgs, "nothing").text()

    class Mirrored(Model):
        shm_size: Annotated[str, from_contract(ModelGroupArgs, "shm_size", more="Below ``memory``.")] = "1Gi"
        memory: str = "16Gi"
        """Own doc."""

    assert field_doc(Mirrored, "shm_size") == "Size of the memory-backed ``/dev/shm``. Below ``memory``."
    assert field_doc(Mirrored, "memory") == "Own doc."
    assert Mirrored.model_validate({"shmSize": "2Gi"}).shm_size == "2Gi"


def test_the_command_writes_the_reference(tmp_path, capsys):
    out = tmp_path / "docs" / "configuration.md"
    assert main(["config-reference", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render()
    assert capsys.readouterr().out == f"{out}: written\n"
    assert main(["config-reference", "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"{out}: already current\n"
    assert main(["config-reference"]) == 0
    assert capsys.readouterr().out == render()
