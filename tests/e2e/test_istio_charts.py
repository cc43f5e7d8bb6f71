"""Istio's real charts rendered with exactly the values our ``IstioInstallation`` passes.

For every committed stack that installs Istio, the recorded render (``tests/golden/<stack>``, which
``tests/stacks/test_stacks.py`` proves equal to the offline render) gives each Helm Release's values. The
toolchain's ``helm template`` renders the matching chart of the ``istio.io/istio`` module with
those values, and the tests assert on what the chart really makes of them: the disruption budgets
a node drain meets, the injector ConfigMap our preview check reads, the replica floors, the mesh
config and the gateway pod labels our Gateways select.

The charts are the module's (master of 2026-08-27, chart version 1.0.0), not the 1.30.5 release
the stacks install; tests/e2e/README.md says what that means.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e_cluster import LocalCluster, wait_for
from e2e_toolchain import ROOT, Toolchain, require_toolchain
from support import certs
from triton_components.common import versions
from triton_components.common.istio_charts import CHART_FOLDERS
from triton_platform.compose.prerequisites import istio_injector_problems, keda_problems
from triton_platform.review.render import StackRender, stack_files

pytestmark = pytest.mark.e2e

GOLDEN = ROOT / "tests" / "golden"
RELEASE = "kubernetes:helm.sh/v3:Release"
#: The module's charts default to a testing registry and ``latest``; the published charts carry
#: ``docker.io/istio`` and their own version, so the render gets those (images only, nothing else).
IMAGE_VALUES = {"global": {"hub": "docker.io/istio", "tag": versions.ISTIO_VERSION}}


def golden_render(stack: str) -> StackRender:
    path = GOLDEN / stack / "resources.json"
    assert path.is_file(), f"{path} is missing; run `make golden` and commit it"
    recorded = json.loads(path.read_text())
    return StackRender(stack, recorded["resources"], recorded["outputs"])


def istio_releases(render: StackRender) -> dict[str, dict[str, Any]]:
    """Inputs of the IstioInstallation's releases of a render, by chart name."""
    return {
        r["inputs"]["chart"]: r["inputs"]
        for r in render.find(RELEASE)
        if r.get("parent", "").startswith("tritonplatform:index:IstioInstallation::")
    }


STACKS = sorted(s for s in stack_files(ROOT) if istio_releases(golden_render(s)))


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


class HelmFailed(Exception):
    pass


