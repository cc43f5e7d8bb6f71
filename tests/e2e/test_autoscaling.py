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

``make e2e`` proves each behaviour once (one load step per trigger, one wake-up); the ``bench``
tests (``make bench-e2e``) repeat them as the measurement: load step -> HPA ``desiredReplicas``
change per trigger, and first request -> replicas 1, written to ``benchmarks/e2e_autoscaling.json``
(timings never fail a test; a scale-out that does not happen does). Each run starts from one replica with a fresh HPA (the ScaledObject is re-created: the HPA's
300 s scale-down stabilization would otherwise hold the last run's replicas), with a one-client
baseline whose samples fill the query window, and steps at a random point of the HPA's 15 s sync
cycle, as a real load step would.

Scale to zero uses the same group rendered with ``minReplicas: 0`` and ``scaleToZero.enabled: true``:
idle, KEDA scales the Deployment to 0; at zero (the group's scrape target gone) the or-zero guarded
queries keep KEDA's polls free of errors; one request through a stand-in for the ingress gateway's
request metric (``e2e_gateway_at_zero``: upstream Envoy has no Istio stats filter) wakes it. Timed
from that request to the Deployment's replicas 1, written to the same file as ``wake``.
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import shutil
import ssl
import statistics
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from e2e_cluster import HPA_SYNC_PERIOD_SECONDS, ClusterError, LocalCluster, wait_for
from e2e_gateway_at_zero import METRIC as GATEWAY_METRIC
from e2e_gateway_at_zero import GatewayAtZero
from e2e_keda import Keda
from e2e_toolchain import ROOT, Toolchain, require_toolchain
from support import lab as harness  # the lab's machinery: Triton, Prometheus, load loops
from support.lab import observability as obs
from support.lab import reaction as lab_reaction
from support.lab.renders import variant_render
from triton_components.common.args import with_defaults
from triton_components.observability import keda_triggers
from triton_components.observability.autoscaler_args import TritonAutoscalerArgs
from triton_platform.config import load_settings
from triton_platform.config.stack_file import read_stack_file
from triton_platform.review.reaction_time import from_manifests as reaction_times
from triton_platform.review.render import StackRender, render_stack

pytestmark = pytest.mark.e2e

STACK = "local"
RESULTS = ROOT / "benchmarks" / "e2e_autoscaling.json"
#: The load step, as a multiple of what one replica serves at the trigger's target.
OVERLOAD = 2.0
#: Added to the local stack for the pending-requests trigger: small, so 2x is 9 clients on 2 cores.
PENDING_REQUESTS_PER_REPLICA = 4
#: Runs per trigger of the measurement (``make bench-e2e``); ``make e2e`` proves the scale-out once.
RUNS = int(os.environ.get("TRITON_E2E_AUTOSCALING_RUNS", "5"))
#: Generous: detection (a 10 s window at 2x) plus one sync period, on a busy 2-core machine.
SCALE_OUT_BOUND_SECONDS = 60
#: Wake-ups from zero of the measurement (``make bench-e2e``; ``make e2e`` proves one): each further
#: one waits about a minute for the wake-up query's 1 m rate window to drain back to 0 first. One by
#: default: with KEDA 2.20.2 a second run's re-created ScaledObject stays in "Scaler cooling down"
#: instead of scaling the idle group to 0 (seen once, not yet explained), so more runs may fail.
WAKE_RUNS = int(os.environ.get("TRITON_E2E_WAKE_RUNS", "1"))
#: Generous: one gateway scrape (2 s) and one KEDA polling interval (15 s), on a busy 2-core machine.
WAKE_BOUND_SECONDS = 90


@dataclass
class ScaleToZero:
    """The group rendered with scale to zero, and what stands for its pods' absence."""

    render: StackRender
    scaled_object: dict[str, Any]
    gateway: GatewayAtZero
    #: The file SD of the group's Triton scrape job, and its content while the group has pods.
    triton_sd: Path
    triton_targets: str


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
    zero: ScaleToZero | None = None
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

    def triggers(self, names: tuple[str, ...], scaled_object: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        rendered = (scaled_object or self.scaled_object)["spec"]["triggers"]
        chosen = [copy.deepcopy(t) for t in rendered if t["name"] in names]
        assert [t["name"] for t in chosen] == list(names), f"the render has no trigger(s) {names}"
        for trigger in chosen:
            # Test-only: the Prometheus that scrapes the stand-in Triton, on 127.0.0.1.
            trigger["metadata"]["serverAddress"] = self.prometheus.url
        return chosen

    def apply_scaled_object(self, names: tuple[str, ...], rendered: dict[str, Any] | None = None) -> None:
        scaled_object = copy.deepcopy(rendered or self.scaled_object)
        scaled_object["spec"]["triggers"] = self.triggers(names, scaled_object)
        self.cluster.apply_objects([scaled_object])

    def deployment_replicas(self) -> int:
        deployment = self.api(f"/apis/apps/v1/namespaces/{self.namespace}/deployments/{self.deployment}")
        assert deployment is not None, f"Deployment {self.deployment} is gone"
        return int(deployment["spec"].get("replicas", 1))

    def scaled_object_conditions(self) -> dict[str, dict[str, Any]]:
        so = self.cluster.get("scaledobject", self.name, "-n", self.namespace)
        return {c["type"]: c for c in so.get("status", {}).get("conditions", [])}

    def delete_scaled_object(self) -> None:
        self.cluster.kubectl(
            "delete",
            "scaledobject",
            self.name,
            "-n",
            self.namespace,
            "--ignore-not-found",
            "--wait=true",
            "--timeout=60s",
        )
        wait_for(f"HPA {self.hpa} deleted by KEDA", lambda: self.hpa_object() is None, 60, interval=0.2)

    def ready_pods(self) -> list[dict[str, Any]]:
        selector = ",".join(f"{k}={v}" for k, v in self.rt.pod_labels.items() if k != "app.kubernetes.io/version")
        pods = self.cluster.items("pods", "-n", self.namespace, "-l", selector)
        return [
            p
            for p in pods
            if not p["metadata"].get("deletionTimestamp")
            and any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))
        ]

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
    rt = next(
        rt for rt in harness.triton_deployments(render) if rt.name == scaled_object["spec"]["scaleTargetRef"]["name"]
    )
    zero_render, zero_scaled_object = _render_scale_to_zero(workdir, scaled_object, rt)
    cluster = LocalCluster(toolchain, workdir / "cluster", aggregation=True)
    keda = Keda(cluster, toolchain, workdir / "keda")
    storage = harness.Storage(workdir / "storage")
    run: harness.Running | None = None
    prometheus: harness.Prometheus | None = None
    gateway: GatewayAtZero | None = None
    try:
        cluster.start()
        gpu_nodes = _add_nodes(cluster, scaled_object["spec"]["maxReplicaCount"])
        keda.start()
        cluster.apply_objects([m for m in render.manifests if m["kind"] == "Namespace"])
        cluster.apply_objects([m for m in render.manifests if m["kind"] == "ServiceAccount"] + [rt.deployment])
        run = harness.start_rendered(
            rt,
            storage=storage,
            workdir=workdir / "triton",
            install=install,
            service_time_ms=lab_reaction.SERVICE_TIME_MS,
        )
        # The stack's admin-key Secret (the render masks its value): KEDA resolves the target
        # container's env, Secret references included, before it makes the HPA.
        _, secret, key = harness.admin_key_ref(rt)
        cluster.apply_objects(
            [
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "type": "Opaque",
                    "metadata": {"name": secret, "namespace": rt.namespace},
                    "stringData": {key: run.admin_key},
                }
            ]
        )
        jobs, _, _ = obs.scrape_jobs(render, [run], workdir)
        monitor = next(j for j in jobs if j["job_name"].endswith(f"/{scaled_object['metadata']['name']}/0"))
        wake = next(t for t in zero_scaled_object["spec"]["triggers"] if t["name"] == "wake-up")
        gateway = GatewayAtZero(_selected_labels(wake["metadata"]["query"], GATEWAY_METRIC))
        prometheus = harness.Prometheus(workdir / "prometheus", [monitor, _gateway_job(zero_render, gateway, workdir)])
        prometheus.wait_targets_up(2, timeout=60)
        (triton_sd,) = monitor["file_sd_configs"][0]["files"]
        zero = ScaleToZero(zero_render, zero_scaled_object, gateway, Path(triton_sd), Path(triton_sd).read_text())
        state = Stage(
            toolchain,
            cluster,
            keda,
            render,
            scaled_object,
            rt,
            run,
            prometheus,
            gpu_nodes,
            workdir,
            install.version,
            zero,
        )
        state.scenarios = {
            sc.trigger["name"]: sc
            for sc in lab_reaction.scenarios({STACK: render})
            if sc.scaled_object["metadata"]["name"] == scaled_object["metadata"]["name"]
        }
        for name, scenario in state.scenarios.items():
            # rate() needs two samples in its window: until then the query is empty, which KEDA
            # rightly reports as an error.
            harness.wait_until(
                lambda scenario=scenario: prometheus.value(scenario.query) is not None,
                60,
                interval=0.5,
                what=f"the {name} query to return a value",
            )
        yield state
    except Exception:
        print(cluster.logs_tail())
        print(keda.logs_tail())
        raise
    finally:
        if prometheus is not None:
            prometheus.stop()
        if gateway is not None:
            gateway.stop()
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
    autoscaled = list(harness.manifests_of(committed, "ScaledObject"))
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


