"""The local stack under the real istiod: injection, Pod Security ``restricted`` and validation.

istiod (``e2e_istiod``) runs against the e2e API server with the injector ConfigMap, mesh config and
webhook configurations of the real istiod chart rendered with our ``IstioInstallation``'s values; its
injection and validation webhooks are wired to it on 127.0.0.1. ``pulumi up`` of Pulumi.local.yaml
then creates its Triton pods through the injector, and Pod Security ``restricted`` judges the pods
istiod wrote. An injector without Istio CNI stops the same stack at preview. The injected pods are
only admitted and scheduled (kwok): no container runs, so the drain is read from what the injector
wrote into the pod, not observed. Tests run in order as one story on one cluster.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from e2e_cluster import LocalCluster, wait_for
from e2e_istiod import Istiod, merge
from e2e_pulumi import STACK, PulumiCli, copy_project
from e2e_toolchain import ROOT, Toolchain, cache_dir, require_toolchain
from test_local_stack import (
    CRD_SCHEMAS,
    NAMESPACE,
    StackSteps,
    _add_nodes,
    _settings,
    deployments,
    is_ready,
    render_text,
    triton_pods,
    wait_rolled_out,
)
from triton_components.common import versions
from triton_platform.compose.prerequisites import istio_injector_problems
from triton_platform.config.loader import describe
from triton_platform.config.settings import PlatformSettings

pytestmark = pytest.mark.e2e

#: The injector's record of what it added (``sidecar.istio.io/status``).
INJECTED = "sidecar.istio.io/status"
PROXY = "istio-proxy"
#: What the injector adds without Istio CNI (traffic redirection by iptables, as root with
#: NET_ADMIN/NET_RAW), and what it adds with CNI instead (a non-root check that CNI redirected).
ISTIO_INIT = "istio-init"
ISTIO_VALIDATION = "istio-validation"
#: The drain of Istio's default ProxyConfig (pkg/config/mesh), for a proxy config that sets none.
AGENT_DEFAULT_DRAIN = "5s"
ISTIO_DENIED = 'admission webhook "validation.istio.io" denied the request: configuration is invalid: '


@dataclass
class Mesh(StackSteps):
    toolchain: Toolchain
    cluster: LocalCluster
    istiod: Istiod
    cli: PulumiCli
    settings: PlatformSettings
    base_config: str = ""
    done: set[str] = field(default_factory=set)


@pytest.fixture(scope="module")
def mesh() -> Iterator[Mesh]:
    workdir = Path(tempfile.mkdtemp(prefix="triton-e2e-istio-"))
    toolchain = require_toolchain(workdir / "toolchain-build.log")
    cluster = LocalCluster(toolchain, workdir / "cluster")
    istiod = Istiod(toolchain, cluster, workdir / "istiod")
    try:
        cluster.start()
        settings = _settings(ROOT / f"Pulumi.{STACK}.yaml")
        _add_nodes(cluster, settings)
        istiod.start()
        # The cluster's Istio CRDs are the base chart's (installed with istiod); KEDA and the
        # Prometheus Operator CRDs are the files the render is validated against.
        for crd in sorted(CRD_SCHEMAS.glob("*/*.yaml")):
            if crd.parent.name != "istio":
                cluster.kubectl("apply", "--server-side", "--field-manager=e2e", "-f", str(crd))
        cluster.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        cluster.kubectl("create", "namespace", "monitoring")
        cluster.kubectl(
            "label",
            "--overwrite",
            "crd",
            "scaledobjects.keda.sh",
            f"app.kubernetes.io/version={versions.KEDA_CHART_VERSION}",
        )
        # Its own copy: the project folder of test_local_stack may be in use by another module.
        project = cache_dir() / "project-istio"
        copy_project(ROOT, project)
        cli = PulumiCli(toolchain, workdir / "pulumi", project, cluster.kubeconfig)
        cli.setup()
    except Exception:
        print(cluster.logs_tail())
        print(f"== istiod\n{istiod.tail()}")
        istiod.stop()
        cluster.stop()
        raise
    state = Mesh(toolchain, cluster, istiod, cli, settings)
    state.base_config = state.stack_file.read_text()
    try:
        yield state
    finally:
        print("\n".join(cli.log))
        istiod.stop()
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# ------------------------------------------------------------------------------------- helpers


def injected_status(pod: dict[str, Any]) -> dict[str, Any]:
    status = pod["metadata"].get("annotations", {}).get(INJECTED)
    assert status, f"pod {pod['metadata']['name']} was not injected (no {INJECTED})"
    return json.loads(status)


def capabilities_added(pod: dict[str, Any]) -> dict[str, list[str]]:
    spec = pod["spec"]
    return {
        c["name"]: c.get("securityContext", {}).get("capabilities", {}).get("add", [])
        for c in [*spec.get("initContainers", []), *spec["containers"]]
    }


def probe_pod(cluster: LocalCluster, deployment: str) -> dict[str, Any]:
    """A pod exactly as the live Deployment's ReplicaSet would create it (for a dry-run create)."""
    template = cluster.get("deployment", deployment, "-n", NAMESPACE)["spec"]["template"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{deployment}-probe",
            "namespace": NAMESPACE,
            "labels": template["metadata"]["labels"],
            "annotations": template["metadata"].get("annotations", {}),
        },
        "spec": template["spec"],
    }


