"""Cloud settings of the stacks as the composition declares them under the render's mocks: Bottlerocket
GPU nodes on EKS, and the GKE clusters a stack creates (webhook firewall, Secret encryption, Binary
Authorization). Each starts from a committed stack file and changes only the keys under test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from config_helpers import problems
from render_helpers import inputs
from triton_platform.config import load_settings
from triton_platform.environment import build_environment
from triton_platform.render import StackRender, record, stack_config

ROOT = Path(__file__).resolve().parents[1]
RELEASE = "kubernetes:helm.sh/v3:Release"


def _stack_with(stack: str, key: str, change: dict[str, Any]) -> dict[str, str]:
    """The committed stack's config with ``change`` merged (one level deep) into ``triton-platform:<key>``."""
    config, _ = stack_config(ROOT / f"Pulumi.{stack}.yaml")
    section = json.loads(config[f"triton-platform:{key}"])
    for name, value in change.items():
        section[name] = {**section.get(name, {}), **value} if isinstance(value, dict) else value
    return {**config, f"triton-platform:{key}": json.dumps(section)}


def _render(config: dict[str, str], stack: str) -> StackRender:
    settings = load_settings(config, f"Pulumi.{stack}.yaml")
    return record(lambda: build_environment(settings), stack)


def test_a_bottlerocket_node_group_gets_its_data_volume_sized_and_no_second_device_plugin():
    config = _stack_with("dev-aws", "aws", {"gpuNodeGroup": {"amiType": "BOTTLEROCKET_x86_64_NVIDIA", "diskSizeGb": 400}})
    render = _render(config, "dev-aws")
    template = inputs(render, "aws:ec2/launchTemplate:LaunchTemplate")
    volumes = {m["deviceName"]: m["ebs"] for m in template["blockDeviceMappings"]}
    assert volumes["/dev/xvdb"]["volumeSize"] == 400
    assert "volumeSize" not in volumes["/dev/xvda"]
    assert not [r for r in render.find(RELEASE) if r["inputs"]["chart"] == "nvidia-device-plugin"]


def test_the_committed_al2023_stack_keeps_the_device_plugin_chart():
    config, _ = stack_config(ROOT / "Pulumi.dev-aws.yaml")
    render = _render(config, "dev-aws")
    assert [r for r in render.find(RELEASE) if r["inputs"]["chart"] == "nvidia-device-plugin"]


def test_a_second_device_plugin_on_bottlerocket_is_refused():
    config = _stack_with("dev-aws", "aws", {"gpuNodeGroup": {"amiType": "BOTTLEROCKET_x86_64_NVIDIA",
                                                             "installDevicePlugin": True}})
    assert problems(config) == [
        "triton-platform:aws.gpuNodeGroup.installDevicePlugin = true: BOTTLEROCKET_x86_64_NVIDIA nodes run NVIDIA's "
        "device plugin themselves, and a second plugin for nvidia.com/gpu would fight it; remove the key"
    ]
