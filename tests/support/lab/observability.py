"""Observability helpers shared by the lab's tests and benchmark: a stack's Tritons scraped by a real
Prometheus configured from the rendered monitors, and the rendered queries in executable form."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.lab.emulators import Storage
from support.lab.processes import LOOPBACK
from support.lab.prometheus import Prometheus, ScrapeTarget, rule_file, scrape_job
from support.lab.renders import manifests_of, triton_deployments
from support.lab.triton import Running, TritonInstall, start_rendered

#: kube-state-metrics series: not produced here (no Kubernetes API); alerts over them are unit-tested
#: with promtool instead.
KSM = re.compile(r"\bkube_[a-z_]+")
#: Istio's request metrics (the scale-to-zero wake-up trigger): no mesh here.
MESH = re.compile(r"\bistio_[a-z_]+")
#: Triton's GPU series do not exist without a GPU. Each has a server-level CPU twin carrying the same
#: target labels, so the query's selectors and aggregations are checked on the twin.
GPU_TWINS = {
    "nv_gpu_utilization": "nv_cpu_utilization",
    "nv_gpu_memory_used_bytes": "nv_cpu_memory_used_bytes",
    "nv_gpu_memory_total_bytes": "nv_cpu_memory_total_bytes",
}
_BY = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


def source(expr: str) -> str:
    """Which program produces the series an expression reads: kube-state-metrics, mesh, gpu or triton."""
    if KSM.search(expr):
        return "kube-state-metrics"
    if MESH.search(expr):
        return "mesh"
    if any(name in expr for name in GPU_TWINS):
        return "gpu"
    return "triton"


def on_cpu(expr: str) -> str:
    for gpu, cpu in GPU_TWINS.items():
        expr = re.sub(rf"\b{gpu}\b", cpu, expr)
    return expr


def grouping_labels(expr: str) -> set[str]:
    """Labels an expression groups by: the labels its result series must carry."""
    labels: set[str] = set()
    for match in _BY.finditer(expr):
        if "without" in match.group(0):
            continue
        labels |= {label.strip() for label in match.group(1).split(",") if label.strip()}
    return labels


def pod_name(deployment: str, index: int = 0) -> str:
    """A pod name of the Deployment's shape (<deployment>-<replicaset hash>-<suffix>)."""
    return f"{deployment}-5c9f7b8d6f-x7k2{'pqrst'[index % 5]}"


def selector_matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@dataclass
class StackObservation:
    """The stack's Tritons running, and a Prometheus scraping them with the rendered monitors."""

    stack: str
    render: Any
    running: list[Running]
    prometheus: Prometheus
    monitors: list[dict[str, Any]]
    targets: dict[str, list[ScrapeTarget]] = field(default_factory=dict)

    def stop(self) -> None:
        stop_all([self])


def stop_all(observations: Iterable[StackObservation]) -> None:
    """Prometheus first, then every Triton told to exit at once (each drains for up to its exit timeout)."""
    observations = list(observations)
    for observation in observations:
        observation.prometheus.stop()
    runs = [run for observation in observations for run in observation.running]
    for run in runs:
        run.server.process.signal(15)
    for run in runs:
        run.server.stop()


def scrape_jobs(
    render: Any, running: Iterable[Running], where: Path
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, list[ScrapeTarget]]]:
    """A scrape job per rendered monitor, targeting the running pods its selectors would select."""
    services = manifests_of(render, "Service")
    monitors = manifests_of(render, "ServiceMonitor") + manifests_of(render, "PodMonitor")
    jobs, by_monitor = [], {}
    running = list(running)
    for monitor in monitors:
        selector = monitor["spec"].get("selector", {}).get("matchLabels", {})
        namespaces = monitor["spec"].get("namespaceSelector", {}).get("matchNames", [monitor["metadata"]["namespace"]])
        targets = []
        for run in running:
            rt = run.rt
            if rt.namespace not in namespaces:
                continue
            address = f"{LOOPBACK}:{run.launch.ports['metrics']}"
            if monitor["kind"] == "ServiceMonitor":
                for svc in services:
                    if (
                        svc["metadata"]["namespace"] == rt.namespace
                        and selector_matches(selector, svc["metadata"].get("labels", {}))
                        and selector_matches(svc["spec"].get("selector", {}), rt.pod_labels)
                    ):
                        targets.append(
                            ScrapeTarget(
                                address,
                                rt.namespace,
                                pod_name(rt.name),
                                rt.pod_labels,
                                svc["metadata"]["name"],
                                svc["metadata"].get("labels", {}),
                            )
                        )
            elif selector_matches(selector, rt.pod_labels):
                targets.append(ScrapeTarget(address, rt.namespace, pod_name(rt.name), rt.pod_labels, "", {}))
        key = f"{monitor['kind']}/{monitor['metadata']['name']}"
        by_monitor[key] = targets
        jobs.append(scrape_job(monitor, targets, where / f"sd-{monitor['metadata']['name']}.yaml"))
    return jobs, monitors, by_monitor


