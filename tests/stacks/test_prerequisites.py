"""What a stack assumes of a cluster it does not create is checked, or acknowledged by name.

* A looked-up GKE cluster must have Workload Identity (the GPU node pool runs the GKE metadata
  server) and must enforce NetworkPolicy (Dataplane V2 or Calico): checked against the cluster the
  program looks up, before anything is created.
* On EKS the VPC CNI add-on must enforce NetworkPolicy (checked), or the stack names what does.
* An EKS node group at minNodes 0 never grows without an autoscaler: the stack says it has one.
* GKE image streaming needs the Container File System API: the stack enables it.
* Where the stack does not install Istio, the cluster's sidecar injector must use Istio CNI (no
  istio-init container, which Pod Security restricted refuses); where it installs Istio, it turns CNI on.
* Where the stack autoscales but does not install KEDA, the cluster's KEDA must be 2.18 or newer.
"""

from __future__ import annotations

import contextvars
import json
from typing import Any

import pulumi
import pytest

from support import ROOT
from support.config import AWS, GCP, REPO, env, problems
from triton_platform.compose.mesh import mesh_server_args
from triton_platform.compose.prerequisites import istio_injector_problems, keda_problems
from triton_platform.config import load_settings
from triton_platform.environment import build_environment
from triton_platform.review.render import RenderMocks, TrackingMonitor, mock_runtime, render_stack, stack_config


class ClusterMocks(RenderMocks):
    """The render's mocks, with the looked-up cluster (or add-on), or an object read from the cluster,
    replaced by what a test gives."""

    def __init__(self, reads: dict[str, dict[str, Any]] | None = None, **answers: dict[str, Any]) -> None:
        self.answers = answers
        self.reads = reads or {}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        answer = super().call(args)
        return {**answer, **self.answers.get(args.token, {})}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.resource_id and args.typ in self.reads:
            return args.resource_id, self.reads[args.typ]
        return super().new_resource(args)


def run_program(config: dict, mocks: pulumi.runtime.Mocks) -> None:
    settings = load_settings(config, "Pulumi.test.yaml")

    def run() -> None:
        with mock_runtime(TrackingMonitor(mocks), "test", {}, []):
            pulumi.runtime.test(lambda: build_environment(settings))()

    contextvars.Context().run(run)


GET_CLUSTER = "gcp:container/getCluster:getCluster"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
GET_ADDON = "aws:eks/getAddon:getAddon"


def test_a_looked_up_gke_cluster_without_workload_identity_or_network_policy_is_refused():
    bare = {"workloadIdentityConfigs": [], "datapathProvider": "LEGACY_DATAPATH", "networkPolicies": []}
    with pytest.raises(pulumi.RunError) as caught:
        run_program(env("dev", gcp=GCP), ClusterMocks(**{GET_CLUSTER: bare}))
    assert str(caught.value) == (
        "The existing cluster does not meet what Pulumi.test.yaml needs (2 problems):\n"
        "  - triton-platform:gcp.cluster.name = 'ml': GKE cluster ml has no Workload Identity, but the GPU node pool "
        "runs the GKE metadata server, which GKE allows only with Workload Identity: enable it with `gcloud container "
        "clusters update ml --location=us-central1 --workload-pool=acme-ml-dev.svc.id.goog`, or set "
        "gcp.cluster.create: true\n"
        "  - triton-platform:gcp.cluster.networkPolicy = 'enforced' (default; set this key to change it): GKE cluster "
        "ml enforces no NetworkPolicy (neither "
        "Dataplane V2 nor Calico), so the Triton namespace's ingress and egress policies would be ignored: enable "
        "Calico with `gcloud container clusters update ml --location=us-central1 "
        "--update-addons=NetworkPolicy=ENABLED` and then `--enable-network-policy` (node pools are recreated), use a "
        "Dataplane V2 cluster, or set gcp.cluster.networkPolicy: not-enforced outside prod"
    )


def test_calico_enforcement_passes_and_unenforced_policy_can_be_accepted_outside_prod():
    calico = {"datapathProvider": "LEGACY_DATAPATH", "networkPolicies": [{"enabled": True, "provider": "CALICO"}]}
    run_program(env("dev", gcp=GCP), ClusterMocks(**{GET_CLUSTER: calico}))
    bare = {"datapathProvider": "LEGACY_DATAPATH", "networkPolicies": []}
    run_program(
        env("dev", gcp={**GCP, "cluster": {**GCP["cluster"], "networkPolicy": "not-enforced"}}),
        ClusterMocks(**{GET_CLUSTER: bare}),
    )


