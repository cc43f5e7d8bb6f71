"""IstioInstallation: pinned official charts, in an order that lets one `pulumi up` build a fresh cluster."""

from __future__ import annotations

import json
import re

import pytest

from support.render import inputs, one
from triton_components import IstioInstallation
from triton_components.common import versions
from triton_platform.config import load_settings
from triton_platform.environment import build_environment

RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"


def _install(**args):
    return lambda: IstioInstallation("istio", args)


def test_installs_the_four_official_charts_at_the_pinned_version(run):
    render = run(_install())
    releases = {r["name"]: r["inputs"] for r in render.find(RELEASE)}
    assert {name: (r["chart"], r["name"]) for name, r in releases.items()} == {
        "istio-base": ("base", "istio-base"),
        "istio-istiod": ("istiod", "istiod"),
        "istio-cni": ("cni", "istio-cni"),
        "istio-gateway": ("gateway", "istio-ingressgateway"),
    }
    for release in releases.values():
        assert release["version"] == versions.ISTIO_VERSION
        assert release["repositoryOpts"] == {"repo": "https://istio-release.storage.googleapis.com/charts"}
    assert re.fullmatch(r"1\.\d+\.\d+", versions.ISTIO_VERSION)


def test_releases_are_ordered_crds_then_control_plane_then_gateway(run):
    render = run(_install())
    deps = {r["name"]: r["dependsOn"] for r in render.find(RELEASE)}
    base = "kubernetes:helm.sh/v3:Release::istio-base"
    assert base not in deps["istio-base"]
    assert base in deps["istio-istiod"] and base in deps["istio-cni"]
    assert "kubernetes:helm.sh/v3:Release::istio-istiod" in deps["istio-gateway"]
    for name in ("istio-base", "istio-istiod", "istio-cni"):
        assert "kubernetes:core/v1:Namespace::istio-system-namespace" in deps[name]
    assert "kubernetes:core/v1:Namespace::istio-gateway-namespace" in deps["istio-gateway"]


def test_istiod_uses_the_cni_and_normalises_paths_for_authorization(run):
    values = inputs(run(_install()), RELEASE, "istio-istiod")["values"]
    assert values["pilot"]["cni"]["enabled"] is True
    assert values["meshConfig"]["pathNormalization"] == {"normalization": "DECODE_AND_MERGE_SLASHES"}


