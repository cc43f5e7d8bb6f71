"""The real Pulumi engine deploys Pulumi.local.yaml to a real Kubernetes control plane.

One stack, one cluster, tests in the order they are written (each builds on the state the previous
one left, so they run as one story; pulumi operations are few and deliberate). What each proves is
in its docstring; tests/e2e/README.md has the whole list and what this cannot prove.
"""

from __future__ import annotations

import json
import os
import platform as host_platform
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e_cluster import LocalCluster, wait_for
from e2e_pulumi import STACK, PulumiCli, Result, changes, copy_project, steps_of
from e2e_toolchain import ROOT, Toolchain, cache_dir, require_toolchain
from triton_components.common import versions
from triton_platform.config import load_settings
from triton_platform.config.settings import PlatformSettings
from triton_platform.config.stack_file import read_stack_file
from triton_platform.review.diff import diff_stack
from triton_platform.review.render import StackRender, render_stack, write_render

pytestmark = pytest.mark.e2e

CRD_SCHEMAS = ROOT / "tests" / "crd-schemas"
RESULTS = ROOT / "benchmarks" / "e2e-results.json"
PLAIN_PROGRAM = Path(__file__).resolve().parent / "plain_program"
NAMESPACE = "triton"
TRITON_POD_SELECTOR = "app.kubernetes.io/name=triton-inference-server"
#: An older release than the pinned one, still above the CVE floor: the "image change".
OTHER_IMAGE_TAG = "26.09-py3"
#: What the cluster must already have for a bring-your-own-cluster stack (docs/deploy.md): istio-system, and the
#: namespace of the Prometheus that scrapes Triton, where the dashboard ConfigMap goes.
PREEXISTING_NAMESPACES = ("monitoring", "istio-system")
DECOY_TAINT = {"key": "dedicated", "value": "training", "effect": "NoSchedule"}


class StackSteps:
    """What a module of ordered tests on one deployed stack shares: its stack file, and which steps
    passed earlier in the run (a later test that needs a failed one fails naming it)."""

    cli: PulumiCli
    done: set[str]

    @property
    def stack_file(self) -> Path:
        return self.cli.project / f"Pulumi.{STACK}.yaml"

    def needs(self, *steps: str) -> None:
        missing = [s for s in steps if s not in self.done]
        if missing:
            pytest.fail(f"needs {', '.join(missing)}, which did not pass earlier in this run")


@dataclass
class E2E(StackSteps):
    toolchain: Toolchain
    cluster: LocalCluster
    cli: PulumiCli
    settings: PlatformSettings
    gpu_nodes: list[str]
    base_config: str = ""
    done: set[str] = field(default_factory=set)
    results: dict[str, Any] = field(default_factory=dict)

    def restore_config(self) -> None:
        self.stack_file.write_text(self.base_config)


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    workdir = Path(tempfile.mkdtemp(prefix="triton-e2e-"))
    started = time.monotonic()
    toolchain = require_toolchain(workdir / "toolchain-build.log")
    cluster = LocalCluster(toolchain, workdir / "cluster")
    try:
        cluster.start()
        settings = _settings(ROOT / f"Pulumi.{STACK}.yaml")
        gpu_nodes = _add_nodes(cluster, settings)
        project = cache_dir() / "project"
        copy_project(ROOT, project)
        cli = PulumiCli(toolchain, workdir / "pulumi", project, cluster.kubeconfig)
        cli.setup()
    except Exception:
        print(cluster.logs_tail())
        cluster.stop()
        raise
    state = E2E(toolchain, cluster, cli, settings, gpu_nodes)
    state.base_config = state.stack_file.read_text()
    state.results["setup seconds"] = round(time.monotonic() - started, 1)
    state.results["toolchain build seconds"] = round(toolchain.build_seconds, 1)
    try:
        yield state
    finally:
        print("\n".join(cli.log))
        cluster.stop()
        if os.environ.get("TRITON_E2E_KEEP") != "1":
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"e2e work folder kept: {workdir}")


def _settings(stack_file: Path) -> PlatformSettings:
    config, secret_keys = read_stack_file(stack_file)
    return load_settings(config, stack_file.name, frozenset(secret_keys))