def _render_scale_to_zero(
    workdir: Path, scaled_object: dict[str, Any], rt: harness.RenderedTriton
) -> tuple[StackRender, dict[str, Any]]:
    """The same group with ``minReplicas: 0`` and ``scaleToZero.enabled: true``; its ScaledObject."""
    group = scaled_object["metadata"]["labels"]["triton-platform.io/model-group"]

    def scale_to_zero(config: dict[str, Any]) -> None:
        for entry in config["triton-platform:modelGroups"]:
            if entry["name"] == group:
                entry["autoscaling"]["minReplicas"] = 0
                entry["autoscaling"]["scaleToZero"] = {"enabled": True}

    render = variant_render(STACK, scale_to_zero, "scale-to-zero", workdir / "renders")
    (zero,) = harness.manifests_of(render, "ScaledObject")
    assert zero["spec"]["minReplicaCount"] == 0, zero["spec"]
    assert [t["name"] for t in zero["spec"]["triggers"]] == ["queue-time", "wake-up"], zero["spec"]["triggers"]
    same = next(r for r in harness.triton_deployments(render) if r.name == rt.name)
    assert same.deployment == rt.deployment, "scale to zero changed the group's Deployment"
    return render, zero


def _selected_labels(query: str, metric: str) -> dict[str, str]:
    """The equality matchers ``query`` puts on ``metric``."""
    found = re.search(re.escape(metric) + r"\{([^}]*)\}", query)
    assert found, f"{metric} is not in {query}"
    matchers = re.findall(r'(\w+)(=~|!=|!~|=)"((?:[^"\\]|\\.)*)"', found.group(1))
    assert matchers and all(op == "=" for _, op, _ in matchers), f"{query}: only equality matchers are emulated"
    return {name: value for name, _, value in matchers}