def dry_run_create(cluster: LocalCluster, obj: dict[str, Any]):
    return cluster.kubectl("create", "--dry-run=server", "-o", "json", "-f", "-", input=json.dumps(obj), check=False)


def seconds(duration: str) -> float:
    """A protobuf/Go duration as istiod writes it (``47s``, ``1m5s``, ``1.5s``)."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|m|s|ms)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"not a duration: {duration!r}"
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(n) * scale[u] for n, u in parts)


def one_line(output: str, start: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip().startswith(start)]
    assert lines, f"no line starting {start!r} in:\n{output[-3000:]}"
    return lines[0]


def without_cni(values: dict[str, Any]) -> dict[str, Any]:
    return merge(values, {"pilot": {"cni": {"enabled": False}}})


# ------------------------------------------------------------------------------------- tests


def test_01_triton_pods_are_injected_by_istiod_and_admitted_by_restricted_with_istio_cni(mesh: Mesh) -> None:
    """The injector runs on the chart's values with CNI on: `pulumi preview` (its injector check
    reads the real ConfigMap) and `pulumi up` pass, and every Triton pod was created through
    istiod's webhook: it carries the istio-proxy sidecar and CNI's istio-validation check, no
    istio-init and no added capability, Pod Security `restricted` admitted it, and the API server
    classes it Guaranteed QoS with the injected containers counted."""
    cluster, istiod = mesh.cluster, mesh.istiod
    assert istiod.injector_values["pilot"]["cni"]["enabled"] is True
    mesh.cli.preview(label="preview (under istiod)")
    mesh.cli.up(label="up (under istiod)")
    wait_rolled_out(cluster)

    labels = cluster.get("namespace", NAMESPACE)["metadata"]["labels"]
    assert labels["istio-injection"] == "enabled" and labels["pod-security.kubernetes.io/enforce"] == "restricted"
    refusals = [
        e["message"] for e in cluster.items("events", "-n", NAMESPACE, "--field-selector", "reason=FailedCreate")
    ]
    assert refusals == [], refusals
    pods = triton_pods(cluster)
    assert len(pods) == sum(d["spec"].get("replicas", 1) for d in deployments(cluster).values())
    for pod in pods:
        name = pod["metadata"]["name"]
        status = injected_status(pod)
        inits = [c["name"] for c in pod["spec"].get("initContainers", [])]
        containers = [c["name"] for c in pod["spec"]["containers"]]
        assert PROXY in status["containers"] and PROXY in containers, (name, status, containers)
        assert ISTIO_INIT not in inits and inits == [ISTIO_VALIDATION], (name, inits)
        assert {c: caps for c, caps in capabilities_added(pod).items() if caps} == {}, name
        proxy = next(c for c in pod["spec"]["containers"] if c["name"] == PROXY)
        assert proxy["image"] == f"docker.io/istio/proxyv2:{versions.ISTIO_VERSION}"
        assert proxy["securityContext"]["runAsNonRoot"] is True
        # The API server's own QoS verdict on the pod istiod wrote (sidecar sized by our annotations).
        assert pod["status"]["qosClass"] == "Guaranteed", (
            name,
            {
                c["name"]: c.get("resources")
                for c in [*pod["spec"].get("initContainers", []), *pod["spec"]["containers"]]
            },
        )
    mesh.done.add("injected")


def test_02_the_injected_sidecar_drains_for_longer_than_triton_serves(mesh: Mesh) -> None:
    """Read from the injected pods: the sidecar (a classic container: kwok's nodes report
    `kwok-v0.8.0` as kubelet version, so istiod's auto-detection does not pick native sidecars)
    starts first and drains for `terminationDrainDuration` after the pod is told to stop, while
    Triton sleeps in preStop and then serves in-flight requests for up to --exit-timeout-secs. The
    drain must outlast both, and end before terminationGracePeriodSeconds, when the kubelet kills
    what is left."""
    mesh.needs("injected")
    checked = {}
    for pod in triton_pods(mesh.cluster):
        name = pod["metadata"]["name"]
        spec = pod["spec"]
        assert PROXY not in [c["name"] for c in spec.get("initContainers", [])], "native sidecar: see docstring"
        proxy = spec["containers"][0]
        assert proxy["name"] == PROXY and "postStart" in proxy.get("lifecycle", {}), (
            f"{name}: holdApplicationUntilProxyStarts puts the proxy first and makes Triton wait for it"
        )
        env = {e["name"]: e.get("value") for e in proxy.get("env", [])}
        # The mesh's defaultConfig merged with the pod's proxy.istio.io/config, as the agent reads it.
        proxy_config = json.loads(env["PROXY_CONFIG"])
        drain = seconds(proxy_config.get("terminationDrainDuration", AGENT_DEFAULT_DRAIN))
        triton = next(
            c for c in spec["containers"] if any(a.startswith("--exit-timeout-secs=") for a in c.get("args", []))
        )
        exit_timeout = int(next(a for a in triton["args"] if a.startswith("--exit-timeout-secs=")).split("=", 1)[1])
        pre_stop = triton["lifecycle"]["preStop"]["sleep"]["seconds"]
        grace = spec["terminationGracePeriodSeconds"]
        assert pre_stop + exit_timeout < drain < grace, (
            f"{name}: preStop {pre_stop} s + exit timeout {exit_timeout} s must end before the sidecar's drain "
            f"({drain} s), which must end before the grace period ({grace} s)"
        )
        checked[pod["metadata"]["labels"]["triton-platform.io/model-group"]] = (pre_stop, exit_timeout, drain, grace)
    assert checked, "no Triton pod"
    print(f"preStop, exit timeout, sidecar drain, grace period per group: {checked}")


def test_03_istiod_validation_refuses_broken_virtual_services_with_its_own_message(mesh: Mesh) -> None:
    """The stack's Istio objects passed istiod's validating webhook during `pulumi up` (it is
    fail-closed). The stack's VirtualService broken two ways is refused by the API server with
    istiod's message: a regex that does not compile, and routes whose weights are all 0. Weights
    that do not sum to 100 are not refused by istiod (it takes them as relative weights), so our
    config rule is what stops a stack file whose trafficPercent does not add up."""
    mesh.needs("injected")
    cluster = mesh.cluster
    for name in ("istiod-default-validator", "istio-validator-istio-system"):
        config = cluster.get("validatingwebhookconfiguration", name)
        assert {w["failurePolicy"] for w in config["webhooks"]} == {"Fail"}, name
    rendered = next(
        m for m in render_text(mesh.base_config, mesh.cli.workdir).manifests if m["kind"] == "VirtualService"
    )
    live = cluster.get("virtualservice.networking.istio.io", rendered["metadata"]["name"], "-n", NAMESPACE)
    sent = {
        "apiVersion": live["apiVersion"],
        "kind": live["kind"],
        "metadata": {"name": live["metadata"]["name"], "namespace": NAMESPACE},
        "spec": live["spec"],
    }
    accepted = cluster.kubectl(
        "apply",
        "--dry-run=server",
        "--server-side",
        "--field-manager=probe",
        "--force-conflicts",
        "-f",
        "-",
        input=json.dumps(sent),
        check=False,
    )
    assert accepted.returncode == 0, accepted.stderr

    bad_regex = copy.deepcopy(sent)
    bad_regex["spec"]["http"][0]["match"] = [{"uri": {"regex": "/triton/(v2"}}]
    refused = cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(bad_regex), check=False)
    assert refused.returncode != 0 and ISTIO_DENIED in refused.stderr, refused.stderr
    assert "error parsing regexp: missing closing ): `/triton/(v2`" in refused.stderr, refused.stderr

    weighted = next(i for i, route in enumerate(sent["spec"]["http"]) if len(route["route"]) > 1)
    zero = copy.deepcopy(sent)
    for destination in zero["spec"]["http"][weighted]["route"]:
        destination["weight"] = 0
    refused = cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(zero), check=False)
    assert refused.returncode != 0 and ISTIO_DENIED in refused.stderr, refused.stderr
    assert "total destination weight = 0" in refused.stderr, refused.stderr

    over = copy.deepcopy(sent)
    over["spec"]["http"][weighted]["route"][0]["weight"] = 90
    over["spec"]["http"][weighted]["route"][1]["weight"] = 20
    relative = cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(over), check=False)
    assert relative.returncode == 0, f"istiod now refuses weights summing to 110: {relative.stderr}"
    _assert_config_refuses_weights(mesh)


def _assert_config_refuses_weights(mesh: Mesh) -> None:
    """`pulumi preview` of the stack with trafficPercent 90/20 stops at config validation."""
    mesh.cli.config_set("modelGroups[0].canary.trafficPercent.stable", "90")
    mesh.cli.config_set("modelGroups[0].canary.trafficPercent.canary", "20")
    try:
        result = mesh.cli.preview(check=False, label="preview (weights 90/20)")
    finally:
        mesh.stack_file.write_text(mesh.base_config)
    assert result.returncode != 0
    assert one_line(result.output, "- triton-platform:modelGroups[0].canary.trafficPercent") == (
        "- triton-platform:modelGroups[0].canary.trafficPercent.canary = 20: "
        "with trafficPercent.stable 90 the two sum to 110; the weights must sum to 100"
    )


def test_04_an_injector_without_istio_cni_stops_the_stack_at_preview_not_at_rollout(mesh: Mesh) -> None:
    """istiod's injector ConfigMap rendered with pilot.cni.enabled false (as `helm upgrade` would
    leave it): a new Triton pod would now get istio-init, which Pod Security `restricted` refuses
    (shown with a dry-run create of the live Deployment's pod). The stack never gets that far:
    `pulumi preview` fails with our check's message for exactly that ConfigMap, and `pulumi up` of an
    image change fails before any Deployment or pod is touched."""
    mesh.needs("injected")
    cluster, istiod = mesh.cluster, mesh.istiod
    installed = istiod.values
    assert installed is not None
    before = {
        n: (d["metadata"]["generation"], d["spec"]["template"]["spec"]["containers"])
        for n, d in deployments(cluster).items()
    }
    pods_before = sorted(p["metadata"]["name"] for p in triton_pods(cluster))
    istiod.install(without_cni(installed))
    try:
        assert istiod.injector_values["pilot"]["cni"]["enabled"] is False
        probe = probe_pod(cluster, next(iter(before)))

        def refused_for_istio_init():
            result = dry_run_create(cluster, probe)
            return result.returncode != 0 and f'container "{ISTIO_INIT}"' in result.stderr and result.stderr

        refusal = wait_for("istiod to inject istio-init (and restricted to refuse it)", refused_for_istio_init, 120)
        assert 'violates PodSecurity "restricted:latest"' in refusal, refusal
        assert f'container "{ISTIO_INIT}" must not include "NET_ADMIN", "NET_RAW"' in refusal, refusal

        live = cluster.get("configmap", "istio-sidecar-injector", "-n", "istio-system")["data"]
        problems = istio_injector_problems(live)
        assert len(problems) == 1
        expected = f"- {describe(mesh.settings, problems[0])}"
        preview = mesh.cli.preview(check=False, label="preview (injector without CNI)")
        assert preview.returncode != 0
        assert one_line(preview.output, "- triton-platform:mesh.install.enabled") == expected

        mesh.cli.config_set("triton.imageTag", "26.09-py3")
        try:
            up = mesh.cli.up(check=False, label="up (injector without CNI)")
        finally:
            mesh.stack_file.write_text(mesh.base_config)
        assert up.returncode != 0
        assert one_line(up.output, "- triton-platform:mesh.install.enabled") == expected
        after = {
            n: (d["metadata"]["generation"], d["spec"]["template"]["spec"]["containers"])
            for n, d in deployments(cluster).items()
        }
        assert after == before, "a Deployment changed although the check failed"
        assert sorted(p["metadata"]["name"] for p in triton_pods(cluster)) == pods_before
    finally:
        istiod.install(installed)


def test_05_on_kubernetes_1_33_nodes_the_sidecar_is_native_and_restricted_still_admits_it(mesh: Mesh) -> None:
    """Where every node's kubelet is 1.33 or later (what GKE and EKS run today), istiod injects the
    sidecar as a native one: an init container with `restartPolicy: Always`, which the kubelet
    stops only after Triton has exited, so the order itself covers Triton's preStop and exit timeout
    and the pod's grace period must (the proxy config's drain settings are unused there). With the
    kwok nodes reporting the control plane's version, a Triton pod its ReplicaSet recreates is
    injected that way, in CNI mode, and admitted by `restricted`."""
    mesh.needs("injected")
    cluster = mesh.cluster
    version = mesh.toolchain.versions["KUBERNETES_VERSION"]
    for node in cluster.items("nodes"):
        cluster.kubectl(
            "patch",
            "node",
            node["metadata"]["name"],
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps({"status": {"nodeInfo": {"kubeletVersion": version}}}),
        )
    probe = probe_pod(cluster, "triton-text")

    def injected_natively() -> bool:
        # Admitted (CNI mode again after the previous test) and native.
        result = dry_run_create(cluster, probe)
        return result.returncode == 0 and PROXY in [
            c["name"] for c in json.loads(result.stdout)["spec"].get("initContainers", [])
        ]

    wait_for("istiod to see the nodes' kubelet version and inject native sidecars", injected_natively, 120)
    group = "triton-platform.io/model-group"
    old = next(p for p in triton_pods(cluster) if p["metadata"]["labels"][group] == "text")
    cluster.kubectl("delete", "pod", old["metadata"]["name"], "-n", NAMESPACE, "--wait=false")

    def replacement() -> dict[str, Any] | None:
        pods = [
            p
            for p in triton_pods(cluster)
            if p["metadata"]["labels"][group] == "text"
            and p["metadata"]["name"] != old["metadata"]["name"]
            and not p["metadata"].get("deletionTimestamp")
        ]
        return pods[0] if len(pods) == 1 and is_ready(pods[0]) else None

    pod = wait_for("the recreated text pod Ready", replacement, 120)
    spec = pod["spec"]
    inits = {c["name"]: c for c in spec["initContainers"]}
    assert list(inits) == [ISTIO_VALIDATION, PROXY], list(inits)
    assert inits[PROXY].get("restartPolicy") == "Always"
    assert PROXY not in [c["name"] for c in spec["containers"]]
    assert {c: caps for c, caps in capabilities_added(pod).items() if caps} == {}
    assert pod["status"]["qosClass"] == "Guaranteed"
    # The init order starts Triton only once the proxy's startup probe passes (what the classic
    # sidecar's postStart wait does); at shutdown its preStop starts a graceful drain of inbound
    # listeners and it gets SIGTERM only after Triton has exited.
    assert "startupProbe" in inits[PROXY] and "postStart" not in inits[PROXY]["lifecycle"]
    assert inits[PROXY]["lifecycle"]["preStop"]["exec"]["command"][-2:] == ["POST", "drain"]
    triton = next(c for c in spec["containers"] if any(a.startswith("--exit-timeout-secs=") for a in c.get("args", [])))
    exit_timeout = int(next(a for a in triton["args"] if a.startswith("--exit-timeout-secs=")).split("=", 1)[1])
    pre_stop = triton["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pre_stop + exit_timeout < spec["terminationGracePeriodSeconds"]
