"""The examples/ project imports TritonServer the way a user's own Pulumi project would."""

from __future__ import annotations

import runpy
from pathlib import Path

from triton_platform.render import record

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "triton-server-only"


def test_example_project_runs_under_mocks_with_its_own_provider():
    render = record(lambda: runpy.run_path(str(EXAMPLE / "__main__.py"), run_name="__main__"), stack="example")
    deployments = {r["inputs"]["metadata"]["name"]: r for r in render.find("kubernetes:apps/v1:Deployment")}
    assert set(deployments) == {"triton-vision", "triton-text"}
    assert {r["provider"] for r in deployments.values()} == {"pulumi:providers:kubernetes::my-cluster"}
    account = render.find("kubernetes:core/v1:ServiceAccount")[0]["inputs"]
    assert account["metadata"]["namespace"] == "inference"
    assert set(render.outputs["endpoints"]) == {"vision", "text"}
