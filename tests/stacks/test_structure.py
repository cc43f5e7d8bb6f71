"""Structural performance facts, asserted. Timings are benchmarks, not tests: they live
in ``triton-platform bench`` and never fail a build; the facts below do.

- Engine, preview and state costs grow with the resource count (reference/performance.md §1.4),
  so a model group adds a small, constant number of resources and a model adds none.
- Eagerly loaded cloud SDKs cost seconds and hundreds of MB (§1.2), so the library's imports load
  no cloud SDK, a stack of one cloud never loads the other's, and the per-cloud installs keep the
  other cloud's SDK out.
"""

from __future__ import annotations

import pytest

from support import ROOT
from triton_platform.review.bench.footprint import PROJECT_DIST, closure
from triton_platform.review.bench.harness import timed
from triton_platform.review.bench.programs import (
    CLOUDS,
    StackConfig,
    stack_program,
    stacks_for_cloud,
    with_model_groups,
    with_models,
)
from triton_platform.review.bench.startup import FOREIGN_SDK, probe, render_code
from triton_platform.review.render import stack_files

STACKS = sorted(stack_files(ROOT))
#: Per model group today: the group component, its Deployment, Service and PodDisruptionBudget,
#: plus canary, routing, autoscaling and monitoring objects where a stack enables them.
MAX_RESOURCES_PER_MODEL_GROUP = 12


def resource_count(config: StackConfig) -> int:
    """Every resource the real stack program registers for ``config`` (components included)."""
    config.validate()
    return timed(stack_program(ROOT), config.stack, config.config, config.secret_keys).resources


@pytest.mark.parametrize("stack", STACKS)
def test_a_model_group_adds_a_small_constant_number_of_resources(stack):
    base = StackConfig.load(ROOT, stack)
    one, three = resource_count(with_model_groups(base, 1)), resource_count(with_model_groups(base, 3))
    per_group, remainder = divmod(three - one, 2)
    assert remainder == 0, f"{stack}: 1 and 3 groups give {one} and {three} resources: groups differ in size"
    assert 1 <= per_group <= MAX_RESOURCES_PER_MODEL_GROUP, f"{stack}: {per_group} resources per model group"


@pytest.mark.parametrize("stack", STACKS)
def test_models_are_data_not_resources(stack):
    base = StackConfig.load(ROOT, stack)
    assert resource_count(with_models(base, 20)) == resource_count(with_models(base, 1))


def test_the_library_and_cli_load_no_cloud_sdk_on_import():
    seen = probe(
        "import triton_components, triton_platform.environment, triton_platform.config\n"
        "import triton_platform.cli, triton_platform.bench\n"
    )
    assert "pulumi_kubernetes" in seen["provider_sdks"], "the probe must see the SDKs the library does load"
    assert not {"pulumi_gcp", "pulumi_aws"} & set(seen["provider_sdks"]), seen["provider_sdks"]


@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_stack_of_a_cloud_renders_without_the_other_clouds_sdk(cloud):
    stacks = stacks_for_cloud(ROOT, cloud)
    if not stacks:
        pytest.skip(f"no Pulumi.<stack>.yaml with a triton-platform:{cloud} section yet")
    # All of them in one fresh interpreter: any one of them loading the foreign SDK shows.
    seen = probe(render_code(stacks), cwd=ROOT)
    assert f"pulumi_{cloud}" in seen["provider_sdks"], "the probe must see the stack's own cloud SDK"
    assert FOREIGN_SDK[cloud] not in seen["provider_sdks"], f"{cloud} stacks {stacks} loaded {FOREIGN_SDK[cloud]}"


@pytest.mark.parametrize(
    ("extras", "own", "foreign"),
    [((), None, None), (("gcp",), "pulumi-gcp", "pulumi-aws"), (("aws",), "pulumi-aws", "pulumi-gcp")],
)
def test_each_install_carries_only_its_own_cloud_sdk(extras, own, foreign):
    dists, missing = closure(PROJECT_DIST, extras)
    assert not missing, f"required but not installed: {missing}"
    clouds = {"pulumi-gcp", "pulumi-aws"} & set(dists)
    assert clouds == ({own} if own else set()), f"{PROJECT_DIST}{list(extras)} pulls in {sorted(clouds)}"
