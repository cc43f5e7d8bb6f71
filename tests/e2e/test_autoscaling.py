"""KEDA and the HPA, end to end: a load step on a real Triton scales the Deployment out.

One control plane with the aggregation layer on (``LocalCluster(aggregation=True)``), KEDA's real
operator and metrics adapter against it (``e2e_keda``), kube-controller-manager's HPA at its
managed-cluster sync period (15 s), kwok GPU nodes. A real ``tritonserver`` (the lab's, started
from the rendered Deployment with a 20 ms stand-in model) stands for the group's pod, and a real
Prometheus scrapes it with the job the rendered ServiceMonitor makes (the lab harness). The
group's rendered Deployment and ScaledObject are applied to the cluster; the ScaledObject's only
test-only change is ``serverAddress``, pointed at that Prometheus on 127.0.0.1.

Inputs are the committed local stack's render, with one setting added for the pending-requests
trigger (``pendingRequestsPerReplica``, which the local stack does not set): the queue-time trigger
of that render is checked to be the committed one, byte for byte.

The measured figure is load step -> HPA ``desiredReplicas`` change, per trigger, written to
``benchmarks/e2e_autoscaling.json`` (timings never fail a test; a scale-out that does not happen
does). Each run starts from one replica with a fresh HPA (the ScaledObject is re-created: the HPA's
300 s scale-down stabilization would otherwise hold the last run's replicas), with a one-client
baseline whose samples fill the query window, and steps at a random point of the HPA's 15 s sync
cycle, as a real load step would.
"""

from __future__ import annotations

import copy
import json
import os
import random
import shutil
import ssl
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from e2e_cluster import HPA_SYNC_PERIOD_SECONDS, LocalCluster, wait_for
from e2e_keda import Keda
from e2e_toolchain import ROOT, Toolchain, require_toolchain
from triton_components.observability import keda_triggers
from triton_platform.config import load_settings
from triton_platform.config.stack_file import read_stack_file
from triton_platform.render import StackRender, render_stack

sys.path.insert(0, str(ROOT / "tests" / "lab"))
import harness  # noqa: E402 - the lab harness: Triton, Prometheus, load loops
import lab_observability as obs  # noqa: E402
import lab_reaction  # noqa: E402
from lab_renders import variant_render  # noqa: E402

pytestmark = pytest.mark.e2e

STACK = "local"
RESULTS = ROOT / "benchmarks" / "e2e_autoscaling.json"
#: The load step, as a multiple of what one replica serves at the trigger's target.
OVERLOAD = 2.0
#: Added to the local stack for the pending-requests trigger: small, so 2x is 9 clients on 2 cores.
PENDING_REQUESTS_PER_REPLICA = 4
RUNS = int(os.environ.get("TRITON_E2E_AUTOSCALING_RUNS", "5"))
#: Generous: detection (a 10 s window at 2x) plus one sync period, on a busy 2-core machine.
SCALE_OUT_BOUND_SECONDS = 60


def cache_dir() -> Path:
    return Path(os.environ.get("TRITON_E2E_CACHE", Path.home() / ".cache" / "triton-platform-e2e"))


