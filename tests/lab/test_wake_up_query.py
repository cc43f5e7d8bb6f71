"""The scale-to-zero wake-up query, evaluated by Prometheus (``promtool test rules``) on the series it reads.

The query and its activation threshold are the render's: the local stack with its autoscaled group
set to scale to zero (``minReplicas: 0``, ``scaleToZero.enabled: true``). The input series is the
ingress gateway's ``istio_requests_total`` for the group's Service with the labels the query selects,
as the gateway reports requests while the group has no endpoints (503, flag ``UH``). Envoy creates a
stat on its first use, so the first request after the gateway started is a series that begins at 1,
with no earlier sample for ``rate()`` to count from.

``tests/e2e/test_autoscaling.py`` proves the same with KEDA and the HPA; this runs in seconds.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.lab.prometheus import promtool
from support.lab.renders import manifests_of, rendered_stacks, variant_render

STACK = "local"
METRIC = "istio_requests_total"
#: What the gateway adds to the labels the query selects, for a request to a Service with no endpoints.
AT_ZERO = {"reporter": "source", "response_code": "503", "response_flags": "UH", "request_protocol": "http"}


@pytest.fixture(scope="module")
def wake_up(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, float]:
    """The rendered wake-up trigger's query and activation threshold."""
    where = tmp_path_factory.mktemp("renders")
    committed = manifests_of(rendered_stacks()[STACK], "ScaledObject")
    assert len(committed) == 1, f"the local stack should autoscale one group, found {len(committed)}"
    group = committed[0]["metadata"]["labels"]["triton-platform.io/model-group"]

    def scale_to_zero(config: dict[str, Any]) -> None:
        for entry in config["triton-platform:modelGroups"]:
            if entry["name"] == group:
                entry["autoscaling"].update({"minReplicas": 0, "scaleToZero": {"enabled": True}})

    (scaled_object,) = manifests_of(variant_render(STACK, scale_to_zero, "scale-to-zero", where), "ScaledObject")
    (wake,) = [t for t in scaled_object["spec"]["triggers"] if t["name"] == "wake-up"]
    return wake["metadata"]["query"], float(wake["metadata"]["activationThreshold"])


def _selected(query: str) -> dict[str, str]:
    """The labels ``query`` selects on the gateway's metric (equality matchers only)."""
    found = re.search(METRIC + r"\{([^}]*)\}", query)
    assert found, f"{METRIC} is not in {query}"
    matchers = re.findall(r'(\w+)(=~|!=|!~|=)"([^"]*)"', found.group(1))
    assert matchers and all(op == "=" for _, op, _ in matchers), query
    return {name: value for name, _, value in matchers}


def _active(query: str, activation: float, values: str, at: dict[str, int], tmp_path: Path) -> dict[str, str]:
    """``{eval time: 'active'|'inactive'}`` as KEDA would read the query (value above activation)."""
    labels = {**_selected(query), **AT_ZERO}
    series = METRIC + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    results = {}
    for name, seconds in at.items():
        for expected in (1, 0):
            test = {
                "rule_files": [],
                "evaluation_interval": "2s",
                "tests": [
                    {
                        "interval": "2s",
                        "input_series": [{"series": series, "values": values}],
                        "promql_expr_test": [
                            {
                                "expr": f"({query}) > bool {activation:g}",
                                "eval_time": f"{seconds}s",
                                "exp_samples": [{"labels": "{}", "value": expected}],
                            }
                        ],
                    }
                ],
            }
            path = tmp_path / f"{name}-{expected}.test.yaml"
            path.write_text(yaml.safe_dump(test, sort_keys=False))
            result = promtool("test", "rules", path.name, cwd=tmp_path)
            if result.returncode == 0:
                results[name] = "active" if expected else "inactive"
                break
        else:
            raise AssertionError(f"{name}: {query} gave neither 0 nor 1:\n{result.stdout}{result.stderr}")
    return results


def test_the_first_request_to_a_group_at_zero_wakes_it(wake_up: tuple[str, float], tmp_path: Path) -> None:
    """Scraped every 2 s: no series for 30 s, then the first request (the series begins at 1). The
    query reads 0 before it, is above the activation threshold while that request is inside the rate
    window, and reads 0 again once it is out (one request does not keep the group awake)."""
    query, activation = wake_up
    found = _active(query, activation, "_x15 1x90", {"idle": 20, "first request": 40, "a window later": 120}, tmp_path)
    assert found == {"idle": "inactive", "first request": "active", "a window later": "inactive"}, (query, found)


def test_a_request_on_an_existing_series_wakes_it(wake_up: tuple[str, float], tmp_path: Path) -> None:
    """A later wake-up: the gateway's 503 series exists (3 requests, long ago) and grows by one."""
    query, activation = wake_up
    found = _active(query, activation, "3x60 4x60", {"idle": 100, "one more request": 130}, tmp_path)
    assert found == {"idle": "inactive", "one more request": "active"}, (query, found)


def test_a_scrape_gap_does_not_make_an_old_series_look_new(wake_up: tuple[str, float], tmp_path: Path) -> None:
    """A failed scrape writes stale markers for every series of the gateway pod: an old series with
    days of requests, idle now, is missing for one scrape (at 122 s) and back. No request came, so no
    wake-up, also when the window's start falls on the gap (182 s: the series "absent a window ago")."""
    query, activation = wake_up
    at = {"idle": 100, "gap": 122, "after the gap": 150, "window on the gap": 182}
    found = _active(query, activation, "5000000x60 stale 5000000x60", at, tmp_path)
    assert set(found.values()) == {"inactive"}, (query, found)


def test_a_new_series_wakes_a_group_but_never_sizes_it(wake_up: tuple[str, float], tmp_path: Path) -> None:
    """A series Prometheus has not seen before (a Prometheus without its data, after a restart) with
    days of requests counts as one request over the window: enough to wake, never 5,000,000/60 per
    second against the trigger's per-replica target."""
    query, _ = wake_up
    one_request_per_window = 1 / 60
    found = _active(query, one_request_per_window * 1.2, "_x15 5000000x90", {"first samples": 40}, tmp_path)
    assert found == {"first samples": "inactive"}, (query, found)
