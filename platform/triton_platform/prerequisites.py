"""What a stack needs of a cluster it looks up but does not create, checked against that cluster.

The program reads the cluster (GKE) or its network add-on (EKS) anyway; these checks turn a
silent assumption into a clear error at ``pulumi preview``, before anything is created, naming the
stack-file key, its value, and how to fix the cluster or what to set instead:

* GKE Workload Identity: the GPU node pool runs the GKE metadata server (``GKE_METADATA``), which GKE
  allows only on clusters with a workload pool; the keyless reader also needs it.
* NetworkPolicy enforcement (GKE Dataplane V2 or Calico; the EKS VPC CNI add-on's network-policy
  agent): without it the Triton namespace's ingress and egress policies are silently ignored. A
  stack may accept that by name outside prod (``cluster.networkPolicy: not-enforced``).

A failed check raises ``PrerequisiteError``, a ``RunError``: Pulumi prints the message, no traceback.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import pulumi
import yaml

from .config.base import Problem
from .config.loader import key_path
from .config.models import PlatformSettings

T = TypeVar("T")


class PrerequisiteError(pulumi.RunError):
    """A looked-up cluster lacks something the stack relies on."""

    def __init__(self, stack_file: str, problems: list[str]) -> None:
        self.stack_file = stack_file
        self.problems = problems
        count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
        lines = [f"The existing cluster does not meet what {stack_file} needs ({count}):", *(f"  - {p}" for p in problems)]
        super().__init__("\n".join(lines))


def verified(value: T, problems: list[Problem]) -> T:
    """``value`` unchanged, or ``PrerequisiteError`` listing the problems (for use inside ``apply``)."""
    if problems:
        raise PrerequisiteError(
            f"Pulumi.{pulumi.get_stack()}.yaml", [f"{key_path(p.path)} = {p.value!r}: {p.message}" for p in problems]
        )
    return value


def gke_cluster_problems(cluster: Any, settings: PlatformSettings) -> list[Problem]:
    """Problems of a looked-up GKE cluster (a ``GetClusterResult``)."""
    gcp = settings.gcp
    assert gcp is not None
    name, location, project = gcp.cluster.name, gcp.cluster.location, gcp.project
    problems: list[Problem] = []
    pool = f"{project}.svc.id.goog"
    pools = [c.workload_pool for c in (cluster.workload_identity_configs or [])]
    if pool not in pools:
        has = f"has workload pool {pools[0]}, not {pool}" if pools and pools[0] else "has no Workload Identity"
        problems.append(Problem(
            ("gcp", "cluster", "name"),
            name,
            f"GKE cluster {name} {has}, but the GPU node pool runs the GKE metadata server, which GKE allows only "
            f"with Workload Identity: enable it with `gcloud container clusters update {name} --location={location} "
            f"--workload-pool={pool}`, or set gcp.cluster.create: true",
        ))
    dataplane_v2 = cluster.datapath_provider == "ADVANCED_DATAPATH"
    calico = any(p.enabled for p in (cluster.network_policies or []))
    if gcp.cluster.network_policy == "enforced" and not (dataplane_v2 or calico):
        problems.append(Problem(
            ("gcp", "cluster", "networkPolicy"),
            "enforced",
            f"GKE cluster {name} enforces no NetworkPolicy (neither Dataplane V2 nor Calico), so the Triton "
            f"namespace's ingress and egress policies would be ignored: enable Calico with `gcloud container clusters "
            f"update {name} --location={location} --update-addons=NetworkPolicy=ENABLED` and then "
            "`--enable-network-policy` (node pools are recreated), use a Dataplane V2 cluster, or set "
            "gcp.cluster.networkPolicy: not-enforced outside prod",
        ))
    return problems


def eks_network_policy_problems(configuration_values: str | None, settings: PlatformSettings) -> list[Problem]:
    """Problems of the EKS ``vpc-cni`` add-on's configuration (JSON or YAML, as the add-on API returns it)."""
    aws = settings.aws
    assert aws is not None
    try:
        values = yaml.safe_load(configuration_values or "") or {}
    except yaml.YAMLError:
        values = {}
    enabled = isinstance(values, dict) and str(values.get("enableNetworkPolicy", "")).lower() == "true"
    if enabled:
        return []
    name = aws.cluster.name
    setting = json.dumps({"enableNetworkPolicy": "true"})
    return [Problem(
        ("aws", "cluster", "networkPolicy"),
        "vpc-cni-addon",
        f"the vpc-cni add-on of EKS cluster {name} does not enforce NetworkPolicy (its configuration lacks "
        f"\"enableNetworkPolicy\": \"true\"), so the Triton namespace's ingress and egress policies would be ignored: "
        f"enable it with `aws eks update-addon --cluster-name {name} --addon-name vpc-cni --configuration-values "
        f"'{setting}'`, set aws.cluster.networkPolicy: self-managed if Calico, Cilium or a self-managed VPC CNI "
        "enforces it, or not-enforced outside prod",
    )]