@dataclass
class Stage:
    toolchain: Toolchain
    cluster: LocalCluster
    keda: Keda
    render: StackRender
    scaled_object: dict[str, Any]
    rt: harness.RenderedTriton
    run: harness.Running
    prometheus: harness.Prometheus
    gpu_nodes: list[str]
    workdir: Path
    triton_version: str
    scenarios: dict[str, lab_reaction.Scenario] = field(default_factory=dict)
    measured: dict[str, list[float]] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return self.scaled_object["metadata"]["namespace"]

    @property
    def name(self) -> str:
        return self.scaled_object["metadata"]["name"]

    @property
    def deployment(self) -> str:
        return self.scaled_object["spec"]["scaleTargetRef"]["name"]

    @property
    def hpa(self) -> str:
        return self.scaled_object["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["name"]

    def api(self, path: str) -> dict[str, Any] | None:
        """One GET on the API server (cheap enough to poll several times a second); None if absent."""
        context = ssl.create_default_context(cafile=str(self.cluster.ca_file))
        request = urllib.request.Request(f"{self.cluster.server}{path}")
        request.add_header("Authorization", f"Bearer {self.cluster.token}")
        try:
            with urllib.request.urlopen(request, timeout=5, context=context) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def hpa_object(self) -> dict[str, Any] | None:
        return self.api(f"/apis/autoscaling/v2/namespaces/{self.namespace}/horizontalpodautoscalers/{self.hpa}")

    def triggers(self, names: tuple[str, ...]) -> list[dict[str, Any]]:
        chosen = [copy.deepcopy(t) for t in self.scaled_object["spec"]["triggers"] if t["name"] in names]
        assert [t["name"] for t in chosen] == list(names), f"the render has no trigger(s) {names}"
        for trigger in chosen:
            # Test-only: the Prometheus that scrapes the stand-in Triton, on 127.0.0.1.
            trigger["metadata"]["serverAddress"] = self.prometheus.url
        return chosen

    def apply_scaled_object(self, names: tuple[str, ...]) -> None:
        scaled_object = copy.deepcopy(self.scaled_object)
        scaled_object["spec"]["triggers"] = self.triggers(names)
        self.cluster.apply_objects([scaled_object])

    def delete_scaled_object(self) -> None:
        self.cluster.kubectl("delete", "scaledobject", self.name, "-n", self.namespace, "--ignore-not-found",
                             "--wait=true", "--timeout=60s")
        wait_for(f"HPA {self.hpa} deleted by KEDA", lambda: self.hpa_object() is None, 60, interval=0.2)

    def ready_pods(self) -> list[dict[str, Any]]:
        selector = ",".join(f"{k}={v}" for k, v in self.rt.pod_labels.items() if k != "app.kubernetes.io/version")
        pods = self.cluster.items("pods", "-n", self.namespace, "-l", selector)
        return [p for p in pods if not p["metadata"].get("deletionTimestamp")
                and any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))]

    def scale_to(self, replicas: int) -> None:
        self.cluster.kubectl("scale", f"deployment/{self.deployment}", "-n", self.namespace, f"--replicas={replicas}")
        wait_for(f"{replicas} Ready {self.deployment} pod(s)", lambda: len(self.ready_pods()) == replicas, 60)


@pytest.fixture(scope="module")
def stage() -> Iterator[Stage]:
    workdir = Path(tempfile.mkdtemp(prefix="triton-e2e-autoscaling-"))
    toolchain = require_toolchain(workdir / "toolchain-build.log")
    install = harness.triton_install()
    harness.require_executable("prometheus")
    render, scaled_object = _render(workdir)
    rt = next(rt for rt in harness.triton_deployments(render) if rt.name == scaled_object["spec"]["scaleTargetRef"]["name"])
    cluster = LocalCluster(toolchain, workdir / "cluster", aggregation=True)
    keda = Keda(cluster, toolchain, workdir / "keda")
    storage = harness.Storage(workdir / "storage")
    run: harness.Running | None = None
    prometheus: harness.Prometheus | None = None
    try:
        cluster.start()
        gpu_nodes = _add_nodes(cluster, scaled_object["spec"]["maxReplicaCount"])
        keda.start()
        cluster.apply_objects([m for m in render.manifests if m["kind"] == "Namespace"])
        cluster.apply_objects([m for m in render.manifests if m["kind"] == "ServiceAccount"] + [rt.deployment])
        run = harness.start_rendered(rt, storage=storage, workdir=workdir / "triton", install=install,
                                     service_time_ms=lab_reaction.SERVICE_TIME_MS)
        # The stack's admin-key Secret (the render masks its value): KEDA resolves the target
        # container's env, Secret references included, before it makes the HPA.
        _, secret, key = harness.admin_key_ref(rt)
        cluster.apply_objects([{"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                                "metadata": {"name": secret, "namespace": rt.namespace},
                                "stringData": {key: run.admin_key}}])
        jobs, _, _ = obs.scrape_jobs(render, [run], workdir)
        monitor = next(j for j in jobs if j["job_name"].endswith(f"/{scaled_object['metadata']['name']}/0"))
        prometheus = harness.Prometheus(workdir / "prometheus", [monitor])
        prometheus.wait_targets_up(1, timeout=60)
        state = Stage(toolchain, cluster, keda, render, scaled_object, rt, run, prometheus, gpu_nodes, workdir,
                      install.version)
        state.scenarios = {sc.trigger["name"]: sc for sc in lab_reaction.scenarios({STACK: render})
                           if sc.scaled_object["metadata"]["name"] == scaled_object["metadata"]["name"]}
        for name, scenario in state.scenarios.items():
            # rate() needs two samples in its window: until then the query is empty, which KEDA
            # rightly reports as an error.
            harness.wait_until(lambda: prometheus.value(scenario.query) is not None, 60, interval=0.5,
                               what=f"the {name} query to return a value")
        yield state
    except Exception:
        print(cluster.logs_tail())
        print(keda.logs_tail())
        raise
    finally:
        if prometheus is not None:
            prometheus.stop()
        if run is not None:
            run.server.stop()
        storage.stop()
        keda.stop()
        cluster.stop()
        if os.environ.get("TRITON_E2E_KEEP") != "1":
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"e2e work folder kept: {workdir}")