def _add_nodes(cluster: LocalCluster, settings: PlatformSettings) -> list[str]:
    """The GPU pool exactly as full as the stack makes it, two decoys, and one system node."""
    byo = settings.existing_cluster
    assert byo is not None, "the local stack must be cloud-less"
    gpus = str(byo.gpus_per_node)
    taints = [t.model_dump() for t in byo.gpu_node_taints]
    labels = dict(byo.gpu_node_selector)
    in_use = sum(_gpus_at_rest(settings))
    assert in_use % byo.gpus_per_node == 0
    names = [f"gpu-{i}" for i in range(in_use // byo.gpus_per_node)]
    for i, name in enumerate(names):
        zone = "zone-a" if i % 2 == 0 else "zone-b"
        cluster.add_node(
            name,
            {**labels, "topology.kubernetes.io/zone": zone},
            taints,
            {"cpu": "16", "memory": "64Gi", "pods": "110", "nvidia.com/gpu": gpus},
        )
    # GPUs Triton must not take: one node outside the selected pool, one reserved by another taint.
    cluster.add_node(
        "gpu-unlabelled",
        {"topology.kubernetes.io/zone": "zone-a"},
        taints,
        {"cpu": "16", "memory": "64Gi", "pods": "110", "nvidia.com/gpu": gpus},
    )
    cluster.add_node(
        "gpu-reserved",
        {**labels, "topology.kubernetes.io/zone": "zone-b"},
        [*taints, DECOY_TAINT],
        {"cpu": "16", "memory": "64Gi", "pods": "110", "nvidia.com/gpu": gpus},
    )
    cluster.add_node(
        "system-0", {"topology.kubernetes.io/zone": "zone-a"}, [], {"cpu": "8", "memory": "32Gi", "pods": "110"}
    )
    cluster.wait_nodes_ready([*names, "gpu-unlabelled", "gpu-reserved", "system-0"])
    return names


def _gpus_at_rest(settings: PlatformSettings) -> Iterator[int]:
    """GPUs the stack's Deployments hold: stable + canary replicas. No KEDA runs here, and an
    autoscaled Deployment leaves spec.replicas to the HPA, so Kubernetes gives it 1."""
    for group in settings.model_groups:
        stable = group.replicas if group.autoscaling is None else 1
        canary = group.canary.replicas if group.canary else 0
        yield (stable + canary) * group.gpus_per_replica


# ------------------------------------------------------------------------------------- helpers


def render_text(text: str, workdir: Path) -> StackRender:
    """The offline render (``triton-platform render``) of a version of Pulumi.local.yaml."""
    root = workdir / f"render-{abs(hash(text))}"
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    if not (root / "stacks").exists():
        (root / "stacks").symlink_to(ROOT / "stacks")
    (root / f"Pulumi.{STACK}.yaml").write_text(text)
    return render_stack(root, STACK)


def offline_changes(base: str, head: str, workdir: Path) -> dict[tuple[str, str], str]:
    """What ``triton-platform diff`` says the change does, in the engine's words per resource."""
    payloads = []
    for side, text in (("base", base), ("head", head)):
        out = write_render(render_text(text, workdir), workdir / side)
        payloads.append(json.loads((out / "resources.json").read_text()))
    found: dict[tuple[str, str], str] = {}
    for change in diff_stack(STACK, payloads[0], payloads[1]).resources:
        name = change.id.split("::", 1)[1]
        if change.kind == "added":
            found[(change.type, name)] = "create"
        elif change.kind == "removed":
            found[(change.type, name)] = "delete"
        else:
            replaced = any("may be replaced" in text for text in [*change.notes, *change.flags])
            found[(change.type, name)] = "replace" if replaced else "update"
    return found


def engine_changes(result: Result) -> dict[tuple[str, str], str]:
    from e2e_pulumi import steps_of

    return {k: v for k, v in changes(steps_of(result.json())).items() if not k[0].startswith("pulumi:providers:")}


def triton_pods(cluster: LocalCluster) -> list[dict[str, Any]]:
    return cluster.items("pods", "-n", NAMESPACE, "-l", TRITON_POD_SELECTOR)


def is_ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))


def deployments(cluster: LocalCluster) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in cluster.items("deployments", "-n", NAMESPACE)}


def wait_rolled_out(cluster: LocalCluster, timeout: float = 120) -> None:
    def settled() -> bool:
        for d in deployments(cluster).values():
            spec, status = d["spec"], d.get("status", {})
            want = spec.get("replicas", 1)
            if status.get("observedGeneration") != d["metadata"]["generation"]:
                return False
            if (status.get("updatedReplicas"), status.get("readyReplicas"), status.get("replicas")) != (want,) * 3:
                return False
        pods = triton_pods(cluster)
        return bool(pods) and all(is_ready(p) and not p["metadata"].get("deletionTimestamp") for p in pods)

    wait_for("every Triton Deployment rolled out with Ready pods", settled, timeout)


def evict(cluster: LocalCluster, pod: str) -> subprocess.CompletedProcess[str]:
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": NAMESPACE}}
    return cluster.kubectl(
        "create",
        "--raw",
        f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}/eviction",
        "-f",
        "-",
        input=json.dumps(body),
        check=False,
    )


def resources_summary(output: str) -> list[str]:
    """The lines of the CLI's closing ``Resources:`` block (``+ 67 created``, ``3 unchanged``, ...)."""
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == "Resources:"]
    assert starts, f"no Resources: summary in the output:\n{output[-2000:]}"
    block = []
    for line in lines[starts[-1] + 1 :]:
        if not line.startswith("    ") or not line.strip():
            break
        block.append(line.strip())
    return block


def _summary(found: dict[tuple[str, str], str]) -> list[str]:
    return sorted(f"{op} {t.split(':')[-1]} {n}" for (t, n), op in found.items())


