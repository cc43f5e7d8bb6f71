"""``modelGroups[].logVerbose``: the one setting added end to end through the contract alone (its default,
limits and doc on ``ModelGroupArgs.log_verbose``; the config field names it; composition passes it by
name). One group's pods get ``--log-verbose``; the others' command line is untouched."""

from __future__ import annotations

from support.config import REPO, env, problems
from support.render import inputs
from triton_platform.config import load_settings
from triton_platform.environment import build_environment
from triton_platform.review.render import record

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def _args(render, name: str) -> list[str]:
    (container,) = inputs(render, DEPLOYMENT, name)["spec"]["template"]["spec"]["containers"]
    return [arg for arg in container["args"] if isinstance(arg, str)]


def test_one_group_logs_verbosely_and_the_other_keeps_the_default_command_line():
    config = env(
        "dev",
        triton=REPO,
        modelGroups=[{"name": "vision", "logVerbose": 2}, {"name": "text"}],
    )
    render = record(lambda: build_environment(load_settings(config, "Pulumi.test.yaml")), "test")
    assert "--log-verbose=2" in _args(render, "triton-vision-stable")
    assert not [arg for arg in _args(render, "triton-text-stable") if arg.startswith("--log-verbose")]


def test_a_level_outside_the_contracts_limits_is_refused_with_the_key():
    config = env("dev", triton=REPO, modelGroups=[{"name": "vision", "logVerbose": 4}])
    assert problems(config) == [
        "triton-platform:modelGroups[0].logVerbose = 4: Input should be less than or equal to 3"
    ]