def _gateway_job(render: StackRender, gateway: GatewayAtZero, workdir: Path) -> dict[str, Any]:
    """The scrape job the rendered gateway PodMonitor makes, its one pod being the stand-in."""
    namespace = gateway.labels["source_workload_namespace"]
    (monitor,) = [m for m in harness.manifests_of(render, "PodMonitor") if m["metadata"]["namespace"] == namespace]
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    target = harness.ScrapeTarget(
        gateway.stats_address,
        namespace,
        f"{gateway.labels['source_workload']}-0",
        monitor["spec"]["selector"]["matchLabels"],
        "",
        {},
        port_name=endpoint["port"],
        container="istio-proxy",
    )
    return harness.scrape_job(monitor, [target], workdir / f"sd-{monitor['metadata']['name']}.yaml")


def _add_nodes(cluster: LocalCluster, replicas: int) -> list[str]:
    """One GPU node per replica the ScaledObject allows, as the local stack selects them, and a system node."""
    config, secret_keys = read_stack_file(ROOT / f"Pulumi.{STACK}.yaml")
    settings = load_settings(config, f"Pulumi.{STACK}.yaml", frozenset(secret_keys))
    byo = settings.existing_cluster
    assert byo is not None, "the local stack must be cloud-less"
    names = [f"gpu-{i}" for i in range(replicas)]
    for i, name in enumerate(names):
        cluster.add_node(
            name,
            {**byo.gpu_node_selector, "topology.kubernetes.io/zone": f"zone-{'ab'[i % 2]}"},
            [t.model_dump() for t in byo.gpu_node_taints],
            {"cpu": "16", "memory": "64Gi", "pods": "110", "nvidia.com/gpu": str(byo.gpus_per_node)},
        )
    cluster.add_node(
        "system-0", {"topology.kubernetes.io/zone": "zone-a"}, [], {"cpu": "8", "memory": "32Gi", "pods": "110"}
    )
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
        assert before is not None and before < scenario.threshold, (
            f"{names}: baseline {before} not below {scenario.threshold}"
        )
        assert stage.hpa_object()["status"]["desiredReplicas"] == 1, "the HPA scaled before the step"

        step_load = harness.Load(
            stage.run.server.grpc, stage.run.models[0], clients - 1, deadline_seconds=SCALE_OUT_BOUND_SECONDS + 10
        )
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
            f"\n{stage.keda.logs_tail()}"
        )
        assert not step_load.errors and not baseline.errors, (step_load.errors + baseline.errors)[:3]
        return Run(
            names[0] if len(names) == 1 else "+".join(names),
            round(seconds, 2),
            before,
            level,
            desired,
            crossed,
            since_sync,
            since_first_sync,
        )
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