def _cluster_prerequisites(e2e: E2E) -> None:
    """What a bring-your-own cluster has before the stack (docs/deploy.md), once per cluster: the
    Istio, KEDA and Prometheus Operator CRDs from the files the render is validated against, the
    pre-existing namespaces, and what the stack's preview checks read of an Istio and a KEDA it does
    not install (an injector that relies on Istio CNI, the pinned KEDA's version label on its CRD)."""
    if "prerequisites" in e2e.done:
        return
    crds = sorted(CRD_SCHEMAS.glob("*/*.yaml"))
    assert {p.parent.name for p in crds} == {"istio", "keda", "prometheus-operator"}
    for crd in crds:
        e2e.cluster.kubectl("apply", "--server-side", "--field-manager=e2e", "-f", str(crd))
    e2e.cluster.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    for namespace in PREEXISTING_NAMESPACES:
        e2e.cluster.kubectl("create", "namespace", namespace)
    e2e.cluster.kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "istio-sidecar-injector", "namespace": "istio-system"},
                "data": {"values": json.dumps({"pilot": {"cni": {"enabled": True}}})},
            }
        ),
    )
    e2e.cluster.kubectl(
        "label",
        "--overwrite",
        "crd",
        "scaledobjects.keda.sh",
        f"app.kubernetes.io/version={versions.KEDA_CHART_VERSION}",
    )
    e2e.done.add("prerequisites")


# ------------------------------------------------------------------------------------- tests


def test_01_preview_and_up_run_the_stack_through_pulumi_yaml(e2e: E2E) -> None:
    """The committed local stack runs under `pulumi preview` and `pulumi up` through Pulumi.yaml (the
    uv toolchain's .venv, the real engine and Kubernetes provider) after the Istio, KEDA and
    Prometheus Operator CRDs are applied from the files the render is validated against. The
    engine creates exactly the resources the offline render declares."""
    _cluster_prerequisites(e2e)
    preview = e2e.cli.preview("--json", "--diff")
    planned = engine_changes(preview)
    offline = render_text(e2e.base_config, e2e.cli.workdir)
    declared = {(r["type"], r["name"]) for r in offline.resources}
    assert set(planned.values()) == {"create"}
    assert set(planned) == declared, (
        f"engine plans {sorted(set(planned) - declared)} beyond the render; "
        f"render declares {sorted(declared - set(planned))} the engine does not plan"
    )

    up = e2e.cli.up(label="up (stack, from empty)")
    # The engine counts the stack itself and explicit providers, never default providers.
    explicit_providers = {
        s.key
        for s in steps_of(preview.json())
        if s.type.startswith("pulumi:providers:") and not s.name.startswith("default")
    }
    assert resources_summary(up.output) == [f"+ {len(declared) + 1 + len(explicit_providers)} created"], up.output[
        -2000:
    ]
    outputs = e2e.cli.outputs()
    assert outputs["cloud"] == "none" and outputs["tritonNamespace"] == NAMESPACE
    for obj in offline.manifests:
        meta = obj["metadata"]
        where = ["-n", meta["namespace"]] if meta.get("namespace") else []
        kind = f"{obj['kind'].lower()}.{obj['apiVersion'].split('/')[0]}" if "/" in obj["apiVersion"] else obj["kind"]
        e2e.cluster.kubectl("get", kind, meta["name"], *where)
    e2e.results["resources"] = len(declared)
    e2e.results["kubernetes objects"] = len(offline.manifests)
    e2e.done.add("up")


def test_02_pod_security_restricted_admits_every_pod_and_the_api_server_every_custom_resource(e2e: E2E) -> None:
    """Pod Security admission enforces `restricted` (cluster default and the namespace's own label)
    and admits every Triton pod; every custom resource is accepted by the real CRD schemas with
    strict field validation, and nothing was pruned from what the stack sent."""
    e2e.needs("up")
    cluster = e2e.cluster
    namespace = cluster.get("namespace", NAMESPACE)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"

    # The control: admission is really on, so the pods below were really checked. A pod with no
    # security context is fine for `baseline` and refused by `restricted`.
    probe = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "plain-probe", "namespace": NAMESPACE},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    refused = cluster.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(probe), check=False)
    assert refused.returncode != 0 and 'violates PodSecurity "restricted:latest"' in refused.stderr, refused.stderr

    wait_rolled_out(cluster)
    refusals = [
        e["message"] for e in cluster.items("events", "-n", NAMESPACE, "--field-selector", "reason=FailedCreate")
    ]
    assert not [m for m in refusals if "PodSecurity" in m], refusals
    e2e.results["FailedCreate events during up"] = sorted(set(refusals))
    for name, deployment in deployments(cluster).items():
        pods = [
            p
            for p in triton_pods(cluster)
            if p["metadata"]["labels"].items() >= deployment["spec"]["selector"]["matchLabels"].items()
        ]
        assert len(pods) == deployment["spec"].get("replicas", 1), name

    offline = render_text(e2e.base_config, e2e.cli.workdir)
    custom = [
        o
        for o in offline.manifests
        if "." in o["apiVersion"].split("/")[0] and not o["apiVersion"].split("/")[0].endswith(".k8s.io")
    ]
    assert {o["kind"] for o in custom} >= {
        "VirtualService",
        "DestinationRule",
        "Gateway",
        "PeerAuthentication",
        "AuthorizationPolicy",
        "ScaledObject",
        "ServiceMonitor",
        "PrometheusRule",
    }
    strict = cluster.apply_objects(custom, "--dry-run=server", "--validate=strict", "--force-conflicts")
    assert "Warning" not in strict
    for obj in custom:
        meta = obj["metadata"]
        live = cluster.get(
            f"{obj['kind'].lower()}.{obj['apiVersion'].split('/')[0]}", meta["name"], "-n", meta["namespace"]
        )
        assert _contains(live["spec"], obj["spec"]), f"{obj['kind']} {meta['name']}: the API server pruned fields"
    e2e.done.add("admission")


