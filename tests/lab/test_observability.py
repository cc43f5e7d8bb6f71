"""Real Prometheus scrapes the real Tritons with the rendered monitors, and every
KEDA query, alert expression and dashboard query of the render returns series with the labels it
relies on (or the intended empty result); the rendered PrometheusRules pass promtool's lint and
promtool unit tests that make every alert fire and not fire."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.lab import observability as obs
from support.lab.emulators import Storage
from support.lab.load import infer_http
from support.lab.processes import wait_until
from support.lab.prometheus import parse_seconds
from support.lab.renders import first_stack_with, manifests_of, rendered_stacks, variant_render
from support.lab.triton import TritonInstall

STACKS = sorted(rendered_stacks())
#: No committed stack scrapes with a PodMonitor: the first one that monitors is also observed with one.
POD_MONITOR = f"{first_stack_with('observability')}+PodMonitor"


@pytest.fixture(scope="module")
def observations(
    renders, storage: Storage, lab_dir: Path, triton_install: TritonInstall
) -> Iterator[dict[str, obs.StackObservation]]:
    stack = POD_MONITOR.split("+")[0]

    def pod_monitor(config: dict) -> None:
        config["triton-platform:observability"].setdefault("scrape", {})["kind"] = "PodMonitor"

    variant = variant_render(stack, pod_monitor, "PodMonitor", lab_dir / "roots")
    assert manifests_of(variant, "PodMonitor") and not manifests_of(variant, "ServiceMonitor")
    observed = obs.observe_stacks(
        {**renders, POD_MONITOR: variant}, storage=storage, workdir=lab_dir / "observed", install=triton_install
    )
    try:
        for observation in observed.values():
            expected = sum(len(t) for t in observation.targets.values())
            observation.prometheus.wait_targets_up(expected, timeout=60)
        # Traffic on every model of every pod, then two scrapes so rate() has two samples with it.
        for observation in observed.values():
            for run in observation.running:
                for model in run.models:
                    for value in range(5):
                        infer_http(run.server.http, model, value)
        scrape = max(_interval(m) for o in observed.values() for m in o.monitors)
        for observation in observed.values():
            series = sum(len(run.models) for run in observation.running)
            wait_until(
                lambda observation=observation, series=series: (
                    len(observation.prometheus.query("nv_inference_request_success > 0")) >= series
                ),
                timeout=4 * scrape + 20,
                interval=0.5,
                what=f"{observation.stack}: scraped inference counters",
            )
        time.sleep(2 * scrape)
        yield observed
    finally:
        obs.stop_all(observed.values())


@pytest.fixture(params=[*STACKS, POD_MONITOR])
def observed(request: pytest.FixtureRequest, observations: dict[str, obs.StackObservation]) -> obs.StackObservation:
    return observations[request.param]


def _interval(monitor: dict) -> float:
    endpoints = monitor["spec"].get("endpoints") or monitor["spec"].get("podMetricsEndpoints")
    return parse_seconds(endpoints[0].get("interval", "30s"))


def test_every_pod_is_selected_by_exactly_one_monitor(observed: obs.StackObservation) -> None:
    selected = [t.pod_name for targets in observed.targets.values() for t in targets]
    pods = [obs.pod_name(run.rt.name) for run in observed.running]
    assert sorted(selected) == sorted(pods), f"monitors select {sorted(selected)}, running pods {sorted(pods)}"
    for target in observed.prometheus.targets():
        assert target["health"] == "up", target


def test_triton_series_carry_the_labels_the_queries_rely_on(observed: obs.StackObservation) -> None:
    """Labels come from the monitor's relabelings applied to the Deployment's pod labels, as rendered."""
    series = observed.prometheus.query("nv_inference_request_success")
    by_pod = {obs.pod_name(run.rt.name): run for run in observed.running}
    assert {s["metric"]["pod"] for s in series} == set(by_pod)
    relabeled = {
        r["targetLabel"]
        for m in observed.monitors
        for e in (m["spec"].get("endpoints") or m["spec"].get("podMetricsEndpoints"))
        for r in e.get("relabelings", [])
        if r.get("targetLabel")
    }
    assert {"model_group", "track"} <= relabeled, relabeled
    for s in series:
        labels, run = s["metric"], by_pod[s["metric"]["pod"]]
        pod = run.rt.pod_labels
        assert labels["namespace"] == run.rt.namespace
        assert labels["model_group"] == pod["triton-platform.io/model-group"]
        assert labels["track"] == pod["version"]
        assert labels["model"] in run.models and labels["version"] == "1"
        for label in relabeled:
            assert labels.get(label), f"{label} missing on {labels}"


def test_keda_queries_return_one_series_below_target_when_idle(observed: obs.StackObservation) -> None:
    """KEDA's Prometheus scaler needs exactly one series; idle (no queue, nothing pending) it must not scale."""
    triggers = obs.scaled_object_triggers(observed.render)
    for so, trigger in triggers:
        query = trigger["metadata"]["query"]
        kind = obs.source(query)
        if kind == "gpu":
            query = obs.on_cpu(query)
        result = observed.prometheus.query(query)
        name = f"{so['metadata']['name']}/{trigger.get('name')}"
        assert len(result) == 1, f"{name}: {query} returned {len(result)} series: {result}"
        value = float(result[0]["value"][1])
        assert math.isfinite(value), f"{name}: {value}"
        if kind == "triton":
            assert value < float(trigger["metadata"]["threshold"]), f"{name}: {value} at idle"
    print(f"{observed.stack}: {len(triggers)} KEDA queries each return one series")


