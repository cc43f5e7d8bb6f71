"""Helm Releases under the real engine: ``mesh.install`` installs Istio's real charts from local files.

The local stack with ``mesh.install.enabled: true`` and ``mesh.install.chartFolder`` set to the
toolchain's ``istio-charts`` (no chart repository is reachable): ``pulumi up`` installs base,
istiod, CNI and the gateway through ``IstioInstallation`` with the real Kubernetes provider's Helm
(which waits for every Deployment and DaemonSet to be ready), a second ``up`` changes nothing, and
renaming the gateway's namespace is a replacement in both ``pulumi preview`` and
``triton-platform diff``.

Stand-ins (tests/e2e/README.md): kwok makes the chart pods Ready without running them; no istiod
runs, so the webhook configurations the istiod chart installs (which nothing would serve) are
removed as they appear, and the gateway's LoadBalancer Service gets a loopback ingress address in
its status, which a cloud controller would set and Helm waits for.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from e2e_cluster import LocalCluster, wait_for
from e2e_pulumi import STACK, PulumiCli, copy_project
from e2e_toolchain import ROOT, Toolchain, cache_dir, require_toolchain
from test_local_stack import CRD_SCHEMAS, _add_nodes, _settings, engine_changes, offline_changes

pytestmark = pytest.mark.e2e

RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"
#: Webhook configurations of the istiod chart; nothing serves them without a running istiod.
UNSERVED_WEBHOOKS = (
    ("mutatingwebhookconfigurations", "istio-sidecar-injector"),
    ("validatingwebhookconfigurations", "istio-validator-istio-system"),
)


@dataclass
class Install:
    toolchain: Toolchain
    cluster: LocalCluster
    cli: PulumiCli
    base_config: str = ""

    @property
    def stack_file(self) -> Path:
        return self.cli.project / f"Pulumi.{STACK}.yaml"


class ClusterStandIns:
    """What a cloud and a running istiod would do while ``pulumi up`` runs, on a bounded loop."""

    def __init__(self, cluster: LocalCluster, gateway_namespace: str, limit_s: float = 900) -> None:
        self.cluster = cluster
        self.gateway_namespace = gateway_namespace
        self.limit_s = limit_s
        self.stop = threading.Event()
        self.actions: list[str] = []
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> ClusterStandIns:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)

    def _loop(self) -> None:
        deadline = time.monotonic() + self.limit_s
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                self._once()
            except Exception as error:  # noqa: BLE001 - keep going; the engine reports what fails
                self.actions.append(f"error: {error}")
            self.stop.wait(0.5)

    def _once(self) -> None:
        for kind, name in UNSERVED_WEBHOOKS:
            if self.cluster.kubectl("get", kind, name, check=False).returncode == 0:
                self.cluster.kubectl("delete", kind, name, "--ignore-not-found")
                self.actions.append(f"deleted {kind}/{name}")
        for service in self.cluster.items("services", "-n", self.gateway_namespace):
            if service["spec"].get("type") == "LoadBalancer" and not service.get("status", {}).get(
                "loadBalancer", {}
            ).get("ingress"):
                self.cluster.kubectl(
                    "patch",
                    "service",
                    service["metadata"]["name"],
                    "-n",
                    self.gateway_namespace,
                    "--subresource=status",
                    "--type=merge",
                    "-p",
                    '{"status":{"loadBalancer":{"ingress":[{"ip":"127.0.0.1"}]}}}',
                )
                self.actions.append(f"set the load balancer address of {service['metadata']['name']}")


@pytest.fixture(scope="module")
def install() -> Iterator[Install]:
    workdir = Path(tempfile.mkdtemp(prefix="triton-e2e-istio-"))
    toolchain = require_toolchain(workdir / "toolchain-build.log")
    cluster = LocalCluster(toolchain, workdir / "cluster")
    try:
        cluster.start()
        _add_nodes(cluster, _settings(ROOT / f"Pulumi.{STACK}.yaml"))
        project = cache_dir() / "project-helm"
        copy_project(ROOT, project)
        cli = PulumiCli(toolchain, workdir / "pulumi", project, cluster.kubeconfig)
        cli.setup()
        # KEDA and Prometheus Operator CRDs as the local stack expects them; Istio's come from the
        # base chart this stack installs.
        for crd in sorted(CRD_SCHEMAS.glob("*/*.yaml")):
            if crd.parent.name != "istio":
                cluster.kubectl("apply", "--server-side", "--field-manager=e2e", "-f", str(crd))
        cluster.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        cluster.kubectl("create", "namespace", "monitoring")
        cli.config_set("mesh.install.enabled", "true")
        cli.config_set("mesh.install.chartFolder", str(toolchain.bin / "istio-charts"))
    except Exception:
        print(cluster.logs_tail())
        cluster.stop()
        raise
    state = Install(toolchain, cluster, cli)
    state.base_config = state.stack_file.read_text()
    try:
        yield state
    finally:
        print("\n".join(cli.log))
        cluster.stop()
        if os.environ.get("TRITON_E2E_KEEP") != "1":
            shutil.rmtree(workdir, ignore_errors=True)


def _gateway_namespace(text: str) -> str:
    mesh = yaml.safe_load(text)["config"]["triton-platform:mesh"]
    return mesh.get("gateway", {}).get("namespace", "istio-ingress")


def test_1_up_installs_istios_charts_from_the_local_folder(install: Install) -> None:
    with ClusterStandIns(install.cluster, _gateway_namespace(install.base_config)) as stand_ins:
        install.cli.up(label="up with mesh.install")
    releases = {r["urn"].split("::")[-1]: r for r in install.cli.state() if r["type"] == RELEASE}
    assert set(releases) == {"istio-base", "istio-istiod", "istio-cni", "istio-gateway"}, stand_ins.actions
    charts = install.toolchain.bin / "istio-charts"
    for release in releases.values():
        assert release["outputs"]["status"]["status"] == "deployed"
        assert release["inputs"]["chart"].startswith(str(charts))
        assert "repositoryOpts" not in release["inputs"]
    # The charts' objects are live: Istio's CRDs from base, istiod and the gateway ready, the CNI
    # DaemonSet on every node that takes it.
    crds = {c["metadata"]["name"] for c in install.cluster.items("crds")}
    assert {"virtualservices.networking.istio.io", "gateways.networking.istio.io"} <= crds
    # The charts leave the count to their HPAs; the controller-manager's HPA raises each to the
    # minimum our values set (2 by default), and kwok makes the pods Ready.
    for namespace, name in (("istio-system", "istiod"), ("istio-ingress", "istio-ingressgateway")):
        hpa = install.cluster.get("hpa", name, "-n", namespace)
        assert hpa["spec"]["minReplicas"] == 2
        wait_for(
            f"{namespace}/{name} at its HPA minimum of 2 ready replicas",
            lambda name=name, namespace=namespace: (
                install.cluster.get("deployment", name, "-n", namespace)["status"].get("readyReplicas") == 2
            ),
            120,
        )
    cni = install.cluster.get("daemonset", "istio-cni-node", "-n", "istio-system")
    assert cni["status"]["numberReady"] == cni["status"]["desiredNumberScheduled"] > 0
    # The stack's own Istio objects were created after the CRDs the base release installed.
    assert install.cluster.items("virtualservices.networking.istio.io", "-n", "triton")


def test_2_a_second_up_changes_nothing(install: Install) -> None:
    result = install.cli.up("--expect-no-changes", label="second up with mesh.install")
    assert result.returncode == 0


def test_3_renaming_the_gateway_namespace_replaces_it_in_preview_and_offline_diff(install: Install) -> None:
    install.cli.config_set("mesh.gateway.namespace", "edge")
    head = install.stack_file.read_text()
    try:
        engine = engine_changes(install.cli.preview("--json", "--diff"))
        offline = offline_changes(install.base_config, head, install.cli.workdir / "diff")
    finally:
        install.stack_file.write_text(install.base_config)
    assert engine[(NAMESPACE, "istio-gateway-namespace")] == "replace", engine
    assert engine[(RELEASE, "istio-gateway")] == "replace", engine
    assert offline[(NAMESPACE, "istio-gateway-namespace")] == "replace", offline
    assert offline[(RELEASE, "istio-gateway")] == "replace", offline