def _contains(live: Any, sent: Any) -> bool:
    """Every value the stack sent is in the live object (defaults may add more)."""
    if isinstance(sent, dict):
        return isinstance(live, dict) and all(k in live and _contains(live[k], v) for k, v in sent.items())
    if isinstance(sent, list):
        return (
            isinstance(live, list)
            and len(live) == len(sent)
            and all(_contains(a, b) for a, b in zip(live, sent, strict=True))
        )
    return live == sent


def test_03_triton_pods_land_only_on_the_gpu_pool_through_tolerations_and_node_selector(e2e: E2E) -> None:
    """The scheduler puts every Triton pod on a simulated GPU node of the pool (labels and taints from
    the stack's cluster section), never on the system node, on the GPU node outside the selector or
    on the one reserved by another taint; the pods become Ready (kwok) and fill every pool GPU."""
    e2e.needs("up")
    cluster = e2e.cluster
    wait_rolled_out(cluster)
    byo = e2e.settings.existing_cluster
    assert byo is not None
    pods = triton_pods(cluster)
    placed = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in pods}
    assert set(placed.values()) <= set(e2e.gpu_nodes), placed
    assert sorted(placed.values()) == sorted(e2e.gpu_nodes), f"every pool GPU holds one Triton pod: {placed}"
    for pod in pods:
        assert pod["spec"]["nodeSelector"] == byo.gpu_node_selector
        tolerated = {(t["key"], t.get("value"), t["effect"]) for t in pod["spec"]["tolerations"]}
        assert {(t.key, t.value, t.effect) for t in byo.gpu_node_taints} <= tolerated
        assert pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert is_ready(pod)
    e2e.results["triton pods"] = len(pods)
    e2e.done.add("scheduled")


def test_04_a_second_up_changes_nothing(e2e: E2E) -> None:
    """`pulumi up` again, with --expect-no-changes: the program is deterministic and the provider
    sees no drift in anything it just created."""
    e2e.needs("up")
    result = e2e.cli.up("--expect-no-changes", label="up (no changes)")
    assert "unchanged" in result.output


def test_05_canary_weight_change_updates_only_the_virtual_service(e2e: E2E) -> None:
    """Shifting canary weight (90/10) is one in-place update of the VirtualService, no replacement,
    and the offline `triton-platform diff` says exactly the same."""
    e2e.needs("up")
    e2e.cli.config_set("modelGroups[0].canary.trafficPercent.stable", "90")
    e2e.cli.config_set("modelGroups[0].canary.trafficPercent.canary", "10")
    try:
        engine = engine_changes(e2e.cli.preview("--json", "--diff", label="preview (canary weight)"))
        offline = offline_changes(e2e.base_config, e2e.stack_file.read_text(), e2e.cli.workdir / "diff-canary")
    finally:
        e2e.restore_config()
    assert engine == {("kubernetes:networking.istio.io/v1:VirtualService", "triton-routing-virtual-service"): "update"}
    assert offline == engine, f"offline diff {_summary(offline)} vs engine {_summary(engine)}"


