"""The checks of what a cluster runs (Istio's injector, KEDA's version) under the real engine.

``cluster_checks`` for the committed bring-your-own-cluster stack runs in ``pulumi preview`` with the
real Kubernetes provider against a local kube-apiserver: the reads it declares are real reads, and
the injector's values and the CRD's labels reach the checks as the provider returns them. An
injector without Istio CNI and a KEDA older than 2.18 stop the preview with the stack's message; CNI
and KEDA 2.20.2 pass; an unlabelled KEDA CRD passes with the warning. Only the checks run (the
program declares nothing else), so this needs no dependency install and no kwok node.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e_cluster import LocalCluster
from e2e_pulumi import isolated_env
from e2e_toolchain import ROOT, Toolchain, require_toolchain

pytestmark = pytest.mark.e2e

PROGRAM = f"""
import pulumi
from pathlib import Path
from triton_platform.config import load_settings
from triton_platform.compose.prerequisites import cluster_checks
from triton_platform.review.render import stack_config

config, secret_keys = stack_config(Path({str(ROOT / "Pulumi.local.yaml")!r}))
settings = load_settings(config, "Pulumi.local.yaml", frozenset(secret_keys))
pulumi.export("checks", pulumi.Output.all(*cluster_checks(settings, None)).apply(len))
"""

INJECTOR = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "istio-sidecar-injector", "namespace": "istio-system"},
}
KEDA_CRD = ROOT / "tests" / "crd-schemas" / "keda" / "keda.sh_scaledobjects.yaml"


class Preview:
    def __init__(self, toolchain: Toolchain, workdir: Path, cluster: LocalCluster) -> None:
        self.pulumi = toolchain["pulumi"]
        self.project = workdir / "project"
        (self.project / "program").mkdir(parents=True)
        (self.project / "program" / "__main__.py").write_text(textwrap.dedent(PROGRAM))
        (self.project / "Pulumi.yaml").write_text(
            "name: triton-platform\nmain: program/\nruntime:\n  name: python\n  options:\n"
            f"    virtualenv: {sys.prefix}\n"
        )
        (workdir / "state").mkdir()
        self.env = isolated_env(
            toolchain.bin,
            workdir / "home",
            os.urandom(16).hex(),
            PULUMI_IGNORE_AMBIENT_PLUGINS="true",
            PULUMI_BACKEND_URL=(workdir / "state").as_uri(),
            KUBECONFIG=str(cluster.kubeconfig),
        )
        version = toolchain.versions["PULUMI_KUBERNETES_PLUGIN_VERSION"]
        self.run(
            "plugin",
            "install",
            "resource",
            "kubernetes",
            f"v{version}",
            "--file",
            toolchain["pulumi-resource-kubernetes"],
        )
        self.run("stack", "init", "checks")

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.pulumi, *args, "--non-interactive"],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert not check or result.returncode == 0, f"pulumi {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result

    def preview(self) -> subprocess.CompletedProcess[str]:
        return self.run("preview", check=False)


@pytest.fixture(scope="module")
def setup() -> Iterator[tuple[LocalCluster, Preview]]:
    with tempfile.TemporaryDirectory(prefix="triton-e2e-checks-") as folder:
        workdir = Path(folder)
        toolchain = require_toolchain(workdir / "toolchain-build.log")
        cluster = LocalCluster(toolchain, workdir / "cluster")
        cluster.start()
        try:
            cluster.kubectl("create", "namespace", "istio-system")
            cluster.kubectl("apply", "--server-side", "--field-manager=e2e", "-f", str(KEDA_CRD))
            yield cluster, Preview(toolchain, workdir, cluster)
        except Exception:
            print(cluster.logs_tail())
            raise
        finally:
            cluster.stop()


def injector(cluster: LocalCluster, cni: bool) -> None:
    values = {"global": {"hub": "docker.io/istio"}, "pilot": {"cni": {"enabled": cni}}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps({**INJECTOR, "data": {"values": json.dumps(values)}}))


def keda_version(cluster: LocalCluster, version: str | None) -> None:
    label = f"app.kubernetes.io/version={version}" if version else "app.kubernetes.io/version-"
    cluster.kubectl("label", "--overwrite", "crd", "scaledobjects.keda.sh", label)


def one_line(output: str, start: str) -> str:
    return next(line.strip() for line in output.splitlines() if line.strip().startswith(start))


def test_an_injector_without_istio_cni_stops_the_preview(setup) -> None:
    cluster, pulumi = setup
    injector(cluster, cni=False)
    keda_version(cluster, "2.20.2")
    result = pulumi.preview()
    assert result.returncode != 0
    assert one_line(result.stdout, "- triton-platform:mesh.install.enabled") == (
        "- triton-platform:mesh.install.enabled = false: the cluster's Istio injects the istio-init container "
        "(NET_ADMIN and NET_RAW as root; istio-system/istio-sidecar-injector has no pilot.cni.enabled), which Pod "
        "Security restricted refuses in the Triton namespace, so no Triton pod would start: install Istio's CNI node "
        "agent (Helm chart istio/cni, or ambient mode) and set pilot.cni.enabled=true on istiod, or set "
        "mesh.install.enabled: true"
    )


def test_a_keda_older_than_2_18_stops_the_preview(setup) -> None:
    cluster, pulumi = setup
    injector(cluster, cni=True)
    keda_version(cluster, "2.16.1")
    result = pulumi.preview()
    assert result.returncode != 0
    assert one_line(result.stdout, "- triton-platform:modelGroups[1].autoscaling").startswith(
        "- triton-platform:modelGroups[1].autoscaling = 'set': the cluster's KEDA is 2.16.1 "
        "(app.kubernetes.io/version of CRD scaledobjects.keda.sh)"
    )


def test_cni_and_a_recent_keda_pass_and_an_unlabelled_keda_is_a_warning(setup) -> None:
    cluster, pulumi = setup
    injector(cluster, cni=True)
    keda_version(cluster, "2.20.2")
    passed = pulumi.preview()
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "checks: 2" in passed.stdout and "KEDA version is unknown" not in passed.stdout
    keda_version(cluster, None)
    warned = pulumi.preview()
    assert warned.returncode == 0, warned.stdout + warned.stderr
    assert one_line(warned.stdout, "warning: The cluster's KEDA version is unknown") == (
        "warning: The cluster's KEDA version is unknown (CRD scaledobjects.keda.sh has no app.kubernetes.io/version "
        "label); this stack's ScaledObjects need KEDA 2.18 or newer (fallback with Value-type triggers). Check the "
        "keda-operator image tag: `kubectl get deploy -A -l app.kubernetes.io/name=keda-operator -o "
        "jsonpath='{..image}'`"
    )