def _render(workdir: Path) -> tuple[StackRender, dict[str, Any]]:
    """The local stack with pending requests added to its autoscaled group; its ScaledObject."""
    committed = render_stack(ROOT, STACK)
    autoscaled = [so for so in harness.manifests_of(committed, "ScaledObject")]
    assert len(autoscaled) == 1, f"the local stack should autoscale one group, found {len(autoscaled)}"
    group = autoscaled[0]["metadata"]["labels"]["triton-platform.io/model-group"]

    def add_pending(config: dict[str, Any]) -> None:
        for entry in config["triton-platform:modelGroups"]:
            if entry["name"] == group:
                entry["autoscaling"]["pendingRequestsPerReplica"] = PENDING_REQUESTS_PER_REPLICA

    render = variant_render(STACK, add_pending, "pending-requests", workdir / "renders")
    (scaled_object,) = harness.manifests_of(render, "ScaledObject")
    by_name = {t["name"]: t for t in scaled_object["spec"]["triggers"]}
    assert by_name["queue-time"] == autoscaled[0]["spec"]["triggers"][0], "the variant changed the queue-time trigger"
    assert set(by_name) == {"queue-time", "pending-requests"}, by_name
    return render, scaled_object


def _add_nodes(cluster: LocalCluster, replicas: int) -> list[str]:
    """One GPU node per replica the ScaledObject allows, as the local stack selects them, and a system node."""
    config, secret_keys = read_stack_file(ROOT / f"Pulumi.{STACK}.yaml")
    settings = load_settings(config, f"Pulumi.{STACK}.yaml", frozenset(secret_keys))
    byo = settings.existing_cluster
    assert byo is not None, "the local stack must be cloud-less"
    names = [f"gpu-{i}" for i in range(replicas)]
    for i, name in enumerate(names):
        cluster.add_node(name, {**byo.gpu_node_selector, "topology.kubernetes.io/zone": f"zone-{'ab'[i % 2]}"},
                         [t.model_dump() for t in byo.gpu_node_taints],
                         {"cpu": "16", "memory": "64Gi", "pods": "110", "nvidia.com/gpu": str(byo.gpus_per_node)})
    cluster.add_node("system-0", {"topology.kubernetes.io/zone": "zone-a"}, [], {"cpu": "8", "memory": "32Gi", "pods": "110"})
    cluster.wait_nodes_ready([*names, "system-0"])
    return names


# ------------------------------------------------------------------------------------- one run


@dataclass
class Run:
    trigger: str
    seconds: float
    baseline_value: float | None
    level_value: float | None
    desired: int
    query_crossed: float | None
    since_sync: float
    since_first_sync: float