def test_06_image_change_updates_only_the_deployments_and_rolls_out_on_a_full_gpu_pool(e2e: E2E) -> None:
    """A new Triton image updates the Deployments in place and nothing else (engine and offline diff
    agree); `pulumi up` then rolls every Deployment out to completion on a pool with no free GPU,
    because the rendered strategy is maxSurge 0 / maxUnavailable 1."""
    e2e.needs("scheduled")
    cluster = e2e.cluster
    strategies = {n: d["spec"]["strategy"]["rollingUpdate"] for n, d in deployments(cluster).items()}
    assert all(s["maxSurge"] == 0 and s["maxUnavailable"] == 1 for s in strategies.values()), strategies
    free = _free_pool_gpus(e2e)
    assert free == 0, f"the pool must be full for this test; {free} GPU(s) free"

    e2e.cli.config_set("triton.imageTag", OTHER_IMAGE_TAG)
    head = e2e.stack_file.read_text()
    engine = engine_changes(e2e.cli.preview("--json", "--diff", label="preview (image change)"))
    offline = offline_changes(e2e.base_config, head, e2e.cli.workdir / "diff-image")
    assert set(engine.values()) == {"update"} and {t for t, _ in engine} == {"kubernetes:apps/v1:Deployment"}, engine
    assert offline == engine, f"offline diff {_summary(offline)} vs engine {_summary(engine)}"

    before = {p["metadata"]["name"] for p in triton_pods(cluster)}
    e2e.cli.up(label="up (image change, full pool)")  # the provider waits for each rollout to finish
    e2e.base_config = head
    wait_rolled_out(cluster)
    pods = triton_pods(cluster)
    assert not before & {p["metadata"]["name"] for p in pods}, "every pod was replaced"
    assert {p["spec"]["containers"][0]["image"].rsplit(":", 1)[1] for p in pods} == {OTHER_IMAGE_TAG}
    assert sorted(p["spec"]["nodeName"] for p in pods) == sorted(e2e.gpu_nodes)
    e2e.done.add("image")


def _free_pool_gpus(e2e: E2E) -> int:
    used: dict[str, int] = {}
    for pod in e2e.cluster.items("pods", "--all-namespaces"):
        node = pod["spec"].get("nodeName")
        if node and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
            for c in pod["spec"]["containers"]:
                used[node] = used.get(node, 0) + int(c.get("resources", {}).get("limits", {}).get("nvidia.com/gpu", 0))
    nodes = {n["metadata"]["name"]: n for n in e2e.cluster.items("nodes")}
    return sum(int(nodes[n]["status"]["allocatable"].get("nvidia.com/gpu", 0)) - used.get(n, 0) for n in e2e.gpu_nodes)


def test_07_repository_and_namespace_renames_show_what_is_replaced(e2e: E2E) -> None:
    """Pointing the stack at another model repository updates the Deployments in place (the
    cloud-less stack owns no bucket); renaming the namespace replaces the Namespace and every
    namespaced object. The offline diff predicts both exactly as the engine plans them."""
    e2e.needs("up")
    cluster_wide = {"kubernetes:core/v1:ConfigMap"}  # the dashboard lives in the monitoring namespace
    try:
        e2e.cli.config_set("triton.modelRepository", "s3://acme-triton-models-v2/model_repository")
        engine = engine_changes(e2e.cli.preview("--json", "--diff", label="preview (repository rename)"))
        offline = offline_changes(e2e.base_config, e2e.stack_file.read_text(), e2e.cli.workdir / "diff-repo")
        assert engine and set(engine.values()) == {"update"}, _summary(engine)
        assert {t for t, _ in engine} == {"kubernetes:apps/v1:Deployment"}, _summary(engine)
        assert offline == engine, f"offline diff {_summary(offline)} vs engine {_summary(engine)}"

        e2e.restore_config()
        e2e.cli.config_set("triton.namespace", "triton-b")
        engine = engine_changes(e2e.cli.preview("--json", "--diff", label="preview (namespace rename)"))
        offline = offline_changes(e2e.base_config, e2e.stack_file.read_text(), e2e.cli.workdir / "diff-namespace")
    finally:
        e2e.restore_config()
    replaced = {k for k, op in engine.items() if op == "replace"}
    assert ("kubernetes:core/v1:Namespace", "triton-namespace") in replaced
    namespaced = {
        (r["type"], r["name"])
        for r in render_text(e2e.base_config, e2e.cli.workdir).resources
        if r.get("custom")
        and r["type"].startswith("kubernetes:")
        and r["type"] not in cluster_wide
        and r["inputs"].get("metadata", {}).get("namespace") == NAMESPACE
    }
    assert namespaced <= replaced, f"not replaced: {sorted(namespaced - replaced)}"
    assert offline == engine, f"offline diff {_summary(offline)} vs engine {_summary(engine)}"