def test_alert_expressions_are_quiet_on_a_healthy_server(observed: obs.StackObservation) -> None:
    """The intended empty result: no alert condition holds while every pod serves every model."""
    for group, rule in obs.alert_rules(observed.render):
        result = observed.prometheus.query(rule["expr"])
        assert result == [], f"{group}/{rule['alert']} holds on a healthy server: {rule['expr']} -> {result}"
        if obs.source(rule["expr"]) == "gpu":
            # The GPU twin: same selectors on Triton's CPU series must find the pods.
            twin = rule["expr"].rsplit(">", 1)[0]
            assert observed.prometheus.query(obs.on_cpu(twin)), f"{rule['alert']}: {obs.on_cpu(twin)} finds no series"
    rules = observed.prometheus.api("rules")["groups"]
    loaded = [r for g in rules for r in g["rules"]]
    assert len(loaded) == len(obs.alert_rules(observed.render))
    for r in loaded:
        assert r["health"] == "ok" and r["state"] == "inactive", r


def test_target_down_and_metrics_absent_read_the_scraped_series(observed: obs.StackObservation) -> None:
    """The alerts' selectors find the live series (so their firing means loss, not a label mismatch)."""
    for _, rule in obs.alert_rules(observed.render):
        expr = rule["expr"]
        if expr.startswith("absent("):
            inner = expr[len("absent(") : -1]
            assert observed.prometheus.query(inner), f"{rule['alert']}: {inner} finds nothing"
        elif expr.startswith("up{"):
            selector = expr.split(" ")[0]
            result = observed.prometheus.query(selector)
            assert result and all(s["value"][1] == "1" for s in result), f"{rule['alert']}: {selector} -> {result}"


def test_dashboard_queries_return_series_with_their_labels(observed: obs.StackObservation) -> None:
    variables = obs.dashboard_variables(observed.render)
    scrape = max(_interval(m) for m in observed.monitors)
    queries = obs.dashboard_queries(observed.render)
    assert queries, "no dashboard rendered"
    not_here = []
    for where, raw in queries:
        expr = obs.grafana_expr(raw, variables, scrape)
        kind = obs.source(expr)
        if kind == "kube-state-metrics":
            assert observed.prometheus.query(expr) == [], f"{where}: {expr}"
            not_here.append(where)
            continue
        if kind == "gpu":
            expr = obs.on_cpu(expr)
        result = observed.prometheus.query(expr)
        assert result, f"{where}: {expr} returned no series"
        for label in obs.grouping_labels(expr):
            assert all(s["metric"].get(label) for s in result), f"{where}: series without {label}: {result}"
    print(
        f"{observed.stack}: {len(queries) - len(not_here)} dashboard queries answered; "
        f"kube-state-metrics absent here for {not_here}"
    )
