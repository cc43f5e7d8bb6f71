"""What an EKS cluster the stack looks up must offer, checked at ``pulumi preview`` before anything uses
it: the ``vpc-cni`` add-on's network-policy agent, when the stack says that add-on enforces NetworkPolicy."""

from __future__ import annotations

import json

import yaml

from ...config.base import Problem
from ...config.settings import PlatformSettings
from .settings import AwsSettings


def eks_network_policy_problems(
    configuration_values: str | None, settings: PlatformSettings, aws: AwsSettings
) -> list[Problem]:
    """Problems of the EKS ``vpc-cni`` add-on's configuration (JSON or YAML, as the add-on API returns it)."""
    try:
        values = yaml.safe_load(configuration_values or "") or {}
    except yaml.YAMLError:
        values = {}
    enabled = isinstance(values, dict) and str(values.get("enableNetworkPolicy", "")).lower() == "true"
    if enabled:
        return []
    name = aws.cluster.name
    setting = json.dumps({"enableNetworkPolicy": "true"})
    return [
        Problem(
            ("aws", "cluster", "networkPolicy"),
            "vpc-cni-addon",
            f"the vpc-cni add-on of EKS cluster {name} does not enforce NetworkPolicy (its configuration lacks "
            f'"enableNetworkPolicy": "true"), so the Triton namespace\'s ingress and egress policies would be ignored: '
            f"enable it with `aws eks update-addon --cluster-name {name} --addon-name vpc-cni --configuration-values "
            f"'{setting}'`, set aws.cluster.networkPolicy: self-managed if Calico, Cilium or a self-managed VPC CNI "
            "enforces it, or not-enforced outside prod",
        )
    ]