def test_08_the_same_rollout_with_max_surge_1_stays_stuck_on_a_full_pool(e2e: E2E) -> None:
    """The reason for the maxSurge 0 rule, shown for real: with Kubernetes' usual surge strategy
    (maxSurge 1, maxUnavailable 0) the same image change creates a pod that no GPU can take, so
    the rollout never completes while the old pod keeps its GPU."""
    e2e.needs("image")
    cluster = e2e.cluster
    name = "triton-text"
    original = cluster.get("deployment", name, "-n", NAMESPACE)
    image = original["spec"]["template"]["spec"]["containers"][0]["image"]
    container = original["spec"]["template"]["spec"]["containers"][0]["name"]
    surge = {
        "spec": {
            "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "spec": {"containers": [{"name": container, "image": image.rsplit(":", 1)[0] + ":26.10-py3"}]}
            },
        }
    }
    cluster.kubectl("patch", "deployment", name, "-n", NAMESPACE, "--type=strategic", "-p", json.dumps(surge))
    try:

        def unschedulable() -> list[dict[str, Any]]:
            # The scheduler's verdict on the surge pod: no node has a GPU for it. Nothing frees one
            # (the old pod keeps its GPU until the new one is Ready), so the rollout cannot finish.
            return [
                p
                for p in triton_pods(cluster)
                if p["status"].get("phase") == "Pending"
                and any(
                    c["type"] == "PodScheduled" and c["status"] == "False" and c.get("reason") == "Unschedulable"
                    for c in p["status"].get("conditions", [])
                )
            ]

        wait_for("the surge pod judged unschedulable", unschedulable, 60)
        stuck = cluster.kubectl("rollout", "status", f"deployment/{name}", "-n", NAMESPACE, "--timeout=2s", check=False)
        assert stuck.returncode != 0, stuck.stdout
        pending = [p for p in triton_pods(cluster) if p["status"].get("phase") == "Pending"]
        assert len(pending) == 1, [p["metadata"]["name"] for p in pending]
        reasons = [
            c.get("message", "")
            for c in pending[0]["status"].get("conditions", [])
            if c["type"] == "PodScheduled" and c["status"] == "False"
        ]
        assert reasons and "Insufficient nvidia.com/gpu" in reasons[0], reasons
        old = [
            p
            for p in triton_pods(cluster)
            if p["metadata"]["labels"].get("triton-platform.io/model-group") == "text"
            and p["spec"]["containers"][0]["image"] == image
        ]
        assert len(old) == 1 and is_ready(old[0]), "the old pod keeps serving (and keeps its GPU)"
        e2e.results["maxSurge 1 on a full pool"] = reasons[0]
    finally:
        restore = {
            "spec": {
                "strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
                "template": {"spec": {"containers": [{"name": container, "image": image}]}},
            }
        }
        cluster.kubectl("patch", "deployment", name, "-n", NAMESPACE, "--type=strategic", "-p", json.dumps(restore))
        wait_rolled_out(cluster)


def test_09_draining_a_gpu_node_respects_the_pod_disruption_budget(e2e: E2E) -> None:
    """Through the eviction API (what `kubectl drain` and node upgrades use): the first vision pod
    may go (maxUnavailable 1), its replacement has no GPU to go to, and the second vision pod's
    eviction is refused by the PodDisruptionBudget until the first is back."""
    e2e.needs("scheduled")
    cluster = e2e.cluster
    vision = sorted(
        (
            p
            for p in triton_pods(cluster)
            if p["metadata"]["labels"].get("triton-platform.io/model-group") == "vision"
            and p["metadata"]["labels"].get("version") == "stable"
        ),
        key=lambda p: p["metadata"]["name"],
    )
    assert len(vision) == 2
    first, second = vision
    node = first["spec"]["nodeName"]
    cluster.kubectl("cordon", node)
    try:
        allowed = evict(cluster, first["metadata"]["name"])
        assert allowed.returncode == 0, allowed.stderr
        wait_for(
            "the evicted pod's replacement to be Pending",
            lambda: any(p["status"].get("phase") == "Pending" for p in triton_pods(cluster)),
            30,
        )
        refused = evict(cluster, second["metadata"]["name"])
        assert refused.returncode != 0
        assert "Cannot evict pod as it would violate the pod's disruption budget" in refused.stderr, refused.stderr
        assert is_ready(cluster.get("pod", second["metadata"]["name"], "-n", NAMESPACE))
        wait_for(
            "the PodDisruptionBudget to count one healthy vision pod, no disruption allowed",
            lambda: (lambda b: b.get("currentHealthy") == 1 and b.get("disruptionsAllowed") == 0)(
                cluster.get("pdb", "triton-vision", "-n", NAMESPACE)["status"]
            ),
            30,
        )
    finally:
        cluster.kubectl("uncordon", node)
    wait_rolled_out(cluster)
    e2e.done.add("drain")


def test_10_a_deleted_gpu_node_gets_its_pods_rescheduled_when_capacity_exists(e2e: E2E) -> None:
    """A spot preemption: a GPU node disappears. Kubernetes' pod garbage collector removes the pods
    bound to it, their Deployments recreate them, and with a spare GPU node in the pool they land
    there and become Ready."""
    e2e.needs("scheduled")
    cluster = e2e.cluster
    byo = e2e.settings.existing_cluster
    assert byo is not None
    spare = "gpu-spare"
    cluster.add_node(
        spare,
        {**byo.gpu_node_selector, "topology.kubernetes.io/zone": "zone-a"},
        [t.model_dump() for t in byo.gpu_node_taints],
        {"cpu": "16", "memory": "64Gi", "pods": "110", "nvidia.com/gpu": str(byo.gpus_per_node)},
    )
    cluster.wait_nodes_ready([spare])
    victim_pod = next(
        p for p in triton_pods(cluster) if p["metadata"]["labels"].get("triton-platform.io/model-group") == "text"
    )
    victim = victim_pod["spec"]["nodeName"]
    start = time.monotonic()
    cluster.kubectl("delete", "node", victim, "--wait=true")
    e2e.gpu_nodes = [n for n in e2e.gpu_nodes if n != victim] + [spare]

    def rescheduled() -> bool:
        pods = [
            p for p in triton_pods(cluster) if p["metadata"]["labels"].get("triton-platform.io/model-group") == "text"
        ]
        return len(pods) == 1 and pods[0]["spec"].get("nodeName") == spare and is_ready(pods[0])

    wait_for("the preempted node's Triton pod to run on the spare GPU node", rescheduled, 150, interval=2)
    e2e.results["spot preemption: node deleted -> pod Ready elsewhere (s)"] = round(time.monotonic() - start, 1)
    wait_rolled_out(cluster)


