"""Bad configuration caught by the issue-14 hardening rules: the exact messages a user reads."""

from __future__ import annotations

import pytest

from support.config import AWS, GCP, REPO, env, problems
from triton_platform.config import load_settings

KMS_KEY = "arn:aws:kms:{region}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_the_kms_key_must_live_in_the_buckets_region():
    key = KMS_KEY.format(region="eu-west-1")
    assert problems(env("dev", aws={**AWS, "modelBucket": {"kmsKeyArn": key}})) == [
        f"triton-platform:aws.modelBucket.kmsKeyArn = '{key}': the key is in eu-west-1 but the bucket is created "
        "in aws.region us-east-1; S3 encrypts only with a KMS key of the bucket's region: give a key from us-east-1"
    ]
    load_settings(env("dev", aws={**AWS, "modelBucket": {"kmsKeyArn": KMS_KEY.format(region="us-east-1")}}), "P.yaml")


def test_a_multi_region_kms_key_and_an_alias():
    """The stack file takes the key ARNs the reader identity takes: a multi-region key's id starts with mrk-;
    an alias is refused, as IAM policies name keys by key ARN."""
    key = "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab"
    load_settings(env("dev", aws={**AWS, "modelBucket": {"kmsKeyArn": key}}), "P.yaml")
    alias = "arn:aws:kms:us-east-1:123456789012:alias/models"
    assert problems(env("dev", aws={**AWS, "modelBucket": {"kmsKeyArn": alias}})) == [
        f"triton-platform:aws.modelBucket.kmsKeyArn = '{alias}': does not have the accepted form (regular expression "
        r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9A-Za-z-]+$)"
    ]


def test_mig_capacity_counts_the_instances_nvidia_allows_per_profile():
    """H100 1g.20gb gives 4 instances per GPU (NVIDIA MIG user guide), not 7 // 1."""
    pool = {
        "machineType": "a3-highgpu-1g",
        "acceleratorType": "nvidia-h100-80gb",
        "maxNodes": 1,
        "gpuSharing": {"strategy": "mig", "migPartitionSize": "1g.20gb"},
    }
    assert problems(env("dev", gcp={**GCP, "gpuPool": pool}, modelGroups=[{"name": "a", "replicas": 5}])) == [
        "triton-platform:gcp.gpuPool.maxNodes = 1: the model groups need 5 GPU(s) at their maximum replica counts but "
        "1 node(s) hold 4; raise maxNodes or lower replicas (or autoscaling.maxReplicas)"
    ]
    load_settings(env("dev", gcp={**GCP, "gpuPool": pool}, modelGroups=[{"name": "a", "replicas": 4}]), "P.yaml")


@pytest.mark.parametrize(
    ("accelerator", "gpu"),
    [
        ("nvidia-tesla-v100", "V100 (Volta, compute capability 7.0)"),
        ("nvidia-tesla-p100", "P100 (Pascal, compute capability 6.0)"),
        ("nvidia-tesla-p4", "P4 (Pascal, compute capability 6.1)"),
    ],
)
def test_gke_gpus_the_pinned_triton_cannot_use_are_refused(accelerator, gpu):
    config = env("dev", gcp={**GCP, "gpuPool": {"machineType": "n1-standard-8", "acceleratorType": accelerator}})
    assert problems(config) == [
        f"triton-platform:gcp.gpuPool.acceleratorType = '{accelerator}': is a {gpu}; Triton 26.10-py3 "
        "(triton.imageTag) supports compute capability 7.5 and newer (release notes: every release from 25.03): "
        "use nvidia-a100-80gb, nvidia-h100-80gb, nvidia-l4, nvidia-tesla-a100 or nvidia-tesla-t4"
    ]


def test_eks_gpus_the_pinned_triton_cannot_use_are_refused():
    config = env("dev", aws={**AWS, "gpuNodeGroup": {"minNodes": 1, "instanceTypes": ["p3.2xlarge"]}})
    assert problems(config) == [
        "triton-platform:aws.gpuNodeGroup.instanceTypes[0] = 'p3.2xlarge': has V100 GPUs (Volta, compute capability "
        "7.0); Triton 26.10-py3 (triton.imageTag) supports compute capability 7.5 and newer (release notes: every "
        "release from 25.03): use a type of the g4dn, g5, g6, g6e, p4d, p5 families"
    ]


