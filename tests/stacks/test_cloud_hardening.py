"""Cloud settings of the stacks as the composition declares them under the render's mocks: Bottlerocket
GPU nodes on EKS, and the GKE clusters a stack creates (webhook firewall, Secret encryption, Binary
Authorization). Each starts from a committed stack file and changes only the keys under test."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from typing import Any

import pytest

from support import ROOT
from support.render import inputs
from triton_platform.config import ConfigError, load_settings
from triton_platform.review.render import StackRender, record, stack_config

RELEASE = "kubernetes:helm.sh/v3:Release"


Config = tuple[dict[str, str], list[str]]


def _stack_with(stack: str, key: str, change: dict[str, Any]) -> Config:
    """The committed stack's config (and secret keys) with ``change`` merged one level deep into
    ``triton-platform:<key>``."""
    config, secret_keys = stack_config(ROOT / f"Pulumi.{stack}.yaml")
    section = json.loads(config[f"triton-platform:{key}"])
    for name, value in change.items():
        section[name] = {**section.get(name, {}), **value} if isinstance(value, dict) else value
    return {**config, f"triton-platform:{key}": json.dumps(section)}, secret_keys


def _committed(stack: str) -> Config:
    return stack_config(ROOT / f"Pulumi.{stack}.yaml")


def _render(config: Config, stack: str) -> StackRender:
    """The stack's real program under the render's mocks, with this config."""
    return record(lambda: runpy.run_path(str(ROOT / "stacks"), run_name="__main__"), stack, config[0], config[1])


def problems(config: Config) -> list[str]:
    """The problem lines a user reads for ``config``, which must be refused."""
    with pytest.raises(ConfigError) as caught:
        load_settings(config[0], "Pulumi.test.yaml", frozenset(config[1]))
    return caught.value.problems


def test_a_bottlerocket_node_group_gets_its_data_volume_sized_and_no_second_device_plugin():
    config = _stack_with(
        "dev-aws", "aws", {"gpuNodeGroup": {"amiType": "BOTTLEROCKET_x86_64_NVIDIA", "diskSizeGb": 400}}
    )
    render = _render(config, "dev-aws")
    template = inputs(render, "aws:ec2/launchTemplate:LaunchTemplate")
    volumes = {m["deviceName"]: m["ebs"] for m in template["blockDeviceMappings"]}
    assert volumes["/dev/xvdb"]["volumeSize"] == 400
    assert "volumeSize" not in volumes["/dev/xvda"]
    assert not [r for r in render.find(RELEASE) if r["inputs"]["chart"] == "nvidia-device-plugin"]


def test_the_committed_al2023_stack_keeps_the_device_plugin_chart():
    render = _render(_committed("dev-aws"), "dev-aws")
    assert [r for r in render.find(RELEASE) if r["inputs"]["chart"] == "nvidia-device-plugin"]


def test_a_second_device_plugin_on_bottlerocket_is_refused():
    config = _stack_with(
        "dev-aws", "aws", {"gpuNodeGroup": {"amiType": "BOTTLEROCKET_x86_64_NVIDIA", "installDevicePlugin": True}}
    )
    assert problems(config) == [
        "triton-platform:aws.gpuNodeGroup.installDevicePlugin = true: BOTTLEROCKET_x86_64_NVIDIA nodes run NVIDIA's "
        "device plugin themselves, and a second plugin for nvidia.com/gpu would fight it; remove the key"
    ]


CREATE = {"cluster": {"create": True, "masterAuthorizedNetworks": ["203.0.113.0/24"]}}


def _created(stack: str, cluster: dict[str, Any] | None = None) -> dict[str, str]:
    return _stack_with(stack, "gcp", {"cluster": {**CREATE["cluster"], **(cluster or {})}})


def test_a_created_prod_cluster_opens_the_webhook_ports_and_encrypts_secrets_with_kms():
    render = _render(_created("prod"), "prod")
    cluster = inputs(render, "gcp:container/cluster:Cluster")
    rule = inputs(render, "gcp:compute/firewall:Firewall")
    assert rule["sourceRanges"] == [cluster["privateClusterConfig"]["masterIpv4CidrBlock"]]
    assert rule["allows"] == [{"protocol": "tcp", "ports": ["15017", "9443", "6443"]}]
    key = inputs(render, "gcp:kms/cryptoKey:CryptoKey")
    assert cluster["databaseEncryption"] == {
        "state": "ENCRYPTED",
        "keyName": f"{key['keyRing']}/cryptoKeys/{key['name']}",
    }
    assert cluster["binaryAuthorization"] == {"evaluationMode": "DISABLED"}
    apis = sorted(r["inputs"]["service"] for r in render.find("gcp:projects/service:Service"))
    assert "cloudkms.googleapis.com" in apis and "binaryauthorization.googleapis.com" not in apis
    # prod protects what it creates: the cluster, and the key that decrypts its Secrets.
    for type_ in ("gcp:container/cluster:Cluster", "gcp:kms/cryptoKey:CryptoKey", "gcp:kms/keyRing:KeyRing"):
        assert render.find(type_)[0]["options"].get("protect") is True, type_


def test_binary_authorization_enforcement_enables_its_api_first():
    render = _render(_created("staging", {"binaryAuthorization": "PROJECT_SINGLETON_POLICY_ENFORCE"}), "staging")
    assert inputs(render, "gcp:container/cluster:Cluster")["binaryAuthorization"] == {
        "evaluationMode": "PROJECT_SINGLETON_POLICY_ENFORCE"
    }
    api = [
        r
        for r in render.find("gcp:projects/service:Service")
        if r["inputs"]["service"] == "binaryauthorization.googleapis.com"
    ]
    assert len(api) == 1
    # The cluster's component waits for the API; its children register only after it.
    assert (
        f"gcp:projects/service:Service::{api[0]['name']}"
        in render.find("tritonplatform:index:GkeCluster")[0]["dependsOn"]
    )


def test_a_key_given_by_name_is_used_and_no_key_ring_is_created():
    key = "projects/acme-security/locations/us-central1/keyRings/gke/cryptoKeys/ml-staging"
    render = _render(_created("staging", {"secretEncryption": {"kmsKeyName": key}}), "staging")
    assert inputs(render, "gcp:container/cluster:Cluster")["databaseEncryption"] == {
        "state": "ENCRYPTED",
        "keyName": key,
    }
    assert not render.find("gcp:kms/keyRing:KeyRing")
    assert "cloudkms.googleapis.com" not in [
        r["inputs"]["service"] for r in render.find("gcp:projects/service:Service")
    ]


def test_the_committed_stacks_use_existing_clusters_and_declare_none_of_this():
    for stack in ("dev", "staging", "prod"):
        render = _render(_committed(stack), stack)
        assert not render.find("gcp:compute/firewall:Firewall") and not render.find("gcp:kms/keyRing:KeyRing")


def test_prod_refuses_plaintext_secrets_on_a_cluster_it_creates():
    assert problems(_created("prod", {"secretEncryption": {"enabled": False}})) == [
        "triton-platform:gcp.cluster.secretEncryption.enabled = false: prod clusters encrypt Secrets with a Cloud KMS "
        "key (CIS GKE Benchmark 5.3.1); remove the key"
    ]
    # Outside prod it is an option, asked for by name.
    _render(_created("staging", {"secretEncryption": {"enabled": False}}), "staging")


def test_a_key_from_another_region_is_refused():
    key = "projects/acme-security/locations/europe-west4/keyRings/gke/cryptoKeys/ml"
    assert problems(_created("staging", {"secretEncryption": {"kmsKeyName": key}})) == [
        f"triton-platform:gcp.cluster.secretEncryption.kmsKeyName = '{key}': the key is in europe-west4, but GKE "
        "encrypts the Secrets of a cluster in us-central1 only with a key of us-central1: give a key from us-central1"
    ]


def test_a_key_with_encryption_off_is_refused():
    key = "projects/acme-security/locations/us-central1/keyRings/gke/cryptoKeys/ml"
    assert problems(_created("staging", {"secretEncryption": {"kmsKeyName": key, "enabled": False}})) == [
        f"triton-platform:gcp.cluster.secretEncryption.kmsKeyName = '{key}': names a key, but "
        "secretEncryption.enabled is false; remove one of the two"
    ]


def test_cluster_settings_on_a_cluster_the_stack_does_not_create_are_refused():
    config = _stack_with(
        "staging",
        "gcp",
        {"cluster": {"binaryAuthorization": "PROJECT_SINGLETON_POLICY_ENFORCE", "secretEncryption": {"enabled": True}}},
    )
    assert problems(config) == [
        f"triton-platform:gcp.cluster.{key} = {shown}: applies to a cluster this stack creates (gcp.cluster.create: "
        "true); an existing cluster keeps its own setting: remove the key"
        for key, shown in (
            ("secretEncryption", '{"enabled": true}'),
            ("binaryAuthorization", "'PROJECT_SINGLETON_POLICY_ENFORCE'"),
        )
    ]


def test_stack_validation_needs_no_cloud_sdk():
    """Config validation reads the clouds' catalogs only: a GCP-only install validates and renders
    without pulumi_aws, and an AWS-only one without pulumi_gcp."""
    code = (
        "import sys\nsys.modules['pulumi_aws'] = None\nsys.modules['pulumi_gcp'] = None\n"
        "from pathlib import Path\nfrom triton_platform.review.render import stack_files, validate_stack\n"
        f"root = Path({str(ROOT)!r})\n"
        "for stack in sorted(stack_files(root)):\n    validate_stack(root, stack)\nprint('validated')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "validated"
