"""Every rendered PrometheusRule passes ``promtool check rules --lint-fatal``
(promtool's default lint, duplicate rules, made fatal), and ``promtool test rules`` makes every alert
of the render fire and stay quiet.

The unit tests are generated from the rendered rules: input series get the labels the rule's own
selectors match (regex matchers get a value of the shape they expect), thresholds come from the
expression, and the expected alert carries the rule's labels and annotations exactly as rendered.
An alert the generator does not know fails the test: every new alert needs its scenario here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.lab import observability as obs
from support.lab.prometheus import parse_seconds, promtool, rule_file
from support.lab.renders import manifests_of, rendered_stacks

STACKS = sorted(rendered_stacks())


def _rules(stack: str) -> list[dict[str, Any]]:
    return manifests_of(rendered_stacks()[stack], "PrometheusRule")


@pytest.mark.parametrize("stack", STACKS)
def test_promtool_check_rules_with_lint_fatal(stack: str, tmp_path: Path) -> None:
    rules = _rules(stack)
    assert rules, f"{stack} renders no PrometheusRule"
    for rule in rules:
        path = rule_file(rule, tmp_path)
        result = promtool("check", "rules", "--lint=all", "--lint-fatal", str(path))
        assert result.returncode == 0, f"{rule['metadata']['name']}: {result.stdout}{result.stderr}"
        assert "SUCCESS" in result.stdout, result.stdout


_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}")
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!=|!~|=)\s*"([^"]*)"')
_THRESHOLD = re.compile(r"(>=|>|==)\s*([0-9.]+)\s*$")


def selector_labels(expr: str, metric: str) -> dict[str, str]:
    """Labels a series must carry to be selected by ``metric{...}`` in ``expr``."""
    for name, body in _SELECTOR.findall(expr):
        if name != metric:
            continue
        labels = {}
        for label, op, value in _MATCHER.findall(body):
            if op == "=":
                labels[label] = value
            elif op == "=~" and label == "pod":
                # A Deployment's pod: <name>-<replicaset hash>-<suffix>; the regex names the Deployment.
                deployment = re.sub(r"\(.*$", "", value).rstrip("-")
                labels[label] = obs.pod_name(deployment)
                assert re.fullmatch(value, labels[label]), f"{labels[label]} does not match {value}"
            elif op == "=~":
                raise AssertionError(f"no example value for {label}=~{value!r}")
        return labels
    raise AssertionError(f"{metric} not selected in {expr}")


def threshold(expr: str) -> float:
    match = _THRESHOLD.search(expr)
    assert match, f"no trailing threshold in {expr}"
    return float(match.group(2))


def _series(metric: str, labels: dict[str, str], values: str) -> dict[str, str]:
    body = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return {"series": f"{metric}{{{body}}}", "values": values}


Scenario = Callable[[dict[str, Any], bool], tuple[list[dict[str, str]], dict[str, str]]]
SAMPLES = "x90"  # one sample a minute for 90 minutes: longer than any window plus any `for`


def _target_down(rule: dict[str, Any], fire: bool):
    labels = selector_labels(rule["expr"], "up")
    labels.setdefault("pod", obs.pod_name(f"triton-{labels.get('model_group', 'x')}"))
    return [_series("up", labels, f"{0 if fire else 1}{SAMPLES}")], labels


def _absent(rule: dict[str, Any], fire: bool):
    metric = re.match(r"absent\(([a-zA-Z_:][a-zA-Z0-9_:]*)", rule["expr"]).group(1)
    labels = selector_labels(rule["expr"], metric)
    present = {**labels, "pod": obs.pod_name("triton-x"), "model": labels.get("model", "m"), "version": "1"}
    series = [_series("up", {"namespace": labels.get("namespace", "x")}, f"1{SAMPLES}")]
    if "kube_deployment_spec_replicas" in rule["expr"]:  # a scale-to-zero group: absence matters only with replicas
        series.append(
            _series(
                "kube_deployment_spec_replicas",
                selector_labels(rule["expr"], "kube_deployment_spec_replicas"),
                f"1{SAMPLES}",
            )
        )
    if not fire:
        series.append(_series(metric, present, f"0+10{SAMPLES}"))
    return series, labels  # absent() returns the selector's equality labels


def _model_not_ready(rule: dict[str, Any], fire: bool):
    labels = {**selector_labels(rule["expr"], "kube_pod_status_ready"), "uid": "u1"}
    return [_series("kube_pod_status_ready", labels, f"{1 if fire else 0}{SAMPLES}")], {"pod": labels["pod"]}


def _high_queue_time(rule: dict[str, Any], fire: bool):
    limit_ms = threshold(rule["expr"])
    base = {
        **selector_labels(rule["expr"], "nv_inference_queue_duration_us"),
        "pod": obs.pod_name("triton-x"),
        "model": "m",
        "version": "1",
    }
    per_request_ms = 2 * limit_ms if fire else limit_ms / 2
    return [
        _series("nv_inference_request_success", base, f"0+60{SAMPLES}"),
        _series("nv_inference_queue_duration_us", base, f"0+{int(60 * per_request_ms * 1000)}{SAMPLES}"),
    ], {}


def _failures(rule: dict[str, Any], fire: bool):
    ratio = threshold(rule["expr"])
    base = {
        **selector_labels(rule["expr"], "nv_inference_request_failure"),
        "pod": obs.pod_name("triton-x"),
        "model": "m",
        "version": "1",
    }
    failed = 60 * min(0.99, 2 * ratio) if fire else 60 * ratio / 2
    return [
        _series("nv_inference_request_success", base, f"0+{60 - failed:g}{SAMPLES}"),
        _series("nv_inference_request_failure", {**base, "reason": "BACKEND"}, f"0+{failed:g}{SAMPLES}"),
    ], {}


def _gpu_memory(rule: dict[str, Any], fire: bool):
    ratio = threshold(rule["expr"])
    pod = obs.pod_name("triton-x")
    base = {**selector_labels(rule["expr"], "nv_gpu_memory_used_bytes"), "pod": pod, "gpu_uuid": "GPU-1"}
    used = 1000 * (ratio + 1) / 2 if fire else 1000 * ratio / 2
    return [
        _series("nv_gpu_memory_used_bytes", base, f"{used:g}{SAMPLES}"),
        _series("nv_gpu_memory_total_bytes", base, f"1000{SAMPLES}"),
    ], {"pod": pod}


def _at_maximum(rule: dict[str, Any], fire: bool):
    labels = selector_labels(rule["expr"], "kube_horizontalpodautoscaler_status_current_replicas")
    return [
        _series("kube_horizontalpodautoscaler_status_current_replicas", labels, f"{3 if fire else 2}{SAMPLES}"),
        _series("kube_horizontalpodautoscaler_spec_max_replicas", labels, f"3{SAMPLES}"),
    ], labels


def _wake_up_missing(rule: dict[str, Any], fire: bool):
    metric = re.match(r"absent\(([a-zA-Z_:][a-zA-Z0-9_:]*)", rule["expr"]).group(1)
    labels = selector_labels(rule["expr"], metric)
    series = [_series("up", {"job": "x"}, f"1{SAMPLES}")]
    if not fire:
        series.append(_series(metric, labels, f"1{SAMPLES}"))
    return series, labels


SCENARIOS: dict[str, Scenario] = {
    "TritonTargetDown": _target_down,
    "TritonMetricsAbsent": _absent,
    "TritonModelNotLoaded": _absent,
    "TritonModelNotReady": _model_not_ready,
    "TritonHighQueueTime": _high_queue_time,
    "TritonInferenceFailures": _failures,
    "TritonGpuMemoryNearlyFull": _gpu_memory,
    "TritonAutoscalerAtMaximum": _at_maximum,
    "TritonWakeUpSignalMissing": _wake_up_missing,
}


def _minutes(duration: str) -> float:
    return parse_seconds(duration) / 60


def unit_tests(rule_path: Path, groups: list[dict[str, Any]]) -> dict[str, Any]:
    """A promtool test file: for every alert rule, one case where it fires and one where it does not."""
    tests = []
    for group in groups:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            name = rule["alert"]
            assert name in SCENARIOS, f"alert {name} has no promtool scenario in tests/lab/test_promtool.py"
            eval_minutes = int(_minutes(rule.get("for", "0s"))) + 10
            for fire in (True, False):
                series, result_labels = SCENARIOS[name](rule, fire)
                expected = (
                    [
                        {
                            "exp_labels": {**result_labels, **rule.get("labels", {})},
                            "exp_annotations": rule.get("annotations", {}),
                        }
                    ]
                    if fire
                    else []
                )
                # Only this rule's own alert: other rules of the same name get none of its series.
                tests.append(
                    {
                        "name": f"{group['name']}/{name} {'fires' if fire else 'stays quiet'} ({rule['expr'][:80]})",
                        "interval": "1m",
                        "input_series": series,
                        "alert_rule_test": [
                            {"eval_time": f"{eval_minutes}m", "alertname": name, "exp_alerts": expected}
                        ],
                    }
                )
    return {"rule_files": [rule_path.name], "evaluation_interval": "1m", "tests": tests}


@pytest.mark.parametrize("stack", STACKS)
def test_promtool_unit_tests_fire_and_quiet_for_every_alert(stack: str, tmp_path: Path) -> None:
    test_files = []
    for rule in _rules(stack):
        # One rule per file: a scenario's alert must come from its own rule, not a same-named sibling.
        for g_index, group in enumerate(rule["spec"]["groups"]):
            for r_index, single in enumerate(r for r in group["rules"] if "alert" in r):
                one_rule = {
                    "metadata": {
                        "namespace": rule["metadata"]["namespace"],
                        "name": f"{rule['metadata']['name']}-{g_index}-{r_index}",
                    },
                    "spec": {"groups": [{"name": group["name"], "rules": [single]}]},
                }
                path = rule_file(one_rule, tmp_path)
                test_file = tmp_path / f"{path.stem}.test.yaml"
                test_file.write_text(yaml.safe_dump(unit_tests(path, one_rule["spec"]["groups"]), sort_keys=False))
                test_files.append(test_file.name)
    assert test_files, f"{stack} renders no alert"
    result = promtool("test", "rules", *test_files, cwd=tmp_path)
    assert result.returncode == 0, f"{result.stdout}{result.stderr}"
    assert result.stdout.count("SUCCESS") == len(test_files), result.stdout