@dataclass
class Wake:
    seconds: float
    to_zero_seconds: float
    #: The gateway's count for the group's Service when KEDA woke it (1 on the first run: a new series).
    gateway_count: int
    query_crossed: float | None


def _wakes(stage: Stage, runs: int) -> list[Wake]:
    assert stage.zero is not None
    done = []
    rng = random.Random()
    try:
        for i in range(runs):
            done.append(_wake_once(stage, check_zero=i == 0, rng=rng))
    finally:
        _endpoints(stage, present=True)
        stage.delete_scaled_object()
    return done


def test_an_idle_group_scales_to_zero_and_the_first_request_wakes_it(stage: Stage) -> None:
    """The group rendered with scale to zero: idle, KEDA scales its Deployment to 0; at zero (Triton's
    series gone) the or-zero guarded queries still answer, so KEDA polls without errors and the
    ScaledObject stays Ready, not in Fallback; the first request through the gateway (a 503: no
    endpoints) lifts the wake-up query above its activation threshold and KEDA scales 0 -> 1 within
    the bound, the pod running on a GPU node. One run, before any load step, so the queries are idle
    at once (the timing is printed; ``make bench-e2e`` measures WAKE_RUNS wake-ups)."""
    (wake,) = _wakes(stage, 1)
    print(f"wake: first request -> replicas 1 in {wake.seconds} s (to zero {wake.to_zero_seconds} s)")


@pytest.mark.bench
def test_bench_the_wake_from_zero(stage: Stage) -> None:
    """The measurement behind the wake-up figure: WAKE_RUNS wake-ups (the first with every check of
    the test above), written to benchmarks/e2e_autoscaling.json as ``wake``."""
    _write_wake(stage, _wakes(stage, WAKE_RUNS))