def _measure_once(stage: Stage, names: tuple[str, ...], clients: int, rng: random.Random) -> Run:
    """Reset to one replica and a fresh HPA, step the load, time the HPA's desiredReplicas change."""
    scenario = stage.scenarios[names[0]]
    stage.delete_scaled_object()
    stage.scale_to(1)
    baseline = harness.Load(stage.run.server.grpc, stage.run.models[0], 1, deadline_seconds=240)
    step_load: harness.Load | None = None
    try:
        # The window and two scrapes hold only baseline samples before the step.
        settle = time.monotonic() + scenario.window_seconds + 2 * scenario.scrape_seconds
        stage.apply_scaled_object(names)

        def synced() -> bool:
            hpa = stage.hpa_object()
            status = (hpa or {}).get("status", {})
            return bool(status.get("currentMetrics")) and status.get("desiredReplicas") == 1

        wait_for(f"HPA {stage.hpa} created by KEDA and synced once at 1 replica", synced, 60, interval=0.2)
        first_sync = time.monotonic()
        # Meanwhile, watch the HPA's syncs (each writes the metric values it read) to know where in
        # its cycle the step lands.
        until = max(settle, time.monotonic()) + rng.uniform(0, HPA_SYNC_PERIOD_SECONDS)
        last_metrics, last_sync = None, first_sync
        while time.monotonic() < until:
            metrics = ((stage.hpa_object() or {}).get("status") or {}).get("currentMetrics")
            if metrics != last_metrics:
                last_metrics, last_sync = metrics, time.monotonic()
            time.sleep(0.2)
        before = stage.prometheus.value(scenario.query)
        assert before is not None and before < scenario.threshold, f"{names}: baseline {before} not below {scenario.threshold}"
        assert stage.hpa_object()["status"]["desiredReplicas"] == 1, "the HPA scaled before the step"

        step_load = harness.Load(stage.run.server.grpc, stage.run.models[0], clients - 1, deadline_seconds=SCALE_OUT_BOUND_SECONDS + 10)
        step = time.monotonic()
        since_sync = round(step - last_sync, 1)
        since_first_sync = round(step - first_sync, 1)
        desired, crossed = 1, None
        while time.monotonic() - step < SCALE_OUT_BOUND_SECONDS:
            desired = ((stage.hpa_object() or {}).get("status") or {}).get("desiredReplicas", 1)
            if desired > 1:
                break
            if crossed is None:
                # When the query itself crosses the target (what the lab measures), for the split.
                value = stage.prometheus.value(scenario.query)
                if value is not None and value > scenario.threshold:
                    crossed = round(time.monotonic() - step, 2)
            time.sleep(0.1)
        seconds = time.monotonic() - step
        level = stage.prometheus.value(scenario.query)
        assert desired > 1, (
            f"{names}: no scale-out {SCALE_OUT_BOUND_SECONDS} s after a {OVERLOAD:g}x step ({clients} clients; "
            f"query now {level}, threshold {scenario.threshold}); HPA: {json.dumps(stage.hpa_object(), indent=1)[-3000:]}"
            f"\n{stage.keda.logs_tail()}")
        assert not step_load.errors and not baseline.errors, (step_load.errors + baseline.errors)[:3]
        return Run(names[0] if len(names) == 1 else "+".join(names), round(seconds, 2), before, level, desired, crossed, since_sync, since_first_sync)
    finally:
        if step_load is not None:
            step_load.stop(timeout=60)
        baseline.stop(timeout=60)


# ------------------------------------------------------------------------------------- tests


def test_keda_serves_the_rendered_triggers_through_the_aggregation_layer(stage: Stage) -> None:
    """KEDA creates the HPA the ScaledObject names, and the HPA's external metrics come from the
    adapter through kube-apiserver's aggregator with the values Prometheus has for the rendered
    queries (read the way the HPA reads them)."""
    names = tuple(t["name"] for t in stage.scaled_object["spec"]["triggers"])
    stage.delete_scaled_object()
    stage.apply_scaled_object(names)
    hpa = wait_for(f"HPA {stage.hpa}", stage.hpa_object, 60, interval=0.5)
    metrics = {m["external"]["metric"]["name"]: m["external"]["target"] for m in hpa["spec"]["metrics"]}
    assert len(metrics) == len(names), metrics
    so = stage.cluster.get("scaledobject", stage.name, "-n", stage.namespace)
    assert so["status"]["conditions"], so.get("status")
    assert hpa["spec"]["minReplicas"] == stage.scaled_object["spec"]["minReplicaCount"]
    assert hpa["spec"]["maxReplicas"] == stage.scaled_object["spec"]["maxReplicaCount"]
    for metric in metrics:
        items = stage.keda.external_metric(stage.namespace, metric, stage.name)
        assert len(items) == 1 and items[0]["metricName"] == metric, items


@pytest.mark.parametrize("trigger", ["queue-time", "pending-requests"])
def test_a_load_step_scales_the_deployment_out_onto_gpu_nodes(stage: Stage, trigger: str) -> None:
    """Under a 2x load step (what one replica serves at the trigger's target, doubled) the HPA KEDA
    made from the rendered trigger raises the Deployment's replicas, and kwok runs the new pod on a
    GPU node of the stack's pool. Timed from the step to the HPA's desiredReplicas change, RUNS
    times (each from a fresh HPA at a random point of its sync cycle)."""
    scenario = stage.scenarios[trigger]
    clients = scenario.clients(OVERLOAD)
    rng = random.Random()
    runs = []
    for _ in range(RUNS):
        runs.append(_measure_once(stage, (trigger,), clients, rng))

        def scaled_out() -> list[dict[str, Any]]:
            pods = stage.ready_pods()
            return pods if len(pods) == runs[-1].desired else []

        pods = wait_for(f"{runs[-1].desired} Ready pods after the scale-out", scaled_out, 60)
        assert {p["spec"]["nodeName"] for p in pods} <= set(stage.gpu_nodes), [p["spec"].get("nodeName") for p in pods]
    stage.measured[trigger] = [r.seconds for r in runs]
    _write_results(stage, trigger, scenario, clients, runs)