class Charts:
    """``helm template`` of the module's Istio charts, cached per (stack, chart)."""

    def __init__(self, toolchain: Toolchain, workdir: Path) -> None:
        self.toolchain = toolchain
        self.folder = toolchain.bin / "istio-charts"
        self.workdir = workdir
        self._cache: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def chart_dir(self, chart: str) -> Path:
        return self.folder / CHART_FOLDERS[chart]

    def template(
        self, release: dict[str, Any], values: dict[str, Any] | None = None, kube_version: str | None = None
    ) -> list[dict[str, Any]]:
        """Objects the chart renders for a release's inputs (``values`` replaces the release's;
        ``kube_version`` is the API server version the chart sees, helm's default otherwise)."""
        chart = release["chart"]
        values_file = self.workdir / f"{release['namespace']}-{release['name']}-{len(self._cache)}.json"
        values_file.write_text(json.dumps(merged(IMAGE_VALUES, release["values"] if values is None else values)))
        command = [
            self.toolchain["helm"],
            "template",
            release["name"],
            str(self.chart_dir(chart)),
            "--namespace",
            release["namespace"],
            "--values",
            str(values_file),
            *(["--kube-version", kube_version] if kube_version else []),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise HelmFailed(f"`{' '.join(command)}` failed (exit {result.returncode}):\n{result.stderr}")
        # libyaml: the base chart alone is about 1 MB of CRDs, seconds per render for the pure-Python
        # parser on 2 cores; the documents are the same.
        return [doc for doc in yaml.load_all(result.stdout, Loader=yaml.CSafeLoader) if doc]

    def render(self, stack: str, chart: str) -> list[dict[str, Any]]:
        key = (stack, chart)
        if key not in self._cache:
            self._cache[key] = self.template(istio_releases(golden_render(stack))[chart])
        return self._cache[key]


@pytest.fixture(scope="module")
def charts() -> Iterator[Charts]:
    with tempfile.TemporaryDirectory(prefix="triton-istio-charts-") as workdir:
        toolchain = require_toolchain(Path(workdir) / "toolchain-build.log")
        yield Charts(toolchain, Path(workdir))


def objects(rendered: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in rendered if o["kind"] == kind]


def the(rendered: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [o for o in objects(rendered, kind) if name is None or o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {[o['metadata']['name'] for o in found]}"
    return found[0]


def allowed_disruptions(budget: dict[str, Any], replicas: int) -> int:
    spec = budget["spec"]
    if "maxUnavailable" in spec:
        return int(spec["maxUnavailable"])
    return replicas - int(spec["minAvailable"])


def minimum_replicas(rendered: list[dict[str, Any]], deployment: str) -> int:
    """The floor a drain meets: the HPA's minimum where the chart makes one, else the Deployment's."""
    hpas = [
        h for h in objects(rendered, "HorizontalPodAutoscaler") if h["spec"]["scaleTargetRef"]["name"] == deployment
    ]
    if hpas:
        return int(hpas[0]["spec"].get("minReplicas", 1))
    return int(the(rendered, "Deployment", deployment)["spec"].get("replicas", 1))


def test_every_stack_that_installs_istio_is_covered():
    """The parametrisation is not empty by accident: the GKE and EKS stacks all install Istio."""
    assert STACKS == ["dev", "dev-aws", "prod", "staging"]
    for stack in STACKS:
        assert set(istio_releases(golden_render(stack))) == set(CHART_FOLDERS)


def test_the_chart_folders_are_the_charts_we_install(charts):
    """Each folder's Chart.yaml names the chart the release asks the repository for; only the gateway
    chart ships a values schema (helm enforces it on every render below), the others have none."""
    for chart, folder in CHART_FOLDERS.items():
        meta = yaml.safe_load((charts.folder / folder / "Chart.yaml").read_text())
        assert meta["name"] == chart, folder
    with_schema = sorted(c for c in CHART_FOLDERS if (charts.chart_dir(c) / "values.schema.json").is_file())
    assert with_schema == ["gateway"]


def test_the_gateway_schema_is_enforced(charts):
    """A value the gateway chart's schema refuses fails the render: the schema really runs."""
    release = istio_releases(golden_render("prod"))["gateway"]
    bad = merged(release["values"], {"autoscaling": {"minReplicas": "3"}})
    with pytest.raises(HelmFailed, match=r"at '/autoscaling/minReplicas': got string, want integer"):
        charts.template(release, bad)
    with pytest.raises(HelmFailed, match=r"additional properties 'podDisruptionBudgett' not allowed"):
        charts.template(release, {**release["values"], "podDisruptionBudgett": {"maxUnavailable": 1}})


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("chart", sorted(CHART_FOLDERS))
def test_each_chart_renders_with_the_values_we_pass(charts, stack, chart):
    rendered = charts.render(stack, chart)
    namespace = istio_releases(golden_render(stack))[chart]["namespace"]
    assert rendered
    for obj in rendered:
        if obj["kind"] not in (
            "CustomResourceDefinition",
            "ClusterRole",
            "ClusterRoleBinding",
            "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
        ):
            assert obj["metadata"].get("namespace", namespace) == namespace, (obj["kind"], obj["metadata"]["name"])


@pytest.mark.parametrize("stack", STACKS)
def test_base_installs_the_crds_our_istio_objects_use(charts, stack):
    """Every Istio kind the stack declares has its CRD in the base chart (the release our custom
    resources depend on)."""
    crds = {
        (crd["spec"]["group"], crd["spec"]["names"]["kind"])
        for crd in objects(charts.render(stack, "base"), "CustomResourceDefinition")
    }
    used = {
        (obj["apiVersion"].split("/")[0], obj["kind"])
        for obj in golden_render(stack).manifests
        if obj["apiVersion"].split("/")[0].endswith(".istio.io")
    }
    assert used, "the stack declares Istio objects"
    assert used <= crds, used - crds


@pytest.mark.parametrize("stack", STACKS)
def test_istiod_budget_exists_only_when_a_second_replica_can_serve(charts, stack):
    """The istiod chart's own budget: with one replica our values turn it off (it would allow zero
    disruptions); with two or more it exists and still lets one pod go."""
    values = istio_releases(golden_render(stack))["istiod"]["values"]
    rendered = charts.render(stack, "istiod")
    floor = minimum_replicas(rendered, "istiod")
    assert floor == values["autoscaleMin"] == values["replicaCount"]
    # The chart's HPA owns the count (the Deployment leaves replicas out), so autoscaleMin is the floor.
    assert "replicas" not in the(rendered, "Deployment", "istiod")["spec"]
    assert the(rendered, "HorizontalPodAutoscaler", "istiod")["spec"]["minReplicas"] == values["autoscaleMin"]
    budgets = objects(rendered, "PodDisruptionBudget")
    if floor >= 2:
        assert [b["metadata"]["name"] for b in budgets] == ["istiod"]
        assert allowed_disruptions(budgets[0], floor) >= 1
    else:
        assert budgets == []


def test_istiod_budget_with_one_replica_would_block_a_drain(charts):
    """Why our values turn the budget off: the chart left alone keeps a budget one replica cannot
    satisfy (the chart's own condition, read from the render, not from our model of it)."""
    release = istio_releases(golden_render("dev"))["istiod"]
    assert release["values"]["replicaCount"] == 1
    chart_left_alone = merged(release["values"], {"global": {"defaultPodDisruptionBudget": {"enabled": True}}})
    for replicas in (1, 2):
        rendered = charts.template(
            release, merged(chart_left_alone, {"autoscaleMin": replicas, "replicaCount": replicas})
        )
        budgets = objects(rendered, "PodDisruptionBudget")
        if replicas == 1:
            assert budgets == []  # this chart version skips it at one replica by itself
        else:
            assert allowed_disruptions(budgets[0], replicas) == 1


@pytest.mark.parametrize("stack", STACKS)
def test_gateway_budget_lets_one_pod_go_at_the_minimum(charts, stack):
    """The gateway's budget is ``maxUnavailable: 1`` at every floor; the chart renders it only from
    two replicas (one replica gets none, which blocks no drain either)."""
    rendered = charts.render(stack, "gateway")
    release = istio_releases(golden_render(stack))["gateway"]
    floor = minimum_replicas(rendered, release["name"])
    assert floor == release["values"]["autoscaling"]["minReplicas"]
    assert "replicas" not in the(rendered, "Deployment", release["name"])["spec"]  # the HPA owns the count
    hpa = the(rendered, "HorizontalPodAutoscaler", release["name"])
    assert hpa["spec"]["maxReplicas"] == release["values"]["autoscaling"]["maxReplicas"] >= floor
    budgets = objects(rendered, "PodDisruptionBudget")
    if floor >= 2:
        [budget] = budgets
        assert budget["metadata"]["name"] == release["name"]
        assert budget["spec"]["maxUnavailable"] == 1 and "minAvailable" not in budget["spec"]
        assert budget["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
        assert allowed_disruptions(budget, floor) == 1
    else:
        assert budgets == []
    assert the(rendered, "Service", release["name"])["spec"]["type"] == "LoadBalancer"


def test_both_budget_branches_are_exercised():
    """The committed stacks cover one and several replicas of istiod and of the gateway."""
    floors = {
        (r["istiod"]["values"]["autoscaleMin"], r["gateway"]["values"]["autoscaling"]["minReplicas"])
        for r in (istio_releases(golden_render(s)) for s in STACKS)
    }
    assert {i for i, _ in floors} >= {1, 2} and {g for _, g in floors} >= {1, 2}


@pytest.mark.parametrize("stack", STACKS)
def test_the_injector_configmap_passes_our_preview_check(charts, stack):
    """What a cluster with our install holds in istio-sidecar-injector (the ConfigMap the preview
    check reads on bring-your-own clusters) says the CNI is on, so no istio-init is injected."""
    injector = the(charts.render(stack, "istiod"), "ConfigMap", "istio-sidecar-injector")
    assert json.loads(injector["data"]["values"])["pilot"]["cni"]["enabled"] is True
    assert istio_injector_problems(injector["data"]) == []
    # The injected template really drops istio-init when the CNI is on.
    assert "{{ if .Values.pilot.cni.enabled -}}" in injector["data"]["config"]


@pytest.mark.parametrize("stack", STACKS)
def test_mesh_config_normalises_paths(charts, stack):
    mesh = yaml.safe_load(the(charts.render(stack, "istiod"), "ConfigMap", "istio")["data"]["mesh"])
    assert mesh["pathNormalization"] == {"normalization": "DECODE_AND_MERGE_SLASHES"}


@pytest.mark.parametrize("stack", STACKS)
def test_our_gateways_select_the_chart_gateway_pods(charts, stack):
    """Every Istio Gateway the stack renders selects exactly labels the gateway chart puts on its pods."""
    release = istio_releases(golden_render(stack))["gateway"]
    pod_labels = the(charts.render(stack, "gateway"), "Deployment", release["name"])["spec"]["template"]["metadata"][
        "labels"
    ]
    gateways = [o for o in golden_render(stack).manifests if o["kind"] == "Gateway"]
    assert gateways
    for gateway in gateways:
        selector = gateway["spec"]["selector"]
        assert selector == {"istio": release["name"].removeprefix("istio-")}
        assert selector.items() <= pod_labels.items(), (selector, pod_labels)
    # The NetworkPolicies that let the gateway reach Triton name the same pods in the chart's namespace.
    peers = [
        peer
        for policy in golden_render(stack).manifests
        if policy["kind"] == "NetworkPolicy"
        for rule in policy["spec"].get("ingress", [])
        for peer in rule.get("from", [])
        if peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
        == release["namespace"]
    ]
    assert peers
    for peer in peers:
        assert peer["podSelector"]["matchLabels"].items() <= pod_labels.items(), (peer, pod_labels)


@pytest.mark.parametrize("stack", STACKS)
def test_platform_reaches_the_cni(charts, stack):
    """``global.platform: gke`` gives the CNI node agent (``system-node-critical``, outside
    kube-system) the ResourceQuota GKE requires for that priority class; EKS stacks get none. The
    host path of the CNI binaries follows the cluster: GKE's ``/home/kubernetes/bin`` on a GKE
    API server version, ``/opt/cni/bin`` elsewhere."""
    release = istio_releases(golden_render(stack))["cni"]
    gke = release["values"].get("global", {}).get("platform") == "gke"
    assert gke == (not stack.endswith("-aws"))
    rendered = charts.render(stack, "cni")
    quotas = objects(rendered, "ResourceQuota")
    assert [q["spec"]["scopeSelector"]["matchExpressions"][0]["values"] for q in quotas] == (
        [["system-node-critical"]] if gke else []
    )
    assert the(rendered, "DaemonSet")["spec"]["template"]["spec"]["priorityClassName"] == "system-node-critical"
    on_gke = charts.template(release, kube_version="v1.33.5-gke.1000")
    paths = {
        v["name"]: v["hostPath"]["path"]
        for v in the(on_gke, "DaemonSet")["spec"]["template"]["spec"]["volumes"]
        if "hostPath" in v
    }
    assert paths["cni-bin-dir"] == ("/home/kubernetes/bin" if gke else "/opt/cni/bin")


# Other charts we install. Their chart repositories are not reachable from CI, but the Go module
# proxy serves any public GitHub repository as a module at its semver tags, with the chart folders
# in it: KEDA's charts repository (tag v2.20.2 = chart 2.20.2) and NVIDIA's device plugin (the chart
# lives in the plugin's own repository at deployments/helm). kube-prometheus-stack is not checked:
# its repository tags releases as ``kube-prometheus-stack-<version>`` (not semver, so the proxy
# serves only commits), and it needs four dependency charts from two more repositories.
GO_CHARTS = {
    "keda": ("github.com/kedacore/charts", f"v{versions.KEDA_CHART_VERSION}+incompatible", "keda"),
    "nvidia-device-plugin": (
        "github.com/NVIDIA/k8s-device-plugin",
        f"v{versions.NVIDIA_DEVICE_PLUGIN_CHART_VERSION}",
        "deployments/helm/nvidia-device-plugin",
    ),
}


def go_module_chart(chart: str) -> Path:
    """The chart's folder in its Go module (downloaded once into the Go module cache)."""
    module, version, folder = GO_CHARTS[chart]
    command = ["go", "mod", "download", "-json", f"{module}@{version}"]
    with tempfile.TemporaryDirectory() as empty:  # outside any go.mod: a plain module download
        result = subprocess.run(
            command, cwd=empty, capture_output=True, text=True, timeout=600, env={**os.environ, "GOFLAGS": "-mod=mod"}
        )
    if result.returncode != 0:
        pytest.fail(
            f"`{' '.join(command)}` failed (exit {result.returncode}); the Go toolchain the e2e "
            f"build uses fetches it from the Go module proxy:\n{result.stdout}{result.stderr}",
            pytrace=False,
        )
    return Path(json.loads(result.stdout)["Dir"]) / folder


def releases_of(chart: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (stack, r["inputs"])
        for stack in sorted(stack_files(ROOT))
        for r in golden_render(stack).find(RELEASE)
        if r["inputs"]["chart"] == chart
    ]


def template_chart(toolchain_charts: Charts, folder: Path, release: dict[str, Any]) -> list[dict[str, Any]]:
    values_file = toolchain_charts.workdir / f"{release['name']}-{len(list(toolchain_charts.workdir.iterdir()))}.json"
    values_file.write_text(json.dumps(release["values"]))
    command = [
        toolchain_charts.toolchain["helm"],
        "template",
        release["name"],
        str(folder),
        "--namespace",
        release["namespace"],
        "--values",
        str(values_file),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"`{' '.join(command)}` failed:\n{result.stderr}"
    return [doc for doc in yaml.load_all(result.stdout, Loader=yaml.CSafeLoader) if doc]


def subset(small: Any, big: Any) -> bool:
    if isinstance(small, dict):
        return isinstance(big, dict) and all(k in big and subset(v, big[k]) for k, v in small.items())
    return str(small) == str(big)


def test_keda_chart_renders_our_values_and_labels_its_crd_for_our_version_check(charts):
    folder = go_module_chart("keda")
    meta = yaml.safe_load((folder / "Chart.yaml").read_text())
    assert (meta["name"], str(meta["version"])) == ("keda", versions.KEDA_CHART_VERSION)
    found = releases_of("keda")
    assert {s for s, _ in found} >= {"dev", "dev-aws", "prod", "staging"}
    for stack, release in found:
        rendered = template_chart(charts, folder, release)
        deployments = {
            d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]
            for d in objects(rendered, "Deployment")
        }
        for key, deployment in (
            ("operator", "keda-operator"),
            ("metricServer", "keda-operator-metrics-apiserver"),
            ("webhooks", "keda-admission-webhooks"),
        ):
            assert subset(release["values"]["resources"][key], deployments[deployment]["resources"]), (
                stack,
                deployment,
            )
        # The preview check reads this label on bring-your-own clusters; our own install passes it.
        crd = the(rendered, "CustomResourceDefinition", "scaledobjects.keda.sh")
        assert crd["metadata"]["labels"]["app.kubernetes.io/version"] == versions.KEDA_CHART_VERSION
        assert keda_problems(crd["metadata"], None) == []


def test_device_plugin_runs_on_our_eks_gpu_nodes(charts):
    """The DaemonSet the chart renders for our values schedules on the node group's nodes: the
    group's labels pass its nodeSelector and one of its required affinity terms, and it tolerates
    the group's taints."""
    folder = go_module_chart("nvidia-device-plugin")
    meta = yaml.safe_load((folder / "Chart.yaml").read_text())
    assert (meta["name"], str(meta["version"])) == ("nvidia-device-plugin", versions.NVIDIA_DEVICE_PLUGIN_CHART_VERSION)
    found = releases_of("nvidia-device-plugin")
    assert [s for s, _ in found] == ["dev-aws"]
    for stack, release in found:
        [group] = golden_render(stack).find("aws:eks/nodeGroup:NodeGroup")
        labels = group["inputs"]["labels"]
        taints = [
            {
                **t,
                "effect": {
                    "NO_SCHEDULE": "NoSchedule",
                    "NO_EXECUTE": "NoExecute",
                    "PREFER_NO_SCHEDULE": "PreferNoSchedule",
                }[t["effect"]],
            }
            for t in group["inputs"]["taints"]
        ]
        pod = the(template_chart(charts, folder, release), "DaemonSet", "nvidia-device-plugin")["spec"]["template"][
            "spec"
        ]
        assert pod["nodeSelector"].items() <= labels.items()
        terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert any(
            all(e["operator"] == "In" and labels.get(e["key"]) in e["values"] for e in t["matchExpressions"])
            for t in terms
        ), (terms, labels)
        for taint in taints:
            assert any(
                t.get("key") == taint["key"]
                and t.get("effect", taint["effect"]) == taint["effect"]
                and (t.get("operator") == "Exists" or t.get("value") == taint["value"])
                for t in pod["tolerations"]
            ), (taint, pod["tolerations"])


# Istio's own validation of every Istio object we render: ``istioctl analyze`` (the analyzers
# istiod and ``istioctl`` share) and ``istioctl validate`` (the validating webhook's per-object
# check). Without a cluster, ``analyze`` drops Services, Pods, Namespaces and Secrets from its input
# files and skips every analyzer that needs them (host, gateway selector and port, authorization
# policy, injection, subset-to-pod), so the analysis runs against a control plane of its own
# holding what a cluster with the stack has: its Namespaces, Services and ServiceAccounts, the
# gateway chart's Deployment (the controller-manager makes its pods; no node runs them) and Service,
# and the istiod chart's mesh and injector ConfigMaps. The Istio objects come from the files.


def manifests_of(stack: str) -> list[dict[str, Any]]:
    path = GOLDEN / stack / "manifests.yaml"
    assert path.is_file(), f"{path} is missing; run `make golden` and commit it"
    return [doc for doc in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader) if doc]


def is_istio(obj: dict[str, Any]) -> bool:
    return obj["apiVersion"].split("/")[0].endswith(".istio.io")


def injected_pod(deployment: dict[str, Any]) -> dict[str, Any]:
    """The gateway pod as istiod's injector makes it: the chart's ``image: auto`` becomes the
    release's proxy image (nothing serves the injector in the analysis cluster)."""
    template = json.loads(json.dumps(deployment["spec"]["template"]))
    for container in template["spec"]["containers"]:
        if container["image"] == "auto":
            container["image"] = f"{IMAGE_VALUES['global']['hub']}/proxyv2:{IMAGE_VALUES['global']['tag']}"
    meta = deployment["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": template["spec"],
        "metadata": {**template["metadata"], "name": f"{meta['name']}-injected", "namespace": meta["namespace"]},
    }


def credential_names(objs: list[dict[str, Any]]) -> list[str]:
    return sorted(
        {
            server["tls"]["credentialName"]
            for o in objs
            if o["kind"] == "Gateway"
            for server in o["spec"]["servers"]
            if server.get("tls", {}).get("credentialName")
        }
    )


#: The stack whose install stands for a bring-your-own cluster's Istio (the local stack installs none).
BYO_ISTIO = "dev-aws"


class Istioctl:
    def __init__(self, charts: Charts, cluster: LocalCluster) -> None:
        self.charts = charts
        self.cluster = cluster
        self.binary = charts.toolchain["istioctl"]
        self.workdir = charts.workdir
        self.loaded: str | None = None

    def _write(self, name: str, objs: list[dict[str, Any]]) -> Path:
        path = self.workdir / name
        path.write_text("---\n".join(yaml.safe_dump(o, sort_keys=True) for o in objs))
        return path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, f"--kubeconfig={self.cluster.kubeconfig}", *args], capture_output=True, text=True, timeout=300
        )

    def load(self, stack: str) -> None:
        """The cluster holds what it would with ``stack`` deployed, and nothing of another stack."""
        if self.loaded == stack:
            return
        namespaces = [
            n["metadata"]["name"]
            for n in self.cluster.items("namespaces")
            if n["metadata"]["name"] not in ("default", "kube-system", "kube-public", "kube-node-lease")
        ]
        self.cluster.kubectl("delete", "mutatingwebhookconfigurations", "--all", "--wait=true")
        if namespaces:
            self.cluster.kubectl("delete", "namespace", "--wait=true", "--timeout=120s", *namespaces, timeout=180)
        objs = manifests_of(stack)
        chart_stack = stack if stack in STACKS else BYO_ISTIO
        releases = istio_releases(golden_render(chart_stack))
        wanted = {n["metadata"]["name"] for n in objs if n["kind"] == "Namespace"}
        # A stack on a cluster with its own Istio: that Istio's namespaces as our install makes them.
        istio_namespaces = {releases[c]["namespace"] for c in ("istiod", "gateway")}
        extra = [
            n
            for n in manifests_of(chart_stack)
            if n["kind"] == "Namespace" and n["metadata"]["name"] in istio_namespaces - wanted
        ]
        # Triton's Deployments too: the controller-manager makes their pods (uninjected, unscheduled),
        # which the authorization-policy and subset analyzers look for.
        runtime = [o for o in objs if o["kind"] in ("Namespace", "Service", "ServiceAccount", "Deployment")]
        runtime += [self._tls_secret(name, releases["gateway"]["namespace"]) for name in credential_names(objs)]
        gateway = [
            o
            for o in self.charts.render(chart_stack, "gateway")
            if o["kind"] in ("ServiceAccount", "Deployment", "Service")
        ]
        istiod = [
            o
            for o in self.charts.render(chart_stack, "istiod")
            if o["kind"] == "ConfigMap" or (o["kind"] == "Service" and o["metadata"]["name"] == "istiod")
        ]
        gateway_deployment = the(gateway, "Deployment")
        namespaced = [
            o for o in [*runtime, *gateway, *istiod] if o["kind"] != "Namespace" and o is not gateway_deployment
        ]
        self.cluster.apply_objects([*extra, *[o for o in runtime if o["kind"] == "Namespace"]])
        self.cluster.apply_objects([*namespaced, injected_pod(gateway_deployment)])
        for deployment in [o for o in runtime if o["kind"] == "Deployment" and o["spec"].get("replicas", 1)] + [
            gateway_deployment
        ]:
            meta = deployment["metadata"]
            selector = ",".join(f"{k}={v}" for k, v in deployment["spec"]["selector"]["matchLabels"].items())
            wait_for(
                f"pods of Deployment {meta['namespace']}/{meta['name']}",
                lambda meta=meta, selector=selector: self.cluster.items(
                    "pods", "-n", meta["namespace"], "-l", selector
                ),
                120,
            )
        # The injector's webhook configuration once the pods exist (nothing serves it here), then the
        # gateway Deployment, whose own pods the unserved webhook keeps from being created.
        webhooks = objects(self.charts.render(chart_stack, "istiod"), "MutatingWebhookConfiguration")
        assert webhooks
        self.cluster.apply_objects(webhooks)
        self.cluster.apply_objects([gateway_deployment])
        self.loaded = stack

    def _tls_secret(self, name: str, namespace: str) -> dict[str, Any]:
        """A self-signed stand-in for the certificate the user provides (``mesh.gateway.tls.credentialName``)."""
        key, cert = self.workdir / f"{name}.key", self.workdir / f"{name}.crt"
        certs.self_signed(key, cert, "/CN=triton.example.com", days=1)
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": namespace},
            "data": {
                "tls.crt": base64.b64encode(cert.read_bytes()).decode(),
                "tls.key": base64.b64encode(key.read_bytes()).decode(),
            },
        }

    def analyze(self, stack: str, objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Every message ``istioctl analyze`` gives (info and up) for ``objs`` on a cluster with ``stack``."""
        self.load(stack)
        files = self._write(f"{stack}-istio.yaml", objs)
        result = self.run(
            "analyze",
            "--all-namespaces",
            "--output",
            "json",
            "--output-threshold",
            "Info",
            "--failure-threshold",
            "Error",
            str(files),
        )
        # Exit 0: nothing at the failure threshold; 79: analyzers found messages at it.
        assert result.returncode in (0, 79), f"istioctl analyze failed (exit {result.returncode}):\n{result.stderr}"
        out = result.stdout.strip()
        return json.loads(out) if out.startswith("[") else []

    def validate(self, name: str, objs: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
        return self.run("validate", "--filename", str(self._write(f"{name}-validate.yaml", objs)))


@pytest.fixture(scope="module")
def istioctl(charts: Charts) -> Iterator[Istioctl]:
    cluster = LocalCluster(charts.toolchain, charts.workdir / "cluster")
    try:
        cluster.start()
        cluster.apply_objects(objects(charts.render(BYO_ISTIO, "base"), "CustomResourceDefinition"))
    except Exception:
        print(cluster.logs_tail())
        cluster.stop()
        raise
    try:
        yield Istioctl(charts, cluster)
    finally:
        cluster.stop()


#: Analyzer warnings accepted on the committed stacks: (code, kind of the object) -> why.
ACCEPTED: dict[tuple[str, str], str] = {
    ("IST0103", "Pod"): "the analysis cluster runs no injector, so its Triton pods were created without the sidecar a "
    "real cluster injects (test_istio_injection.py proves the injection)",
    ("IST0133", "AuthorizationPolicy"): "the gateway's JWT DENY rule (`<namespace>-require-jwt`) uses HTTP attributes "
    "only, so on the gateway pods it would also refuse plain TCP traffic (TCP or TLS-passthrough servers); the stacks' "
    "Gateways serve HTTP and HTTPS only, and a gateway shared with TCP servers sets mesh.jwt.atGateway false "
    "(docs/deploy.md says so)",
}


def _describe(messages: list[dict[str, Any]]) -> list[str]:
    return [f"{m['level']} {m['code']} {m.get('origin', '')}: {m['message']}" for m in messages]


@pytest.mark.parametrize("stack", sorted(stack_files(ROOT)))
def test_istio_accepts_every_istio_object_of_the_stack(istioctl, stack):
    istio_objs = [o for o in manifests_of(stack) if is_istio(o)]
    assert istio_objs, f"{stack} renders Istio objects"
    result = istioctl.validate(stack, istio_objs)
    assert result.returncode == 0, f"istioctl validate refused {stack}'s Istio objects:\n{result.stdout}{result.stderr}"
    messages = istioctl.analyze(stack, istio_objs)
    assert [m for m in messages if m["level"] == "Error"] == [], _describe(messages)
    unexpected = [
        m
        for m in messages
        if m["level"] == "Warning" and (m["code"], m.get("origin", "").split(" ")[0]) not in ACCEPTED
    ]
    assert unexpected == [], _describe(unexpected)


def test_the_analysis_sees_the_services_and_the_gateway_pods(istioctl):
    """The cluster really feeds the analyzers: a Gateway selecting no pod and a route to a host
    without a Service are reported (file-only analysis would say nothing about either)."""
    objs = [o for o in manifests_of("prod") if is_istio(o)]
    broken = json.loads(json.dumps(objs))
    for obj in broken:
        if obj["kind"] == "Gateway":
            obj["spec"]["selector"] = {"istio": "no-such-gateway"}
        if obj["kind"] == "VirtualService":
            obj["spec"]["http"][0]["route"][0]["destination"]["host"] = "no-such-service.triton.svc.cluster.local"
    found = {(m["code"], m["message"]) for m in istioctl.analyze("prod", broken)}
    assert ("IST0101", 'Referenced selector not found: "istio=no-such-gateway"') in found, found
    assert ("IST0101", 'Referenced host not found: "no-such-service.triton.svc.cluster.local"') in found, found


def _virtual_service(stack: str) -> dict[str, Any]:
    [vs] = [o for o in manifests_of(stack) if o["kind"] == "VirtualService"]
    return vs


def _canary_route(vs: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in vs["spec"]["http"] if len(r["route"]) == 2)


def test_a_subset_no_destination_rule_defines_is_reported(istioctl):
    objs = [o for o in manifests_of("staging") if is_istio(o)]
    broken = json.loads(json.dumps(_virtual_service("staging")))
    route = _canary_route(broken)
    route["route"][1]["destination"]["subset"] = "no-such-subset"
    objs = [broken if o["kind"] == "VirtualService" else o for o in objs]
    messages = istioctl.analyze("staging", objs)
    host = route["route"][1]["destination"]["host"]
    assert [(m["level"], m["code"], m["message"]) for m in messages if m["level"] == "Error"] == [
        (
            "Error",
            "IST0101",
            f'Referenced host+subset in destinationrule not found: "{host}+no-such-subset"',
        )
    ], _describe(messages)


def test_bad_weights_are_refused_and_a_sum_other_than_100_is_not(istioctl):
    """Istio refuses a negative weight and an all-zero split; it takes any other sum (Envoy scales the
    weights), so our own config check is what holds a canary split to 100."""
    vs = _virtual_service("staging")

    def with_weights(stable: int, canary: int) -> dict[str, Any]:
        broken = json.loads(json.dumps(vs))
        route = _canary_route(broken)
        route["route"][0]["weight"], route["route"][1]["weight"] = stable, canary
        return broken

    negative = istioctl.validate("negative-weight", [with_weights(110, -10)])
    assert negative.returncode != 0
    assert "weight -10 < 0" in negative.stdout + negative.stderr
    zero = istioctl.validate("zero-weight", [with_weights(0, 0)])
    assert zero.returncode != 0
    assert "total destination weight = 0" in zero.stdout + zero.stderr
    other_sum = istioctl.validate("weight-sum-110", [with_weights(90, 20)])
    assert other_sum.returncode == 0, other_sum.stdout + other_sum.stderr


def test_a_bad_regex_is_refused_with_istios_message(istioctl):
    broken = json.loads(json.dumps(_virtual_service("staging")))
    route = next(r for r in broken["spec"]["http"] if "uriRegexRewrite" in r.get("rewrite", {}))
    route["match"][0]["uri"] = {"regex": "^/triton/(v2"}
    result = istioctl.validate("bad-regex", [broken])
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "missing closing ): `^/triton/(v2`" in output, output
    assert "Istio uses RE2 style regex-based match" in output, output