def _load_steps(stage: Stage, trigger: str, runs: int) -> list[Run]:
    """``runs`` load steps on ``trigger``, each from one replica and a fresh HPA; after each, the new
    pods Ready on GPU nodes of the stack's pool."""
    scenario = stage.scenarios[trigger]
    clients = scenario.clients(OVERLOAD)
    rng = random.Random()
    done: list[Run] = []
    for _ in range(runs):
        done.append(_measure_once(stage, (trigger,), clients, rng))

        def scaled_out() -> list[dict[str, Any]]:
            pods = stage.ready_pods()
            return pods if len(pods) == done[-1].desired else []

        pods = wait_for(f"{done[-1].desired} Ready pods after the scale-out", scaled_out, 60)
        assert {p["spec"]["nodeName"] for p in pods} <= set(stage.gpu_nodes), [p["spec"].get("nodeName") for p in pods]
    return done


@pytest.mark.parametrize("trigger", ["queue-time", "pending-requests"])
def test_a_load_step_scales_the_deployment_out_onto_gpu_nodes(stage: Stage, trigger: str) -> None:
    """Under a 2x load step (what one replica serves at the trigger's target, doubled) the HPA KEDA
    made from the rendered trigger raises the Deployment's replicas within the bound, and kwok runs
    the new pod on a GPU node of the stack's pool. One run, from a fresh HPA at a random point of its
    sync cycle (the timing is printed; ``make bench-e2e`` measures it RUNS times)."""
    (run,) = _load_steps(stage, trigger, 1)
    print(f"{trigger}: step -> desiredReplicas {run.desired} in {run.seconds} s (query crossed {run.query_crossed} s)")


@pytest.mark.bench
@pytest.mark.parametrize("trigger", ["queue-time", "pending-requests"])
def test_bench_the_load_step_reaction_per_trigger(stage: Stage, trigger: str) -> None:
    """The measurement behind the figure: the load step above RUNS times per trigger, each run
    asserting the same scale-out, written to benchmarks/e2e_autoscaling.json."""
    scenario = stage.scenarios[trigger]
    runs = _load_steps(stage, trigger, RUNS)
    stage.measured[trigger] = [r.seconds for r in runs]
    _write_results(stage, trigger, scenario, scenario.clients(OVERLOAD), runs)


def _endpoints(stage: Stage, present: bool) -> None:
    """What the Kubernetes SD does for the group's ServiceMonitor: a target per Ready pod, none at zero."""
    assert stage.zero is not None
    stage.zero.triton_sd.write_text(stage.zero.triton_targets if present else "[]\n")


def _guarded(query: str) -> str | None:
    """The query inside the or-zero guard (``promql.or_zero``); None if it has none."""
    found = re.fullmatch(r"\((.*)\) or vector\(0\)", query, flags=re.S)
    return found.group(1) if found else None


