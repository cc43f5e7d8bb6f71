"""The reaction-time estimate: the formula, and reading it back from a rendered stack."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from triton_platform.config import load_settings
from triton_platform.environment import build_environment
from triton_platform.review.reaction_time import TARGET_SECONDS, estimate, format_line, from_manifests
from triton_platform.review.render import record
from triton_platform.review.report import summary


def _render(observability: dict | None = None, autoscaling: dict | None = None, mesh: dict | None = None):
    config = {
        "triton-platform:environment": "dev",
        "triton-platform:triton": {"modelRepository": "gs://models/repo"},
        "triton-platform:observability": {
            "enabled": True,
            "addons": {"keda": True, "prometheusStack": True},
            **(observability or {}),
        },
        "triton-platform:modelGroups": [{"name": "default", "autoscaling": autoscaling or {}}],
    }
    if mesh:
        config["triton-platform:mesh"] = mesh
    settings = load_settings(config, "Pulumi.test.yaml")

    def program():
        for name, value in build_environment(settings).items():
            pulumi.export(name, value)

    return record(program)


def test_formula_breakdown():
    rt = estimate(scrape_interval_seconds=10, query_window_seconds=40, polling_interval_seconds=15)
    assert (rt.scrape_seconds, rt.window_seconds, rt.polling_seconds, rt.hpa_sync_seconds) == (10, 20, 0, 15)
    assert rt.total_seconds == 45
    assert rt.wake_from_zero_seconds is None
    # Cached metrics make the HPA see values up to one polling interval old.
    assert (
        estimate(
            scrape_interval_seconds=10, query_window_seconds=40, polling_interval_seconds=15, use_cached_metrics=True
        ).total_seconds
        == 60
    )
    # A larger step crosses the target sooner.
    assert (
        estimate(
            scrape_interval_seconds=10, query_window_seconds=60, polling_interval_seconds=15, overload=3
        ).window_seconds
        == 20
    )
    # Waking from zero is KEDA's own poll plus one scrape.
    assert (
        estimate(
            scrape_interval_seconds=5, query_window_seconds=30, polling_interval_seconds=15, scale_to_zero=True
        ).wake_from_zero_seconds
        == 20
    )


def test_invalid_estimates_are_refused():
    with pytest.raises(ValueError, match="overload is 1; a load step must exceed the target"):
        estimate(scrape_interval_seconds=5, query_window_seconds=30, polling_interval_seconds=15, overload=1)
    with pytest.raises(ValueError, match="scrape_interval_seconds is 0"):
        estimate(scrape_interval_seconds=0, query_window_seconds=30, polling_interval_seconds=15)


def test_defaults_react_in_22_seconds():
    """Scrape 2 s + 10 s window / 2 + HPA 15 s; the lab measured detection at 5.2-5.7 s (benchmarks/lab_reaction_time.json)."""
    [rt] = from_manifests(_render().manifests)
    assert rt.name == "triton-default"
    assert (rt.scrape_seconds, rt.query_window_seconds, rt.polling_seconds, rt.hpa_sync_seconds) == (2, 10, 0, 15)
    assert rt.total_seconds == 22 < TARGET_SECONDS


def test_estimate_follows_the_generated_config():
    [rt] = from_manifests(
        _render(
            observability={"scrape": {"intervalSeconds": 15}},
            autoscaling={"queryWindowSeconds": 60, "useCachedMetrics": True, "pollingIntervalSeconds": 20},
        ).manifests
    )
    assert (rt.scrape_seconds, rt.window_seconds, rt.polling_seconds) == (15, 30, 20)
    assert rt.total_seconds == 80


def test_scale_to_zero_reports_the_wake_up_time():
    render = _render(
        autoscaling={"minReplicas": 0, "scaleToZero": {"enabled": True}},
        mesh={"enabled": True, "gateway": {"hosts": ["triton.example.com"]}},
    )
    [rt] = from_manifests(render.manifests)
    assert rt.wake_from_zero_seconds == 15 + 2


def test_summary_prints_one_line_per_autoscaled_group():
    render = _render()
    text = summary(render, Path("/tmp/out"))
    assert text.splitlines()[-1] == (
        "  reaction time triton-default: 22 s from a 2x load step to a scale-out decision (scrape 2 s + rate window "
        "10 s/2 = 5 s + KEDA polling 0 s (metrics not cached) + HPA sync 15 s)"
    )
    [rt] = from_manifests(render.manifests)
    assert text.splitlines()[-1] == "  reaction time " + format_line(rt)