def test_11_the_policy_pack_passes_the_stack_and_rejects_violations_under_the_real_engine(e2e: E2E) -> None:
    """`pulumi preview --policy-pack policy` runs the CrossGuard pack in the engine (started by the
    Python language host in the pack's own virtualenv): the stack passes; a Triton container without
    a GPU limit and plain-text mTLS (the metrics port no longer an allowed PERMISSIVE port) are
    rejected with exactly the messages the pack's pure rules give for the same render."""
    e2e.needs("up")
    cli = e2e.cli
    _policy_venv(cli.project)
    pack = "policy"
    passed = cli.preview("--policy-pack", pack, label="preview (policy pack)")
    assert "triton-platform" in passed.output and "mandatory" not in passed.output, passed.output[-3000:]

    config = cli.workdir / "policy-config.json"
    config.write_text(json.dumps({"istio-mtls-strict": {"permissiveMtlsPorts": []}}))
    cli.config_set("modelGroups[1].gpusPerReplica", "0")
    try:
        rejected = cli.preview(
            "--policy-pack", pack, "--policy-pack-config", str(config), check=False, label="preview (policy violation)"
        )
        head = e2e.stack_file.read_text()
    finally:
        e2e.restore_config()
    assert rejected.returncode != 0
    expected = _policy_messages(
        render_text(head, cli.workdir / "policy-render"), {"permissive_mtls_ports": frozenset()}
    )
    assert {"triton-gpu-limits", "istio-mtls-strict"} <= {policy for policy, _ in expected}, expected
    for policy, message in expected:
        assert policy in rejected.output and message in rejected.output, (
            f"{policy}: {message}\n{rejected.output[-3000:]}"
        )
    e2e.results["policy violations reported by the engine"] = sorted(f"{p}: {m}" for p, m in expected)


def _policy_venv(project: Path) -> None:
    """The pack's own virtualenv (policy/venv), made as CI makes it (.github/workflows/ci.yml)."""
    venv = project / "policy" / "venv"
    if not (venv / "bin" / "python").exists():
        subprocess.run([shutil.which("python3") or "python3", "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "-r",
            str(project / "policy" / "requirements.txt"),
        ],
        check=True,
        timeout=900,
    )


def _policy_messages(render: StackRender, options: dict[str, Any]) -> list[tuple[str, str]]:
    """What the pack's pure rules say about a render (the messages the engine must print)."""
    import triton_policy_rules as rules

    payload = {"stack": STACK, "resources": render.resources}
    return [(v.policy, v.message) for v in rules.validate_render(payload, rules.Context(stack=STACK, **options))]


def test_12_destroy_removes_everything_but_what_is_protected_and_says_so(e2e: E2E) -> None:
    """The local stack protects nothing (its models live outside it), so the namespace is protected
    by hand (`pulumi state protect`) as a stateful resource would be: `pulumi destroy
    --exclude-protected` deletes every other object from the cluster and reports the protected one;
    after `pulumi state unprotect`, `pulumi destroy` removes the rest."""
    e2e.needs("up")
    cli, cluster = e2e.cli, e2e.cluster
    state = cli.state()
    namespace = next(r["urn"] for r in state if r["type"] == "kubernetes:core/v1:Namespace")
    cli.run("state", "protect", namespace, "--stack", STACK, "--yes")
    result = cli.run(
        "destroy",
        "--stack",
        STACK,
        "--yes",
        "--skip-preview",
        "--non-interactive",
        "--exclude-protected",
        label="destroy (except protected)",
    )
    kept = [line.strip() for line in result.output.splitlines() if "protected resources" in line]
    assert kept and kept[0].startswith("All unprotected resources were destroyed. There are still"), result.output[
        -2000:
    ]
    left = [r for r in cli.state() if r.get("custom") and not r["type"].startswith("pulumi:providers:")]
    assert [r["urn"] for r in left if not r.get("external")] == [namespace]
    # The cluster checks' reads stay in state while what waits on them is kept; they were only
    # ever read, so nothing of the cluster's Istio or KEDA is deleted.
    reads = sorted((r["type"], r["urn"].rsplit("::", 1)[1]) for r in left if r.get("external"))
    assert reads == [
        ("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", "keda-scaledobjects-crd"),
        ("kubernetes:core/v1:ConfigMap", "istio-sidecar-injector"),
    ], reads
    assert (
        cluster.kubectl("get", "configmap", "istio-sidecar-injector", "-n", "istio-system", check=False).returncode == 0
    )
    assert cluster.kubectl("get", "namespace", NAMESPACE, check=False).returncode == 0
    for kind in (
        "deployments",
        "services",
        "pdb",
        "secrets",
        "virtualservices.networking.istio.io",
        "scaledobjects.keda.sh",
        "servicemonitors.monitoring.coreos.com",
    ):
        names = [o["metadata"]["name"] for o in cluster.items(kind, "-n", NAMESPACE)]
        assert names == [], (kind, names)
    assert cluster.kubectl("get", "configmap", "triton-dashboard", "-n", "monitoring", check=False).returncode != 0
    e2e.results["destroy --exclude-protected says"] = kept[0]

    cli.run("state", "unprotect", namespace, "--stack", STACK, "--yes")
    cli.run("destroy", "--stack", STACK, "--yes", "--skip-preview", "--non-interactive", label="destroy (rest)")
    assert [r for r in cli.state() if r.get("custom") and not r["type"].startswith("pulumi:providers:")] == []
    assert cluster.kubectl("get", "crd", "scaledobjects.keda.sh", check=False).returncode == 0, (
        "a read is never deleted"
    )
    wait_for(
        "the triton namespace to be gone",
        lambda: cluster.kubectl("get", "namespace", NAMESPACE, check=False).returncode != 0,
        120,
    )
    e2e.done.add("destroyed")