def _wake_once(stage: Stage, check_zero: bool, rng: random.Random) -> Wake:
    zero = stage.zero
    assert zero is not None
    rendered = zero.scaled_object
    names = tuple(t["name"] for t in rendered["spec"]["triggers"])
    queries = {t["name"]: t["metadata"]["query"] for t in rendered["spec"]["triggers"]}
    wake = next(t for t in rendered["spec"]["triggers"] if t["name"] == "wake-up")
    activation = float(wake["metadata"]["activationThreshold"])
    polling = rendered["spec"]["pollingInterval"]

    stage.delete_scaled_object()
    _endpoints(stage, present=True)
    stage.scale_to(1)
    # Idle: every trigger inactive (the last load and the last wake-up out of their windows).
    wait_for(
        "every scale-to-zero query at 0 (idle)",
        lambda: all(stage.prometheus.value(q) == 0 for q in queries.values()),
        120,
        interval=1,
    )

    before = _keda_counters(stage)
    applied_at = datetime.now(UTC)
    applied = time.monotonic()
    stage.apply_scaled_object(names, rendered)
    try:
        wait_for(
            f"KEDA to scale {stage.deployment} to 0",
            lambda: stage.deployment_replicas() == 0 and not stage.ready_pods(),
            2 * polling + 45,
            interval=0.2,
        )
    except ClusterError as error:
        raise AssertionError(
            f"{error}\nScaledObject {stage.scaled_object_conditions()}\n{stage.keda.logs_tail(60)}"
        ) from error
    to_zero = round(time.monotonic() - applied, 2)
    # KEDA writes the ScaledObject's status after it scaled.
    wait_for("the ScaledObject not Active", lambda: stage.scaled_object_conditions()["Active"]["status"] == "False", 30)

    # No pods, no endpoints: Prometheus drops the target and Triton's series go stale.
    _endpoints(stage, present=False)
    for name, query in queries.items():
        inner = _guarded(query)
        assert inner is not None, f"{name}: {query} is not guarded by or vector(0)"
        if name != "wake-up":
            wait_for(
                f"{name}: Triton's series gone (the unguarded query empty)",
                lambda inner=inner: stage.prometheus.value(inner) is None,
                120,
                interval=1,
            )
        assert stage.prometheus.value(query) == 0, (name, query)

    if check_zero:
        gone = _keda_counters(stage)

        def polled_twice() -> bool:
            now = _keda_counters(stage)
            return all(now["requests"].get(n, 0) - gone["requests"].get(n, 0) >= 2 for n in names)

        # KEDA's operator keeps polling every trigger at zero (that is how it wakes the group).
        wait_for("two KEDA polls of every trigger at zero", polled_twice, 3 * polling + 30, interval=1)
        after = _keda_counters(stage)
        for kind in ("errors", "empty"):
            grown = {k: v - before[kind].get(k, 0) for k, v in after[kind].items() if v != before[kind].get(k, 0)}
            assert not grown, f"KEDA counted {kind} for {stage.name} since the ScaledObject was applied: {grown}"
        conditions = stage.scaled_object_conditions()
        assert conditions["Ready"]["status"] == "True", conditions
        assert conditions.get("Fallback", {}).get("status") != "True", conditions
        assert not _warnings_since(stage, applied_at), _warnings_since(stage, applied_at)
        # The rendered alert that watches the wake-up signal stays quiet: the gateway is scraped.
        (rule,) = [
            r
            for g in harness.manifests_of(zero.render, "PrometheusRule")
            for grp in g["spec"]["groups"]
            for r in grp["rules"]
            if r.get("alert") == "TritonWakeUpSignalMissing"
        ]
        assert stage.prometheus.query(rule["expr"]) == [], rule["expr"]

    # At a random point of KEDA's polling cycle (its loop starts with the ScaledObject), as a real
    # first request would land.
    time.sleep(rng.uniform(0, polling))
    # One request, no retry: the gateway answers 503 (no endpoints) and counts it.
    status = zero.gateway.request("/v2/health/ready")
    first = time.monotonic()
    assert status == 503, status
    crossed = None
    while time.monotonic() - first < WAKE_BOUND_SECONDS:
        try:
            if stage.deployment_replicas() >= 1:
                break
        except (TimeoutError, urllib.error.URLError):
            pass  # a busy machine's API server answers late; keep polling until the bound
        if crossed is None:
            value = stage.prometheus.value(queries["wake-up"])
            if value is not None and value > activation:
                crossed = round(time.monotonic() - first, 2)
        time.sleep(0.1)
    seconds = round(time.monotonic() - first, 2)
    replicas = stage.deployment_replicas()
    assert replicas == 1, (
        f"no wake-up {WAKE_BOUND_SECONDS} s after one request (gateway count {zero.gateway.count}; wake-up query now "
        f"{stage.prometheus.value(queries['wake-up'])}, activation {activation}); ScaledObject "
        f"{stage.scaled_object_conditions()}\n{stage.keda.logs_tail()}"
    )
    pods = wait_for(
        "1 Ready pod after the wake-up", lambda: stage.ready_pods() if len(stage.ready_pods()) == 1 else None, 60
    )
    assert {p["spec"]["nodeName"] for p in pods} <= set(stage.gpu_nodes), [p["spec"].get("nodeName") for p in pods]
    _endpoints(stage, present=True)
    wait_for(
        "the ScaledObject Active",
        lambda: stage.scaled_object_conditions()["Active"]["status"] == "True",
        2 * polling + 15,
    )
    return Wake(seconds, to_zero, zero.gateway.count, crossed)


