"""What a stack assumes of a cluster it does not create is checked, or acknowledged by name.

* A looked-up GKE cluster must have Workload Identity (the GPU node pool runs the GKE metadata
  server) and must enforce NetworkPolicy (Dataplane V2 or Calico): checked against the cluster the
  program looks up, before anything is created.
* On EKS the VPC CNI add-on must enforce NetworkPolicy (checked), or the stack names what does.
* An EKS node group at minNodes 0 never grows without an autoscaler: the stack says it has one.
* GKE image streaming needs the Container File System API: the stack enables it.
"""

from __future__ import annotations

import contextvars
from pathlib import Path
from typing import Any

import pulumi
import pytest

from config_helpers import AWS, GCP, REPO, env, problems
from triton_platform.config import load_settings
from triton_platform.environment import build_environment
from triton_platform.render import RenderMocks, TrackingMonitor, mock_runtime, render_stack

ROOT = Path(__file__).resolve().parents[1]




class ClusterMocks(RenderMocks):
    """The render's mocks, with the looked-up cluster (or add-on) replaced by what a test gives."""

    def __init__(self, **answers: dict[str, Any]) -> None:
        self.answers = answers

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        answer = super().call(args)
        return {**answer, **self.answers.get(args.token, {})}


def run_program(config: dict, mocks: pulumi.runtime.Mocks) -> None:
    settings = load_settings(config, "Pulumi.test.yaml")

    def run() -> None:
        with mock_runtime(TrackingMonitor(mocks), "test", {}, []):
            pulumi.runtime.test(lambda: build_environment(settings))()

    contextvars.Context().run(run)


GET_CLUSTER = "gcp:container/getCluster:getCluster"
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
        "  - triton-platform:gcp.cluster.networkPolicy = 'enforced': GKE cluster ml enforces no NetworkPolicy (neither "
        "Dataplane V2 nor Calico), so the Triton namespace's ingress and egress policies would be ignored: enable "
        "Calico with `gcloud container clusters update ml --location=us-central1 "
        "--update-addons=NetworkPolicy=ENABLED` and then `--enable-network-policy` (node pools are recreated), use a "
        "Dataplane V2 cluster, or set gcp.cluster.networkPolicy: not-enforced outside prod"
    )


def test_calico_enforcement_passes_and_unenforced_policy_can_be_accepted_outside_prod():
    calico = {"datapathProvider": "LEGACY_DATAPATH", "networkPolicies": [{"enabled": True, "provider": "CALICO"}]}
    run_program(env("dev", gcp=GCP), ClusterMocks(**{GET_CLUSTER: calico}))
    bare = {"datapathProvider": "LEGACY_DATAPATH", "networkPolicies": []}
    run_program(env("dev", gcp={**GCP, "cluster": {**GCP["cluster"], "networkPolicy": "not-enforced"}}),
                ClusterMocks(**{GET_CLUSTER: bare}))


def test_an_eks_vpc_cni_addon_without_network_policy_is_refused():
    with pytest.raises(pulumi.RunError) as caught:
        run_program(env("dev", aws=AWS), ClusterMocks(**{GET_ADDON: {"configurationValues": '{"env": {}}'}}))
    assert str(caught.value) == (
        "The existing cluster does not meet what Pulumi.test.yaml needs (1 problem):\n"
        "  - triton-platform:aws.cluster.networkPolicy = 'vpc-cni-addon': the vpc-cni add-on of EKS cluster ml does "
        "not enforce NetworkPolicy (its configuration lacks \"enableNetworkPolicy\": \"true\"), so the Triton "
        "namespace's ingress and egress policies would be ignored: enable it with `aws eks update-addon "
        "--cluster-name ml --addon-name vpc-cni --configuration-values '{\"enableNetworkPolicy\": \"true\"}'`, set "
        "aws.cluster.networkPolicy: self-managed if Calico, Cilium or a self-managed VPC CNI enforces it, or "
        "not-enforced outside prod"
    )
    run_program(env("dev", aws={**AWS, "cluster": {"name": "ml", "networkPolicy": "self-managed"}}),
                ClusterMocks(**{GET_ADDON: {"configurationValues": ""}}))


def test_unenforced_network_policy_is_refused_in_prod():
    groups = [{"name": "a", "replicas": 2}]
    assert problems(env("prod", gcp={**GCP, "gpuPool": {"maxNodes": 2},
                                     "cluster": {**GCP["cluster"], "networkPolicy": "not-enforced"}},
                        modelGroups=groups)) == [
        "triton-platform:gcp.cluster.networkPolicy = 'not-enforced': is not allowed in prod: the Triton namespace's "
        "ingress and egress isolation depends on it; use enforced"
    ]
    assert problems(env("prod", aws={**AWS, "cluster": {"name": "ml", "networkPolicy": "not-enforced"}},
                        modelGroups=groups)) == [
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
    load_settings(env("dev", aws={**AWS, "gpuNodeGroup": {"minNodes": 0},
                                  "cluster": {"name": "ml", "autoscaler": "cluster-autoscaler"}}), "P.yaml")


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_image_streaming_enables_the_container_file_system_api_first(stack):
    render = render_stack(ROOT, stack)
    [api] = [r for r in render.find("gcp:projects/service:Service")
             if r["inputs"]["service"] == "containerfilesystem.googleapis.com"]
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