@pytest.mark.bench
def test_13_benchmark_the_stack_against_the_same_objects_as_plain_resources(e2e: E2E) -> None:
    """Timings, not assertions (``make bench-e2e``): preview (median of 3) and up of the local stack
    from empty, then destroy, against the same Kubernetes objects declared as plain
    pulumi_kubernetes resources in a minimal program, in the same run on the same cluster. Written
    to benchmarks/e2e-results.json. Runs on its own (the story above need not run first) or after it
    (test 12 left the stack empty)."""
    cli, cluster = e2e.cli, e2e.cluster
    _cluster_prerequisites(e2e)
    assert [r for r in cli.state() if r.get("custom") and not r["type"].startswith("pulumi:providers:")] == [], (
        "the benchmark starts from an empty stack"
    )
    render = render_text(e2e.base_config, cli.workdir)
    seconds = [cli.preview().seconds for _ in range(3)]
    cli.timings["preview (stack, from empty)"] = round(statistics.median(seconds), 2)
    cli.up(label="up (stack, from empty)")
    cli.run("destroy", "--stack", STACK, "--yes", "--skip-preview", "--non-interactive", label="destroy (stack)")
    wait_for(
        "the triton namespace to be gone",
        lambda: cluster.kubectl("get", "namespace", NAMESPACE, check=False).returncode != 0,
        120,
    )
    objects = render.manifests
    plain = cli.workdir / "plain"
    plain.mkdir(exist_ok=True)
    shutil.copy2(PLAIN_PROGRAM / "__main__.py", plain / "__main__.py")
    (plain / "objects.json").write_text(json.dumps(objects))
    (plain / "Pulumi.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "triton-plain",
                "main": ".",
                # The stack's own virtualenv: same interpreter, same pulumi and pulumi_kubernetes.
                "runtime": {
                    "name": "python",
                    "options": {"toolchain": "pip", "virtualenv": str(cli.project / ".venv")},
                },
            }
        )
    )
    cli.run("stack", "init", "plain", "--secrets-provider", "passphrase", "--non-interactive", cwd=plain)
    cli.run("config", "set", "objectsFile", str(plain / "objects.json"), "--stack", "plain", cwd=plain)
    seconds = [cli.run("preview", "--stack", "plain", "--non-interactive", cwd=plain).seconds for _ in range(3)]
    cli.timings["preview (plain, from empty)"] = round(statistics.median(seconds), 2)
    cli.run(
        "up",
        "--stack",
        "plain",
        "--yes",
        "--skip-preview",
        "--non-interactive",
        cwd=plain,
        label="up (plain, from empty)",
    )
    cli.run(
        "destroy",
        "--stack",
        "plain",
        "--yes",
        "--skip-preview",
        "--non-interactive",
        cwd=plain,
        label="destroy (plain)",
    )

    t = cli.timings
    report = {
        "measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {host_platform.system()} {host_platform.machine()}",
        "what": "wall seconds of the real `pulumi` CLI against a local kube-apiserver (kwok nodes); "
        "the stack vs the same objects as plain pulumi_kubernetes resources, same run",
        "toolchain": dict(e2e.toolchain.versions),
        "stack": {"resources": len(render.resources), "kubernetes objects": len(objects)},
        "seconds": t,
        "ratios": {
            "preview (stack / plain)": round(t["preview (stack, from empty)"] / t["preview (plain, from empty)"], 2),
            "up (stack / plain)": round(t["up (stack, from empty)"] / t["up (plain, from empty)"], 2),
        },
        "observations": {k: v for k, v in e2e.results.items() if k not in ("resources", "kubernetes objects")},
        "log": cli.log,
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["ratios"], indent=2))