_SAMPLE = re.compile(r"^(\w+)\{([^}]*)\} ([0-9.eE+-]+)$")


def _keda_counters(stage: Stage) -> dict[str, dict[str, float]]:
    """From KEDA's operator metrics, for this ScaledObject: Prometheus requests per trigger, errors, empty results."""
    status, body = harness.http_status(f"http://127.0.0.1:{stage.keda.ports['metrics']}/metrics", timeout=10)
    assert status == 200, (status, body[:300])
    found: dict[str, dict[str, float]] = {"requests": {}, "errors": {}, "empty": {}}
    for line in body.decode().splitlines():
        sample = _SAMPLE.match(line)
        if not sample:
            continue
        metric, labels, value = (
            sample.group(1),
            dict(re.findall(r'(\w+)="([^"]*)"', sample.group(2))),
            float(sample.group(3)),
        )
        if labels.get("namespace") != stage.namespace:
            continue
        if metric == "keda_scaler_http_requests_total" and labels.get("scaled_resource") == stage.name:
            key = labels.get("trigger_name", "")
            found["requests"][key] = found["requests"].get(key, 0) + value
        elif metric == "keda_scaler_detail_errors_total" and labels.get("scaledObject") == stage.name:
            found["errors"][labels.get("triggerName", labels.get("scaler", ""))] = value
        elif metric == "keda_scaled_object_errors_total" and labels.get("scaledObject") == stage.name:
            found["errors"]["scaledObject"] = value
        elif metric == "keda_scaler_empty_upstream_responses_total" and labels.get("scaledResource") == stage.name:
            found["empty"][labels.get("triggerName", "")] = value
    return found