def observe_stacks(
    renders: dict[str, Any],
    *,
    storage: Storage,
    workdir: Path,
    install: TritonInstall,
    service_time_ms: float = 0,
    extra_args: Iterable[str] = (),
) -> dict[str, StackObservation]:
    """Every stack's Tritons started at once (their start-ups overlap), then one Prometheus per stack."""
    started: dict[str, list[Running]] = {}
    observations: dict[str, StackObservation] = {}
    try:
        for stack, render in renders.items():
            started[stack] = [
                start_rendered(
                    rt,
                    storage=storage,
                    workdir=workdir / stack / rt.name,
                    install=install,
                    service_time_ms=service_time_ms,
                    extra_args=extra_args,
                    wait=False,
                    bucket_suffix=f"-{service_time_ms:g}ms" if service_time_ms else "",
                )
                for rt in triton_deployments(render)
            ]
        for runs in started.values():
            for run in runs:
                run.ready_seconds = run.server.wait_ready(run.rt.startup_budget_seconds())
        for stack, render in renders.items():
            jobs, monitors, targets = scrape_jobs(render, started[stack], workdir / stack)
            rules = [rule_file(r, workdir / stack) for r in manifests_of(render, "PrometheusRule")]
            prometheus = Prometheus(workdir / stack / "prometheus", jobs, rules)
            observations[stack] = StackObservation(stack, render, started[stack], prometheus, monitors, targets)
    except BaseException:
        for observation in observations.values():
            observation.prometheus.stop()
        for runs in started.values():
            for run in runs:
                run.server.stop()
        raise
    return observations


def dashboard_queries(render: Any) -> list[tuple[str, str]]:
    """(where, expr) of every query in every rendered Grafana dashboard ConfigMap."""
    found = []
    for cm in manifests_of(render, "ConfigMap"):
        if cm["metadata"].get("labels", {}).get("grafana_dashboard") is None:
            continue
        for file_name, text in cm.get("data", {}).items():
            board = json.loads(text)
            for panel in board.get("panels", []):
                for target in panel.get("targets", []):
                    found.append((f"{file_name} panel '{panel.get('title')}' {target.get('refId')}", target["expr"]))
            for variable in board.get("templating", {}).get("list", []):
                if variable.get("type") == "query":
                    found.append((f"{file_name} variable ${variable['name']}", variable["query"]))
    return found


def dashboard_variables(render: Any) -> dict[str, str]:
    """Each query variable's "All" value, as Grafana substitutes it."""
    values = {}
    for cm in manifests_of(render, "ConfigMap"):
        for text in cm.get("data", {}).values():
            with_json = text.strip().startswith("{")
            if not with_json:
                continue
            for variable in json.loads(text).get("templating", {}).get("list", []):
                if variable.get("type") == "query":
                    values[variable["name"]] = variable.get("allValue", ".*")
    return values


def grafana_expr(expr: str, variables: dict[str, str], scrape_seconds: float) -> str:
    """Grafana's substitutions: ``$__rate_interval`` is at least four scrape intervals; a variable's All value.
    ``label_values(selector, label)`` becomes the selector it reads."""
    match = re.fullmatch(r"\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*", expr)
    if match:
        expr = match.group(1)
    expr = expr.replace("$__rate_interval", f"{int(4 * scrape_seconds)}s")
    for name, value in variables.items():
        expr = expr.replace(f"${{{name}}}", value).replace(f"${name}", value)
    return expr


def scaled_object_triggers(render: Any) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [
        (so, trigger)
        for so in manifests_of(render, "ScaledObject")
        for trigger in so["spec"].get("triggers", [])
        if trigger.get("type") == "prometheus"
    ]


def alert_rules(render: Any) -> list[tuple[str, dict[str, Any]]]:
    return [
        (group["name"], rule)
        for pr in manifests_of(render, "PrometheusRule")
        for group in pr["spec"]["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]