def test_the_gpu_floor_follows_the_image_release():
    """An older (waived) release that still supported Volta accepts a V100; a canary on a newer release does not."""
    pool = {"gpuPool": {"machineType": "n1-standard-8", "acceleratorType": "nvidia-tesla-v100"}}
    old = {"imageTag": "24.01-py3", "allowVulnerableImage": True}
    load_settings(env("dev", gcp={**GCP, **pool}, triton=old), "P.yaml")
    found = problems(
        env(
            "dev",
            gcp={**GCP, **pool},
            triton=old,
            mesh={"enabled": True, "gateway": {"hosts": ["*"]}},
            modelGroups=[{"name": "a", "canary": {"imageTag": "25.08-py3"}}],
        )
    )
    assert found == [
        "triton-platform:gcp.gpuPool.acceleratorType = 'nvidia-tesla-v100': is a V100 (Volta, compute capability 7.0); "
        "Triton 25.08-py3 (modelGroups[0].canary.imageTag) supports compute capability 7.5 and newer (release notes: "
        "every release from 25.03): use nvidia-a100-80gb, nvidia-h100-80gb, nvidia-l4, nvidia-tesla-a100 or "
        "nvidia-tesla-t4"
    ]


def test_sidecar_resources_are_quantities():
    mesh = {"enabled": True, "gateway": {"hosts": ["*"]}, "sidecar": {"cpu": "half", "memory": "lots"}}
    assert problems(env("dev", triton={"modelRepository": "gs://models/repo"}, mesh=mesh)) == [
        "triton-platform:mesh.sidecar.cpu = 'half': 'half' is not a CPU quantity; use cores (e.g. 4 or 1.5) or "
        "millicores (e.g. 500m)",
        "triton-platform:mesh.sidecar.memory = 'lots': 'lots' is not a memory quantity; use a number with Ki, Mi, Gi "
        "or Ti (e.g. 16Gi)",
    ]


def test_private_https_endpoints_are_private_cidrs():
    triton = {
        "modelRepository": "gs://models/repo",
        "egress": {"privateHttpsCidrs": ["10.0.12.0/24", "10.1.0.0/33", "169.254.169.254/32"]},
    }
    assert problems(env("dev", triton=triton)) == [
        "triton-platform:triton.egress.privateHttpsCidrs[1] = '10.1.0.0/33': is not a CIDR; give an address range such "
        "as 10.0.12.0/24",
        "triton-platform:triton.egress.privateHttpsCidrs[2] = '169.254.169.254/32': overlaps the link-local range "
        "169.254.0.0/16 (metadata servers); list only the private addresses of your storage or token API endpoints",
    ]


@pytest.mark.parametrize(
    ("replicas", "message"),
    [
        (0, "triton-platform:mesh.install.istiodReplicas = 0: Input should be greater than or equal to 1"),
        (6, "triton-platform:mesh.install.istiodReplicas = 6: Input should be less than or equal to 5"),
        (True, "triton-platform:mesh.install.istiodReplicas = true: Input should be a valid integer"),
    ],
)
def test_istiod_replicas_out_of_range_or_not_a_count(replicas, message):
    mesh = {
        "enabled": True,
        "gateway": {"hosts": ["triton.example.com"]},
        "install": {"enabled": True, "istiodReplicas": replicas},
    }
    assert problems(env("dev", triton=REPO, mesh=mesh)) == [message]


def test_network_policy_names_what_it_accepts():
    gcp = {**GCP, "cluster": {**GCP["cluster"], "networkPolicy": "off"}}
    assert problems(env("dev", gcp=gcp)) == [
        "triton-platform:gcp.cluster.networkPolicy = 'off': Input should be 'enforced' or 'not-enforced'"
    ]


def test_a_chart_folder_without_istios_charts_is_refused(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "Chart.yaml").write_text("name: base\n")
    mesh = {
        "enabled": True,
        "gateway": {"hosts": ["triton.example.com"]},
        "install": {"enabled": True, "chartFolder": str(tmp_path)},
    }
    assert problems(env("dev", triton=REPO, mesh=mesh)) == [
        f"triton-platform:mesh.install.chartFolder = '{tmp_path}': has no istio-control/istio-discovery/Chart.yaml, "
        "istio-cni/Chart.yaml, gateway/Chart.yaml: use the manifests/charts folder of Istio's source tree (relative "
        "to the project folder), or remove the key to install from the chart repository"
    ]