def test_fallback_holds_the_replicas_when_prometheus_stops(stage: Stage) -> None:
    """Prometheus stopped at 2 replicas: after ``fallback.failureThreshold`` failed reads KEDA answers
    the HPA with the fallback value instead of an error (``currentReplicasIfHigher``: the value that
    makes the HPA compute the current 2 replicas), the HPA stays active and the ScaledObject says it
    is falling back. (The 300 s scale-down stabilization alone would keep 2 replicas for a while;
    without fallback the HPA would read errors and stop scaling altogether, in both directions.)"""
    names = tuple(t["name"] for t in stage.scaled_object["spec"]["triggers"])
    stage.delete_scaled_object()
    stage.scale_to(2)
    stage.apply_scaled_object(names)
    wait_for(f"HPA {stage.hpa} synced", lambda: ((stage.hpa_object() or {}).get("status") or {}).get("currentMetrics"), 60)
    stage.prometheus.stop()

    def falling_back() -> bool:
        so = stage.cluster.get("scaledobject", stage.name, "-n", stage.namespace)
        return any(c["type"] == "Fallback" and c["status"] == "True" for c in so.get("status", {}).get("conditions", []))

    threshold = stage.scaled_object["spec"]["fallback"]["failureThreshold"]
    wait_for("the ScaledObject's Fallback condition", falling_back, (threshold + 3) * HPA_SYNC_PERIOD_SECONDS, interval=1)
    hpa = stage.hpa_object()
    for metric in hpa["spec"]["metrics"]:
        external = metric["external"]
        (item,) = stage.keda.external_metric(stage.namespace, external["metric"]["name"], stage.name)
        target = external["target"]
        # Value: target x replicas / ready pods; AverageValue: per-replica target x replicas.
        expected = _quantity(target["value"]) if target["type"] == "Value" else 2 * _quantity(target["averageValue"])
        assert _quantity(item["value"]) == pytest.approx(expected), (external, item)
    # The HPA keeps computing 2 from those values at its next syncs.
    time.sleep(HPA_SYNC_PERIOD_SECONDS + 2)
    hpa = stage.hpa_object()
    conditions = {c["type"]: c for c in hpa["status"]["conditions"]}
    assert conditions["ScalingActive"]["status"] == "True", conditions
    assert hpa["status"]["desiredReplicas"] == 2, hpa["status"]
    assert len(stage.ready_pods()) == 2


def _quantity(text: str) -> float:
    """A Kubernetes quantity as the adapter writes metric values (plain or milli)."""
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


# ------------------------------------------------------------------------------------- results


def _write_results(stage: Stage, trigger: str, scenario: lab_reaction.Scenario, clients: int, runs: list[Run]) -> None:
    seconds = [r.seconds for r in runs]
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[trigger] = {
        "median_s": round(statistics.median(seconds), 1),
        "worst_s": round(max(seconds), 1),
        "runs": len(seconds),
        "samples_s": seconds,
        "hpa_sync_s": HPA_SYNC_PERIOD_SECONDS,
        "scrape_s": scenario.scrape_seconds,
        "window_s": scenario.window_seconds or None,
        "threshold": scenario.threshold,
        "clients": clients,
        "query_crossed_s": [r.query_crossed for r in runs],
        # Seconds from the HPA's last observed sync to the step (a value change seen by polling; a
        # sync that reads the same values again is not seen).
        "step_after_sync_s": [r.since_sync for r in runs],
        "step_after_first_sync_s": [r.since_first_sync for r in runs],
        "baseline": [r.baseline_value for r in runs],
        "level_at_decision": [r.level_value for r in runs],
        "keda": stage.toolchain.versions["KEDA_VERSION"],
        "kubernetes": stage.toolchain.versions["KUBERNETES_VERSION"],
        "triton": stage.triton_version,
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    # The trigger mix a group gets from the autoscaler's defaults (its args contract).
    default = keda_triggers.triggers({"model_group": "default"}, namespace="default", prometheus_url="http://prometheus:9090", service="")
    results["default"] = "+".join(t["name"] for t in default)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
