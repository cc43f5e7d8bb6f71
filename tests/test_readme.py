"""The README stays true: what it shows is checked against the code.

- The Performance table is the benchmark's own table for the figures in benchmarks/results.json,
  verdicts included, as ``triton_platform.bench`` computes them today.
- The components snippet runs as written, under the same mocks as the render.
- The install lines name extras and a version that exist, and each cloud extra brings the SDK
  its components need.
- Every ``make <target>`` and ``triton-platform <command>`` the README names exists.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from triton_platform.bench.table import VERDICTS, render_markdown, table
from triton_platform.cli import main as cli
from triton_platform.render import record

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def section(title: str) -> str:
    """The README's ``## title`` section, up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.MULTILINE | re.DOTALL)
    assert match, f"README has no '## {title}' section"
    return match[1]


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def performance_rows() -> list[list[str]]:
    lines = [line for line in section("Performance").splitlines() if line.startswith("| ")]
    assert lines[0] == "| Measurement | Value | Goal | Verdict |"
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[1:]]


def test_every_performance_row_has_a_verdict_the_benchmark_uses():
    rows = performance_rows()
    assert len(rows) >= 20
    for measurement, _, _, verdict in rows:
        assert verdict in VERDICTS, f"{measurement}: verdict {verdict!r} is not one of {VERDICTS}"


def test_the_performance_table_is_what_the_benchmark_computes_from_the_results_file():
    results = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    assert not results["quick"], "the README shows a full run"
    expected = render_markdown(table(results["results"]))
    assert expected in section("Performance"), (
        "README's Performance table differs from benchmarks/results.json as triton_platform.bench reads it; "
        "paste the output of `.venv/bin/python -m triton_platform.bench.table`:\n" + expected
    )


def test_the_benchmark_gives_only_known_verdicts():
    results = json.loads((ROOT / "benchmarks" / "results.json").read_text())["results"]
    for row in table(results):
        assert row.verdict in VERDICTS or row.value == "not measured", row


def test_the_components_snippet_runs_as_written_with_its_own_provider():
    (snippet,) = code_blocks(section("Using the components in your own Pulumi project"), "python")
    program = compile(snippet, "README.md (Using the components)", "exec")
    render = record(lambda: exec(program, {"__name__": "__main__"}), stack="readme")
    deployments = render.find("kubernetes:apps/v1:Deployment")
    assert [d["inputs"]["metadata"]["name"] for d in deployments] == ["triton-vision"]
    assert deployments[0]["provider"] == "pulumi:providers:kubernetes::my-cluster"
    assert set(render.outputs["endpoints"]) == {"vision"}


def test_the_install_lines_name_a_real_version_and_extras():
    using = section("Using the components in your own Pulumi project")
    installs = re.findall(r"pip install 'triton-platform(?:\[(\w+)\])?==([\w.]+)'", using)
    assert {extra for extra, _ in installs} == {"", "gcp", "aws"}
    assert {version for _, version in installs} == {PYPROJECT["project"]["version"]}
    extras = PYPROJECT["project"]["optional-dependencies"]
    for cloud, sdk in (("gcp", "pulumi-gcp"), ("aws", "pulumi-aws")):
        assert any(requirement.startswith(sdk) for requirement in extras[cloud]), f"[{cloud}] must bring {sdk}"
        assert f"triton_components.{cloud}" in using and sdk in using


def test_every_make_target_the_readme_names_exists():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*)\s*:(?!=)", makefile, re.MULTILINE))
    named = set(re.findall(r"`make (\w+)`", README)) | {
        target for block in code_blocks(README, "bash") for target in re.findall(r"^make (\w+)", block, re.MULTILINE)
    }
    assert {"help", "render", "test"} <= named
    assert named <= targets, f"README names make targets that do not exist: {sorted(named - targets)}"


def test_every_cli_command_the_readme_names_exists(capsys):
    with pytest.raises(SystemExit):
        cli(["--help"])
    commands = set(re.search(r"\{([\w,-]+)\}", capsys.readouterr().out)[1].split(","))
    named = set(re.findall(r"triton-platform ([a-z]+)\b", README))
    assert ".venv/bin/triton-platform" in section("Quickstart (no cloud account, no Pulumi CLI needed)")
    assert named <= commands, f"README names CLI commands that do not exist: {sorted(named - commands)}"
