"""The autoscaling signal under a real load step, shared by the lab test and benchmark.

A scenario is one rendered ScaledObject trigger with the Deployment it scales and the monitor that
scrapes it. All scenarios share one timeline, each with its own Triton and Prometheus:

    baseline: 1 closed-loop client        (window + 2 scrapes: the query settles near 0)
    step:     c clients, c chosen so the signal goes to ``overload`` x the trigger's threshold
    stop:     no load                      (the query must fall back below the threshold)

With one model instance and a service time S, c closed-loop clients queue (c - 1) x S per request
and keep c - 1 requests pending. The query is evaluated at "now" twice a second, as KEDA does on
each HPA sync; the times are from the step to the first evaluation above the threshold (detection)
and from the stop to the first evaluation below it.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from support.lab import observability as obs
from support.lab.emulators import Storage
from support.lab.load import Load
from support.lab.processes import http_status
from support.lab.prometheus import Prometheus, parse_seconds
from support.lab.renders import RenderedTriton, manifests_of, triton_deployments
from support.lab.triton import Running, TritonInstall, TritonServer, start_rendered
from triton_platform.review import reaction_time

SERVICE_TIME_MS = 20.0


@dataclass
class Scenario:
    """One rendered trigger to measure, and every rendered trigger it stands for."""

    key: str
    stack: str
    render: Any
    scaled_object: dict[str, Any]
    trigger: dict[str, Any]
    rt: RenderedTriton
    monitor: dict[str, Any]
    covers: list[str] = field(default_factory=list)
    #: Extra Triton flags for this scenario only (a benchmark candidate, e.g. --metrics-interval-ms).
    extra_args: tuple[str, ...] = ()

    @property
    def threshold(self) -> float:
        return float(self.trigger["metadata"]["threshold"])

    @property
    def query(self) -> str:
        return self.trigger["metadata"]["query"]

    @property
    def scrape_seconds(self) -> float:
        endpoints = self.monitor["spec"].get("endpoints") or self.monitor["spec"].get("podMetricsEndpoints")
        return parse_seconds(endpoints[0].get("interval", "30s"))

    @property
    def window_seconds(self) -> float:
        windows = [parse_seconds(w) for w in re.findall(r"\[([0-9]+[smh])\]", self.query)]
        return max(windows) if windows else 0.0

    def clients(self, overload: float) -> int:
        """Closed-loop clients that take the signal to ``overload`` x the threshold."""
        if self.trigger["name"] == "queue-time":
            return 1 + math.ceil(overload * self.threshold / SERVICE_TIME_MS)
        return 1 + math.ceil(overload * self.threshold)  # pending requests: c - 1 wait


def _normalise(so: dict[str, Any], trigger: dict[str, Any], scrape: str) -> str:
    query = trigger["metadata"]["query"]
    for label in ("namespace", "model_group"):
        query = re.sub(rf'{label}="[^"]*"', f'{label}="…"', query)
    return json.dumps([trigger["name"], query, trigger["metadata"]["threshold"], trigger.get("metricType"), scrape])


def scenarios(renders: dict[str, Any], triggers: Iterable[str] = ("queue-time", "pending-requests")) -> list[Scenario]:
    """One scenario per distinct (trigger, query shape, threshold, scrape interval) over all renders."""
    found: dict[str, Scenario] = {}
    for stack, render in renders.items():
        tritons = {rt.name: rt for rt in triton_deployments(render)}
        monitors = manifests_of(render, "ServiceMonitor") + manifests_of(render, "PodMonitor")
        for so, trigger in obs.scaled_object_triggers(render):
            if trigger.get("name") not in triggers:
                continue
            rt = tritons[so["spec"]["scaleTargetRef"]["name"]]
            monitor = next(
                m
                for m in monitors
                if obs.selector_matches(m["spec"].get("selector", {}).get("matchLabels", {}), rt.pod_labels)
                or m["metadata"]["name"] == so["metadata"]["name"]
            )
            endpoints = monitor["spec"].get("endpoints") or monitor["spec"].get("podMetricsEndpoints")
            key = _normalise(so, trigger, endpoints[0].get("interval", ""))
            name = f"{stack}/{so['metadata']['name']}/{trigger['name']}"
            if key not in found:
                found[key] = Scenario(key, stack, render, so, trigger, rt, monitor)
            found[key].covers.append(name)
    return list(found.values())


@dataclass
class Measurement:
    scenario: str
    covers: list[str]
    extra_args: list[str]
    trigger: str
    threshold: float
    scrape_seconds: float
    window_seconds: float
    clients: int
    level: float | None = None
    overload: float | None = None
    detection_seconds: float | None = None
    fall_seconds: float | None = None
    estimate_detection_seconds: float | None = None
    estimate_decision_seconds: float | None = None
    decision_worst_seconds: float | None = None
    samples: list[tuple[float, float | None]] = field(default_factory=list)


def _counters(server: TritonServer, model: str) -> dict[str, float]:
    status, body = http_status(server.metrics)
    assert status == 200, status
    values = {}
    for line in body.decode().splitlines():
        match = re.match(r'(nv_inference_[a-z_]+)\{model="([^"]+)",version="1"\} ([0-9.e+]+)', line)
        if match and match.group(2) == model:
            values[match.group(1)] = float(match.group(3))
    return values


def measure(
    chosen: list[Scenario],
    *,
    storage: Storage,
    workdir: Path,
    install: TritonInstall,
    overload: float = 2.0,
    extra_args: Iterable[str] = (),
) -> list[Measurement]:
    """Run every scenario's load step on one timeline; bounded by the longest window plus margins."""
    runs: list[tuple[Scenario, Running, Prometheus]] = []
    try:
        for i, sc in enumerate(chosen):
            run = start_rendered(
                sc.rt,
                storage=storage,
                workdir=workdir / f"s{i}",
                install=install,
                service_time_ms=SERVICE_TIME_MS,
                bucket_suffix="-reaction",
                extra_args=(*extra_args, *sc.extra_args),
                wait=False,
            )
            runs.append((sc, run, None))  # type: ignore[arg-type]
        for i, (sc, run, _) in enumerate(runs):
            run.ready_seconds = run.server.wait_ready(sc.rt.startup_budget_seconds())
            jobs, _, _ = obs.scrape_jobs(sc.render, [run], workdir / f"s{i}")
            jobs = [j for j in jobs if j["job_name"].endswith(f"/{sc.monitor['metadata']['name']}/0")]
            prometheus = Prometheus(workdir / f"s{i}" / "prometheus", jobs)
            runs[i] = (sc, run, prometheus)
        for _, _, prometheus in runs:
            prometheus.wait_targets_up(1, timeout=60)

        longest_window = max(sc.window_seconds for sc in chosen)
        longest_scrape = max(sc.scrape_seconds for sc in chosen)
        bound = longest_window + 4 * longest_scrape + 30
        results = [
            Measurement(
                sc.key,
                sc.covers,
                list(sc.extra_args),
                sc.trigger["name"],
                sc.threshold,
                sc.scrape_seconds,
                sc.window_seconds,
                sc.clients(overload),
            )
            for sc, _, _ in runs
        ]

        def value(sc: Scenario, prometheus: Prometheus) -> float | None:
            return prometheus.value(sc.query)

        # Baseline: one client each, long enough for every window to hold only baseline samples.
        baseline = [
            Load(run.server.grpc, run.models[0], 1, deadline_seconds=longest_window + 3 * longest_scrape + 5)
            for _, run, _ in runs
        ]
        time.sleep(longest_window + 2 * longest_scrape)
        for sc, _, prometheus in runs:
            v = value(sc, prometheus)
            assert v is not None and v < sc.threshold, f"{sc.covers[0]}: baseline {v} is not below {sc.threshold}"
        for load in baseline:
            load.stop()

        before = [_counters(run.server, run.models[0]) for _, run, _ in runs]
        step_loads = [
            Load(run.server.grpc, run.models[0], m.clients, deadline_seconds=bound + 5)
            for (_, run, _), m in zip(runs, results, strict=True)
        ]
        step = time.monotonic()
        pending = set(range(len(runs)))
        while pending and time.monotonic() - step < bound:
            for i in sorted(pending):
                sc, _, prometheus = runs[i]
                v = value(sc, prometheus)
                results[i].samples.append((round(time.monotonic() - step, 2), v))
                if v is not None and v > sc.threshold:
                    results[i].detection_seconds = time.monotonic() - step
                    pending.discard(i)
            time.sleep(0.5)
        time.sleep(2)  # a little more of the step, for the level
        after = [_counters(run.server, run.models[0]) for _, run, _ in runs]
        for load in step_loads:
            load.stop(timeout=60)
        stop = time.monotonic()

        for i, ((sc, _, _), m) in enumerate(zip(runs, results, strict=True)):
            done = after[i]["nv_inference_request_success"] - before[i]["nv_inference_request_success"]
            if sc.trigger["name"] == "queue-time" and done:
                m.level = (
                    (after[i]["nv_inference_queue_duration_us"] - before[i]["nv_inference_queue_duration_us"])
                    / done
                    / 1000
                )
            else:
                m.level = float(m.clients - 1)
            m.overload = m.level / sc.threshold
            if sc.trigger["name"] == "queue-time":
                est = reaction_time.estimate(
                    scrape_interval_seconds=sc.scrape_seconds,
                    query_window_seconds=sc.window_seconds,
                    polling_interval_seconds=sc.scaled_object["spec"].get("pollingInterval", 30),
                    overload=max(m.overload, 1.01),
                )
                m.estimate_detection_seconds = est.scrape_seconds + est.window_seconds
                m.estimate_decision_seconds = est.total_seconds
            else:
                # A gauge, no window: a new value appears within one scrape interval.
                m.estimate_detection_seconds = sc.scrape_seconds
                m.estimate_decision_seconds = sc.scrape_seconds + reaction_time.HPA_SYNC_PERIOD_SECONDS
            if m.detection_seconds is not None:
                m.decision_worst_seconds = m.detection_seconds + reaction_time.HPA_SYNC_PERIOD_SECONDS

        pending = set(range(len(runs)))
        while pending and time.monotonic() - stop < bound:
            for i in sorted(pending):
                sc, _, prometheus = runs[i]
                v = value(sc, prometheus)
                if v is None or v < sc.threshold:
                    results[i].fall_seconds = time.monotonic() - stop
                    pending.discard(i)
            time.sleep(0.5)
        return results
    finally:
        for _, run, prometheus in runs:
            if prometheus is not None:
                prometheus.stop()
            run.server.stop()


def as_json(measurements: list[Measurement]) -> list[dict[str, Any]]:
    out = []
    for m in measurements:
        d = asdict(m)
        d.pop("samples")
        out.append({k: (round(v, 2) if isinstance(v, float) else v) for k, v in d.items()})
    return out
