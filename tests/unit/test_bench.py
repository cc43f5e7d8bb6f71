"""The benchmark compares like with like: its floors declare exactly what the stack declared, and
its multi-environment program is one the engine would accept. (Timings are not tested.)"""

from __future__ import annotations

import json
from pathlib import Path

import pulumi_kubernetes as k8s
import pulumi_random as random
import pytest

from triton_platform.review.bench.floors import KINDS, BareResource, replay_program, sdk_class
from triton_platform.review.bench.harness import BenchError, capture, timed
from triton_platform.review.bench.programs import (
    StackConfig,
    benchmark_stack,
    environments_program,
    for_environment,
    stack_program,
)
from triton_platform.review.render import render_stack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def base() -> StackConfig:
    return StackConfig.load(ROOT, benchmark_stack(ROOT))


@pytest.fixture(scope="module")
def declared(base):
    return capture(stack_program(ROOT), base.stack, base.config, base.secret_keys)


def _key(d):
    return (d.type, d.name, d.provider_urn.rsplit("::", 1)[-1])


def test_the_measured_program_is_the_stack_the_render_shows(base, declared):
    rendered = render_stack(ROOT, base.stack).resources
    assert sorted((r["type"], r["name"]) for r in rendered) == sorted((d.type, d.name) for d in declared)
    assert {(r["type"], r["name"]): r["inputs"] for r in rendered} == {(d.type, d.name): d.inputs for d in declared}


@pytest.mark.parametrize("kind", KINDS)
def test_every_floor_declares_the_same_resources(base, declared, kind):
    program, fallbacks = replay_program(declared, kind)
    replayed = capture(program, base.stack, base.config, base.secret_keys)
    expected = [d for d in declared if d.custom or kind == "tree"]
    assert {_key(d): d.inputs for d in replayed} == {_key(d): d.inputs for d in expected}
    if kind == "tree":
        parents = {d.urn: d.parent_urn for d in expected}
        assert {d.urn: d.parent_urn for d in replayed} == parents
    else:
        assert {d.parent_urn.split("::")[2] for d in replayed} == {"pulumi:pulumi:Stack"}, "no components"
    if kind == "typed":
        assert len(fallbacks) < len(expected) / 4, f"typed floor fell back to bare for {sorted(set(fallbacks))}"


@pytest.mark.parametrize(
    ("token", "cls"),
    [
        ("kubernetes:apps/v1:Deployment", k8s.apps.v1.Deployment),
        ("kubernetes:helm.sh/v3:Release", k8s.helm.v3.Release),
        ("kubernetes:keda.sh/v1alpha1:ScaledObject", k8s.apiextensions.CustomResource),
        ("random:index/randomId:RandomId", random.RandomId),
        ("pulumi:providers:kubernetes", k8s.Provider),
        ("nosuchsdk:index/thing:Thing", None),
    ],
)
def test_type_tokens_map_to_their_sdk_classes(token, cls):
    assert sdk_class(token) is cls


def test_environments_in_one_program_are_independent_and_complete(base):
    one = timed(environments_program([for_environment(base, 0)]), base.stack, base.config, base.secret_keys)
    three = timed(
        environments_program([for_environment(base, i) for i in range(3)]), base.stack, base.config, base.secret_keys
    )
    assert (three.resources, three.custom) == (3 * one.resources, 3 * one.custom)


def test_a_program_the_engine_would_refuse_is_not_measured(base):
    same_twice = environments_program([base, base])
    # Each environment has its own scope, so even identical configs give unique URNs...
    timed(same_twice, base.stack, base.config, base.secret_keys)

    # ...but two resources with one URN are refused rather than timed.
    def duplicate() -> None:
        BareResource("test:index:Thing", "same", {}, None)  # type: ignore[arg-type]
        BareResource("test:index:Thing", "same", {}, None)  # type: ignore[arg-type]

    with pytest.raises(BenchError, match="duplicate URNs"):
        timed(duplicate)


def test_the_environment_row_splits_this_virtualenv_by_extra():
    """M4's environment row is `du -s` of sys.prefix, split into both clouds, then each extra."""
    from triton_platform.review.bench.footprint import environment
    from triton_platform.review.bench.table import Row, table

    env = environment()
    assert env["measured"], env
    parts = env["parts_mb"]
    assert next(iter(parts)) == "triton-platform[gcp,aws]" and {"+test", "+lab"} <= set(parts)
    assert parts["triton-platform[gcp,aws]"] > 0 and all(size >= 0 for size in parts.values())
    assert env["other_mb"] >= 0 and env["disk_mb"] == pytest.approx(sum(parts.values()) + env["other_mb"], abs=0.2)

    results = json.loads((ROOT / "benchmarks" / "results.json").read_text())["results"]
    row = table({**results, "environment": env})[-1]
    assert row == Row(row.measurement, row.value, "-", "info") and row.value.startswith(f"{env['disk_mb']:.0f} MB: ")
    older = {key: value for key, value in results.items() if key != "environment"}
    assert not table(older)[-1].measurement.startswith("M4 this environment"), "results without it still render"