def test_namespaces_get_the_pod_security_level_each_component_needs(run):
    render = run(_install(system_namespace="istio-system", gateway_namespace="edge"))
    labels = {r["inputs"]["metadata"]["name"]: r["inputs"]["metadata"]["labels"] for r in render.find(NAMESPACE)}
    assert labels["istio-system"]["pod-security.kubernetes.io/enforce"] == "privileged"  # CNI hostPath
    assert labels["edge"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert inputs(render, RELEASE, "istio-gateway")["namespace"] == "edge"


def test_gateway_is_highly_available_and_annotatable(run):
    render = run(
        _install(gateway_replicas=3, gateway_service_annotations={"networking.gke.io/load-balancer-type": "Internal"})
    )
    values = inputs(render, RELEASE, "istio-gateway")["values"]
    assert values["autoscaling"]["minReplicas"] == 3
    assert values["podDisruptionBudget"] == {"maxUnavailable": 1, "unhealthyPodEvictionPolicy": "AlwaysAllow"}
    assert values["service"]["annotations"] == {"networking.gke.io/load-balancer-type": "Internal"}


def test_a_single_gateway_replica_can_still_be_drained(run):
    """The chart's minAvailable: 1 would allow zero disruptions with one replica."""
    values = inputs(run(_install(gateway_replicas=1)), RELEASE, "istio-gateway")["values"]
    assert values["autoscaling"]["minReplicas"] == 1
    assert values["podDisruptionBudget"]["maxUnavailable"] == 1 and "minAvailable" not in values["podDisruptionBudget"]


def test_istiod_runs_two_replicas_and_drops_its_fixed_budget_when_asked_for_one(run):
    values = inputs(run(_install(platform="gke")), RELEASE, "istio-istiod")["values"]
    assert (values["autoscaleMin"], values["replicaCount"]) == (2, 2)
    assert values["global"] == {"platform": "gke"}  # the chart keeps its minAvailable: 1 budget
    values = inputs(run(_install(platform="gke", istiod_replicas=1)), RELEASE, "istio-istiod")["values"]
    assert (values["autoscaleMin"], values["replicaCount"]) == (1, 1)
    assert values["global"] == {"platform": "gke", "defaultPodDisruptionBudget": {"enabled": False}}


def test_platform_is_passed_to_every_chart(run):
    render = run(_install(platform="gke"))
    for release in render.find(RELEASE):
        assert release["inputs"]["values"]["global"] == {"platform": "gke"}
    assert "global" not in inputs(run(_install()), RELEASE, "istio-base")["values"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"platform": "eks"}, "platform is 'eks'; use one of gke, k3d, k3s"),
        ({"gateway_replicas": 0}, "IstioInstallation 'istio': args.gateway_replicas is 0; give a number from 1 to 20"),
        ({"istiod_replicas": 6}, "IstioInstallation 'istio': args.istiod_replicas is 6; give a number from 1 to 5"),
        ({"gateway_name": "ingress"}, "gateway_name is 'ingress'; use a name starting with 'istio-'"),
    ],
)
def test_invalid_inputs_fail_before_any_child_is_declared(run, args, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        run(_install(**args))


def test_an_environment_orders_triton_and_istio_resources_after_the_releases(run):
    settings = load_settings(
        {
            "triton-platform:environment": "staging",
            "triton-platform:triton": {"modelRepository": "gs://bucket/models"},
            "triton-platform:mesh": {
                "enabled": True,
                "install": {"enabled": True},
                "gateway": {"hosts": ["triton.example.com"]},
            },
        },
        "Pulumi.staging.yaml",
    )
    render = run(lambda: build_environment(settings))
    releases = {f"{RELEASE}::{r['name']}" for r in render.find(RELEASE)}
    assert len(releases) == 4
    # Triton's children register only after their parent, which waits for every release: its pods
    # are created once istiod's injector is serving.
    assert releases <= set(one(render, "tritonplatform:index:TritonServer")["dependsOn"])
    custom = [r for r in render.resources if ".istio.io/" in r["type"]]
    assert len(custom) >= 8
    for resource in custom:
        assert releases <= set(resource["dependsOn"]), resource["name"]
    namespace = inputs(render, NAMESPACE, "triton-namespace")
    assert namespace["metadata"]["labels"]["istio-injection"] == "enabled"
    pod = inputs(render, "kubernetes:apps/v1:Deployment")["spec"]["template"]["metadata"]
    assert json.loads(pod["annotations"]["proxy.istio.io/config"])["holdApplicationUntilProxyStarts"] is True


def test_an_environment_without_install_adds_no_releases(run):
    settings = load_settings(
        {
            "triton-platform:environment": "dev",
            "triton-platform:triton": {"modelRepository": "gs://bucket/models"},
            "triton-platform:mesh": {"enabled": True, "gateway": {"hosts": ["*"]}},
        },
        "Pulumi.dev.yaml",
    )
    render = run(lambda: build_environment(settings))
    assert render.find(RELEASE) == []
    assert render.find("kubernetes:networking.istio.io/v1:VirtualService")


def _chart_folder(root, missing=()):
    for sub in ("base", "istio-control/istio-discovery", "istio-cni", "gateway"):
        if sub not in missing:
            (root / sub).mkdir(parents=True)
            (root / sub / "Chart.yaml").write_text(f"name: {sub}\n")
    return str(root)


def test_a_local_chart_folder_replaces_the_repository(run, tmp_path):
    folder = _chart_folder(tmp_path / "charts")
    render = run(_install(chart_folder=folder + "/"))
    releases = {r["name"]: r["inputs"] for r in render.find(RELEASE)}
    assert {name: r["chart"] for name, r in releases.items()} == {
        "istio-base": f"{folder}/base",
        "istio-istiod": f"{folder}/istio-control/istio-discovery",
        "istio-cni": f"{folder}/istio-cni",
        "istio-gateway": f"{folder}/gateway",
    }
    for release in releases.values():
        assert "repositoryOpts" not in release and "version" not in release
    # Everything else is what the repository install declares.
    from_repository = {r["name"]: r["inputs"] for r in run(_install()).find(RELEASE)}
    strip = ("chart", "repositoryOpts", "version")
    assert {n: {k: v for k, v in r.items() if k not in strip} for n, r in releases.items()} == {
        n: {k: v for k, v in r.items() if k not in strip} for n, r in from_repository.items()
    }


def test_a_chart_folder_without_the_charts_fails_before_any_child_is_declared(run, tmp_path):
    folder = _chart_folder(tmp_path / "charts", missing=("istio-cni", "gateway"))
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"chart_folder is {folder!r}, which has no istio-cni/Chart.yaml, gateway/Chart.yaml; use the "
            "manifests/charts folder of Istio's source tree, or None for the chart repository"
        ),
    ):
        run(_install(chart_folder=folder))


def test_an_environment_installs_from_the_configured_chart_folder(run, tmp_path):
    folder = _chart_folder(tmp_path / "charts")
    settings = load_settings(
        {
            "triton-platform:environment": "staging",
            "triton-platform:triton": {"modelRepository": "gs://bucket/models"},
            "triton-platform:mesh": {
                "enabled": True,
                "install": {"enabled": True, "chartFolder": folder},
                "gateway": {"hosts": ["triton.example.com"]},
            },
        },
        "Pulumi.staging.yaml",
    )
    render = run(lambda: build_environment(settings))
    assert inputs(render, RELEASE, "istio-gateway")["chart"] == f"{folder}/gateway"