def test_an_eks_vpc_cni_addon_without_network_policy_is_refused():
    with pytest.raises(pulumi.RunError) as caught:
        run_program(env("dev", aws=AWS), ClusterMocks(**{GET_ADDON: {"configurationValues": '{"env": {}}'}}))
    assert str(caught.value) == (
        "The existing cluster does not meet what Pulumi.test.yaml needs (1 problem):\n"
        "  - triton-platform:aws.cluster.networkPolicy = 'vpc-cni-addon' (default; set this key to change it): the "
        "vpc-cni add-on of EKS cluster ml does "
        'not enforce NetworkPolicy (its configuration lacks "enableNetworkPolicy": "true"), so the Triton '
        "namespace's ingress and egress policies would be ignored: enable it with `aws eks update-addon "
        '--cluster-name ml --addon-name vpc-cni --configuration-values \'{"enableNetworkPolicy": "true"}\'`, set '
        "aws.cluster.networkPolicy: self-managed if Calico, Cilium or a self-managed VPC CNI enforces it, or "
        "not-enforced outside prod"
    )
    run_program(
        env("dev", aws={**AWS, "cluster": {"name": "ml", "networkPolicy": "self-managed"}}),
        ClusterMocks(**{GET_ADDON: {"configurationValues": ""}}),
    )


def test_unenforced_network_policy_is_refused_in_prod():
    groups = [{"name": "a", "replicas": 2}]
    assert problems(
        env(
            "prod",
            gcp={**GCP, "gpuPool": {"maxNodes": 2}, "cluster": {**GCP["cluster"], "networkPolicy": "not-enforced"}},
            modelGroups=groups,
        )
    ) == [
        "triton-platform:gcp.cluster.networkPolicy = 'not-enforced': is not allowed in prod: the Triton namespace's "
        "ingress and egress isolation depends on it; use enforced"
    ]
    assert problems(
        env("prod", aws={**AWS, "cluster": {"name": "ml", "networkPolicy": "not-enforced"}}, modelGroups=groups)
    ) == [
        "triton-platform:aws.cluster.networkPolicy = 'not-enforced': is not allowed in prod: the Triton namespace's "
        "ingress and egress isolation depends on it; use vpc-cni-addon or self-managed"
    ]


def test_a_bring_your_own_cluster_that_does_not_enforce_network_policy_is_refused_in_prod():
    groups = [{"name": "a", "replicas": 2}]
    unenforced = {"networkPolicy": "not-enforced", "gpuNodes": 2}
    assert problems(env("prod", triton=REPO, cluster=unenforced, modelGroups=groups)) == [
        "triton-platform:cluster.networkPolicy = 'not-enforced': is not allowed in prod: the Triton namespace's "
        "ingress and egress isolation depends on it; run a network plugin that enforces NetworkPolicy (Calico, "
        "Cilium, ...) and use enforced"
    ]
    assert load_settings(env("dev", triton=REPO, cluster=unenforced), "P.yaml").existing_cluster.network_policy == (
        "not-enforced"
    )
    # Without a cluster section the defaults apply, enforced among them.
    assert load_settings(env("prod", triton=REPO, modelGroups=groups), "P.yaml").existing_cluster.network_policy == (
        "enforced"
    )
    assert problems(env("dev", triton=REPO, cluster={"networkPolicy": "off"}))[0].startswith(
        "triton-platform:cluster.networkPolicy = 'off': Input should be 'enforced' or 'not-enforced'"
    )