def _warnings_since(stage: Stage, since: datetime) -> list[str]:
    """Warning events on the ScaledObject since ``since`` (KEDAScalerFailed, ScaledObjectCheckFailed, ...)."""
    found = []
    for event in stage.cluster.items("events", "-n", stage.namespace):
        involved = event.get("involvedObject") or event.get("regarding") or {}
        if (
            involved.get("kind") != "ScaledObject"
            or involved.get("name") != stage.name
            or event.get("type") != "Warning"
        ):
            continue
        stamp = event.get("lastTimestamp") or event.get("eventTime") or event["metadata"]["creationTimestamp"]
        if datetime.fromisoformat(stamp.replace("Z", "+00:00")) >= since.replace(microsecond=0):
            found.append(f"{event.get('reason')}: {event.get('message') or event.get('note')}")
    return found


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
    wait_for(
        f"HPA {stage.hpa} synced", lambda: ((stage.hpa_object() or {}).get("status") or {}).get("currentMetrics"), 60
    )
    stage.prometheus.stop()

    def falling_back() -> bool:
        so = stage.cluster.get("scaledobject", stage.name, "-n", stage.namespace)
        return any(
            c["type"] == "Fallback" and c["status"] == "True" for c in so.get("status", {}).get("conditions", [])
        )

    threshold = stage.scaled_object["spec"]["fallback"]["failureThreshold"]
    wait_for(
        "the ScaledObject's Fallback condition", falling_back, (threshold + 3) * HPA_SYNC_PERIOD_SECONDS, interval=1
    )
    hpa = stage.hpa_object()
    # What the HPA reads at its next sync: the Value as served, an AverageValue divided by the 2 replicas.
    reads: dict[str, tuple[str, float]] = {}
    for metric in hpa["spec"]["metrics"]:
        external = metric["external"]
        (item,) = stage.keda.external_metric(stage.namespace, external["metric"]["name"], stage.name)
        target = external["target"]
        # Value: target x replicas / ready pods; AverageValue: per-replica target x replicas.
        expected = _quantity(target["value"]) if target["type"] == "Value" else 2 * _quantity(target["averageValue"])
        assert _quantity(item["value"]) == pytest.approx(expected), (external, item)
        field = "value" if target["type"] == "Value" else "averageValue"
        reads[external["metric"]["name"]] = (field, expected if field == "value" else expected / 2)

    def synced_on_fallback() -> dict[str, Any] | None:
        # A sync of the HPA after the fallback began writes the fallback values into its status.
        current = stage.hpa_object()
        found = {
            m["external"]["metric"]["name"]: m["external"]["current"]
            for m in (current or {}).get("status", {}).get("currentMetrics") or []
            if m.get("type") == "External"
        }
        matched = set(found) == set(reads) and all(
            found[name].get(field) is not None and _quantity(found[name][field]) == pytest.approx(value, rel=1e-2)
            for name, (field, value) in reads.items()
        )
        return current if matched else None

    # The HPA keeps computing 2 from those values at its next sync.
    hpa = wait_for(
        f"HPA {stage.hpa} synced on the fallback values {reads}",
        synced_on_fallback,
        2 * HPA_SYNC_PERIOD_SECONDS + 15,
        interval=0.5,
    )
    conditions = {c["type"]: c for c in hpa["status"]["conditions"]}
    assert conditions["ScalingActive"]["status"] == "True", conditions
    assert hpa["status"]["desiredReplicas"] == 2, hpa["status"]
    assert len(stage.ready_pods()) == 2


def _quantity(text: str) -> float:
    """A Kubernetes quantity as the adapter writes metric values (plain or milli)."""
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


# ------------------------------------------------------------------------------------- results


def _write_wake(stage: Stage, runs: list[Wake]) -> None:
    assert stage.zero is not None
    rendered = stage.zero.scaled_object
    seconds = [r.seconds for r in runs]
    (estimate,) = [e for e in reaction_times(stage.zero.render.manifests) if e.name == stage.name]
    gateway = next(
        m
        for m in harness.manifests_of(stage.zero.render, "PodMonitor")
        if m["metadata"]["namespace"] == stage.zero.gateway.labels["source_workload_namespace"]
    )
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["wake"] = {
        "median_s": round(statistics.median(seconds), 1),
        "worst_s": round(max(seconds), 1),
        "runs": len(seconds),
        "samples_s": seconds,
        # First request -> the wake-up query above its activation threshold, as Prometheus answers it.
        "query_crossed_s": [r.query_crossed for r in runs],
        # The gateway's 503 count at each wake-up: 1 is a series its first request created.
        "gateway_count": [r.gateway_count for r in runs],
        "estimate_s": estimate.wake_from_zero_seconds,
        "polling_s": rendered["spec"]["pollingInterval"],
        "gateway_scrape_s": float(gateway["spec"]["podMetricsEndpoints"][0]["interval"].rstrip("s")),
        # The ScaledObject applied -> KEDA set replicas 0 (idle from the start: no cooldown to wait for).
        "to_zero_s": [r.to_zero_seconds for r in runs],
        "cooldown_s": rendered["spec"]["cooldownPeriod"],
        "keda": stage.toolchain.versions["KEDA_VERSION"],
        "kubernetes": stage.toolchain.versions["KUBERNETES_VERSION"],
        "generated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


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
        "generated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    # The trigger mix a group gets from the autoscaler's defaults (its args contract).
    default = keda_triggers.triggers(
        with_defaults({"model_group": "default"}, TritonAutoscalerArgs),
        namespace="default",
        prometheus_url="http://prometheus:9090",
        service="",
    )
    results["default"] = "+".join(t["name"] for t in default)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
