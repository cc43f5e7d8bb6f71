"""The examples/ project imports TritonServer the way a user's own Pulumi project would, and renders
offline under the same mocks as `triton-platform render` (`make example`), no Pulumi CLI needed."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
from pathlib import Path

import pytest
import yaml

from support import ROOT
from triton_platform.cli import main
from triton_platform.review.render import record

EXAMPLE = ROOT / "examples" / "triton-server-only"


def test_example_project_runs_under_mocks_with_its_own_provider():
    render = record(lambda: runpy.run_path(str(EXAMPLE / "__main__.py"), run_name="__main__"), stack="example")
    deployments = {r["inputs"]["metadata"]["name"]: r for r in render.find("kubernetes:apps/v1:Deployment")}
    assert set(deployments) == {"triton-vision", "triton-text"}
    assert {r["provider"] for r in deployments.values()} == {"pulumi:providers:kubernetes::my-cluster"}
    account = render.find("kubernetes:core/v1:ServiceAccount")[0]["inputs"]
    assert account["metadata"]["namespace"] == "inference"
    assert set(render.outputs["endpoints"]) == {"vision", "text"}


@pytest.fixture
def in_example():
    cwd = Path.cwd()
    os.chdir(EXAMPLE)
    try:
        yield EXAMPLE
    finally:
        os.chdir(cwd)


def test_triton_platform_render_renders_the_example_with_its_own_stack_config(in_example, tmp_path, capsys):
    """Run in the example's folder, `render` finds that project (its name, its program) and reads its
    stack file under the project's own namespace, as the Pulumi CLI would."""
    assert main(["render", "--out", str(tmp_path)]) == 0
    stacks = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in EXAMPLE.glob("Pulumi.*.yaml"))
    assert stacks and sorted(p.name for p in tmp_path.iterdir()) == stacks
    config = yaml.safe_load((EXAMPLE / f"Pulumi.{stacks[0]}.yaml").read_text())["config"]
    repository = config["triton-server-only:modelRepository"]
    payload = json.loads((tmp_path / stacks[0] / "resources.json").read_text())
    deployments = [r for r in payload["resources"] if r["type"] == "kubernetes:apps/v1:Deployment"]
    assert {d["inputs"]["metadata"]["name"] for d in deployments} == {"triton-vision", "triton-text"}
    for deployment in deployments:
        args = deployment["inputs"]["spec"]["template"]["spec"]["containers"][0]["args"]
        assert f"--model-repository={repository}" in args
    manifests = list(yaml.safe_load_all((tmp_path / stacks[0] / "manifests.yaml").read_text()))
    assert {m["kind"] for m in manifests} >= {"Deployment", "Service", "ServiceAccount", "PodDisruptionBudget"}
    out = capsys.readouterr().out
    assert (
        f"{stacks[0]}: {len(payload['resources'])} resources, {len(manifests)} Kubernetes objects -> {tmp_path / stacks[0]}"
        in out
    )

    assert main(["validate"]) == 0
    assert capsys.readouterr().out == (
        f"{stacks[0]}: stack file is readable; project triton-server-only checks its own configuration when it runs\n"
    )


def test_make_example_renders_it_with_the_render_install_only():
    dry = subprocess.run(
        ["make", "-n", "example", "VENV=.venv"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    assert (
        f"cd examples/triton-server-only && {ROOT}/.venv/bin/triton-platform render "
        f"--out {ROOT}/rendered/examples/triton-server-only"
    ) in dry
    assert not [line for line in dry if "requirements.lock" in line]


def test_the_example_has_a_readme_with_the_commands_that_work():
    readme = (ROOT / "examples" / "README.md").read_text()
    assert "make example" in readme and "pulumi up" in readme and "triton-platform render" in readme