def test_an_eks_group_at_zero_nodes_needs_an_autoscaler():
    assert problems(env("dev", aws={**AWS, "gpuNodeGroup": {"minNodes": 0}})) == [
        "triton-platform:aws.gpuNodeGroup.minNodes = 0: an EKS managed node group never resizes itself, so it would "
        "stay at 0 nodes and Triton's pods Pending: install Cluster Autoscaler and set aws.cluster.autoscaler: "
        "cluster-autoscaler, or set minNodes to 1 or more"
    ]
    load_settings(
        env(
            "dev",
            aws={**AWS, "gpuNodeGroup": {"minNodes": 0}, "cluster": {"name": "ml", "autoscaler": "cluster-autoscaler"}},
        ),
        "P.yaml",
    )


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_image_streaming_enables_the_container_file_system_api_first(stack):
    render = render_stack(ROOT, stack)
    [api] = [
        r
        for r in render.find("gcp:projects/service:Service")
        if r["inputs"]["service"] == "containerfilesystem.googleapis.com"
    ]
    assert api["inputs"]["disableOnDestroy"] is False  # other workloads of the project may use it
    pool = render.find("gcp:container/nodePool:NodePool")[0]
    assert pool["inputs"]["nodeConfig"]["gcfsConfig"] == {"enabled": True}
    assert api["id"] in pool["dependsOn"] or any(api["id"] in d for d in _ancestors_depends(render, pool))


def _ancestors_depends(render, resource) -> list[list[str]]:
    """dependsOn of the resource and of every component above it (a component's depends_on applies to its children)."""
    found, parent = [], resource["parent"]
    by_id = {r["id"]: r for r in render.resources}
    while parent in by_id:
        found.append(by_id[parent]["dependsOn"])
        parent = by_id[parent]["parent"]
    return found


def injector(values: dict) -> dict:
    return {
        "metadata": {"name": "istio-sidecar-injector", "namespace": "istio-system"},
        "data": {"values": json.dumps(values)},
    }


def keda_crd(version: str | None) -> dict:
    return {
        "metadata": {
            "name": "scaledobjects.keda.sh",
            "labels": {} if version is None else {"app.kubernetes.io/version": version},
        }
    }


def local_stack() -> dict:
    """The committed bring-your-own-cluster stack (Istio and KEDA are the cluster's own)."""
    config, _ = stack_config(ROOT / "Pulumi.local.yaml")
    return config


def test_an_injector_without_istio_cni_is_refused_where_the_stack_does_not_install_istio():
    without_cni = injector({"global": {"hub": "docker.io/istio"}, "pilot": {"cni": {"enabled": False}}})
    with pytest.raises(pulumi.RunError) as caught:
        run_program(local_stack(), ClusterMocks(reads={CONFIG_MAP: without_cni}))
    assert str(caught.value) == (
        "The existing cluster does not meet what Pulumi.test.yaml needs (1 problem):\n"
        "  - triton-platform:mesh.install.enabled = false: the cluster's Istio injects the istio-init container "
        "(NET_ADMIN and NET_RAW as root; istio-system/istio-sidecar-injector has no pilot.cni.enabled), which Pod "
        "Security restricted refuses in the Triton namespace, so no Triton pod would start: install Istio's CNI node "
        "agent (Helm chart istio/cni, or ambient mode) and set pilot.cni.enabled=true on istiod, or set "
        "mesh.install.enabled: true"
    )
    # Istio 1.22+ (pilot.cni.enabled) and the spelling older injectors still honour pass.
    run_program(local_stack(), ClusterMocks(reads={CONFIG_MAP: injector({"pilot": {"cni": {"enabled": True}}})}))
    assert istio_injector_problems({"values": json.dumps({"istio_cni": {"enabled": True}})}) == []
    assert istio_injector_problems(None) != []


class ReadRecorder(ClusterMocks):
    """ClusterMocks that also notes the ID of every object read from the cluster."""

    def __init__(self, reads: dict[str, dict[str, Any]]) -> None:
        super().__init__(reads=reads)
        self.read_ids: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.resource_id:
            self.read_ids.append(args.resource_id)
        return super().new_resource(args)


def test_a_revision_only_istio_is_read_and_selected_by_its_revision():
    """A revision-only install (no default revision) has no istio-sidecar-injector ConfigMap and ignores
    istio-injection: mesh.revision reads that revision's injector and labels the namespace for it."""
    config = local_stack()
    mesh = json.loads(config["triton-platform:mesh"])
    config["triton-platform:mesh"] = json.dumps({**mesh, "revision": "1-22"})
    recorder = ReadRecorder(reads={CONFIG_MAP: injector({"pilot": {"cni": {"enabled": False}}})})
    with pytest.raises(pulumi.RunError) as caught:
        run_program(config, recorder)
    assert "istio-system/istio-sidecar-injector-1-22" in recorder.read_ids
    assert "(NET_ADMIN and NET_RAW as root; istio-system/istio-sidecar-injector-1-22 has no pilot.cni.enabled)" in (
        str(caught.value)
    )
    settings = load_settings(config, "Pulumi.local.yaml")
    assert mesh_server_args(settings)["namespace_labels"] == {"istio.io/rev": "1-22"}
    # Without a revision: the default revision's ConfigMap and label.
    default = load_settings(local_stack(), "Pulumi.local.yaml")
    assert mesh_server_args(default)["namespace_labels"] == {"istio-injection": "enabled"}
    recorder = ReadRecorder(reads={CONFIG_MAP: injector({"pilot": {"cni": {"enabled": True}}})})
    run_program(local_stack(), recorder)
    assert "istio-system/istio-sidecar-injector" in recorder.read_ids


def test_a_revision_is_refused_where_the_stack_installs_istio():
    mesh = {"enabled": True, "gateway": {"hosts": ["triton.example.com"]}}
    config = env("dev", triton=REPO, mesh={**mesh, "install": {"enabled": True}, "revision": "canary"})
    assert problems(config) == [
        "triton-platform:mesh.revision = 'canary': names a revision of the cluster's own Istio, but "
        "mesh.install.enabled installs the default revision: remove mesh.revision, or set mesh.install.enabled: false"
    ]
    assert problems(env("dev", triton=REPO, mesh={**mesh, "revision": "1.22"})) == [
        "triton-platform:mesh.revision = '1.22': does not have the accepted form (regular expression "
        "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$)"
    ]


def test_a_keda_older_than_2_18_is_refused_where_the_stack_does_not_install_keda():
    with pytest.raises(pulumi.RunError) as caught:
        run_program(local_stack(), ClusterMocks(reads={CRD: keda_crd("2.16.1")}))
    assert str(caught.value) == (
        "The existing cluster does not meet what Pulumi.test.yaml needs (1 problem):\n"
        "  - triton-platform:modelGroups[1].autoscaling = 'set': the cluster's KEDA is 2.16.1 (app.kubernetes.io/version "
        "of CRD scaledobjects.keda.sh), but this stack's ScaledObjects use fallback with Value-type triggers, which "
        "KEDA accepts from 2.18: upgrade KEDA to 2.18 or newer (this platform pins 2.20.2: `helm upgrade keda "
        "kedacore/keda --namespace <its namespace> --version 2.20.2`), or remove autoscaling"
    )
    run_program(local_stack(), ClusterMocks(reads={CRD: keda_crd("2.18.0")}))


def test_an_unknown_keda_version_is_a_warning_naming_the_minimum():
    settings = load_settings(local_stack(), "Pulumi.local.yaml")
    warnings: list[str] = []
    assert keda_problems(keda_crd(None)["metadata"], settings, warnings.append) == []
    assert keda_problems(keda_crd("main")["metadata"], settings, warnings.append) == []
    assert warnings == [
        "The cluster's KEDA version is unknown (CRD scaledobjects.keda.sh has no app.kubernetes.io/version label); "
        "this stack's ScaledObjects need KEDA 2.18 or newer (fallback with Value-type triggers). Check the "
        "keda-operator image tag: `kubectl get deploy -A -l app.kubernetes.io/name=keda-operator -o "
        "jsonpath='{..image}'`",
        "The cluster's KEDA version is unknown (CRD scaledobjects.keda.sh has no app.kubernetes.io/version label, it "
        "says 'main'); this stack's ScaledObjects need KEDA 2.18 or newer (fallback with Value-type triggers). Check "
        "the keda-operator image tag: `kubectl get deploy -A -l app.kubernetes.io/name=keda-operator -o "
        "jsonpath='{..image}'`",
    ]


def test_nothing_in_the_cluster_is_declared_before_the_checks():
    render = render_stack(ROOT, "local")
    top = [r for r in render.resources if r["parent"].startswith("pulumi:pulumi:Stack") or r["parent"] == ""]
    reads = {
        "kubernetes:core/v1:ConfigMap::istio-sidecar-injector",
        "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition::keda-scaledobjects-crd",
    }
    assert top and all(
        reads <= set(r["dependsOn"]) for r in top if r["type"].startswith(("kubernetes:", "tritonplatform:"))
    ), top
