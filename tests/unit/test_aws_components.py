"""AWS components: what they ask AWS for (IMDSv2, hardened bucket, scoped IRSA, secret keys)."""

from __future__ import annotations

import json

import pytest

from support.render import inputs, one
from triton_components.aws import AwsModelReaderIdentity, EksGpuNodeGroup, S3ModelBucket


def _group(**overrides):
    args = {"cluster_name": "ml", "subnet_ids": ["subnet-0a1b2c3d"], "group_label": "triton-test-gpu", **overrides}
    created = {}

    def program():
        created["group"] = EksGpuNodeGroup("gpu", args)

    return program, created


def test_node_group_uses_nvidia_ami_imdsv2_and_only_node_policies(run):
    program, created = _group(instance_types=["g5.12xlarge"], spot=True)
    render = run(program)
    group = inputs(render, "aws:eks/nodeGroup:NodeGroup")
    assert group["amiType"] == "AL2023_x86_64_NVIDIA" and group["capacityType"] == "SPOT"
    template = inputs(render, "aws:ec2/launchTemplate:LaunchTemplate")
    assert template["metadataOptions"]["httpTokens"] == "required"
    assert template["metadataOptions"]["httpPutResponseHopLimit"] == 1
    assert template["blockDeviceMappings"][0]["ebs"]["encrypted"] == "true"
    policies = sorted(
        r["inputs"]["policyArn"].rsplit("/", 1)[-1]
        for r in render.find("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    )
    assert policies == ["AmazonEC2ContainerRegistryReadOnly", "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy"]
    assert created["group"].allocatable_gpus_per_node == 4
    taints = [(t["key"], t["value"]) for t in group["taints"]]
    assert [(t["key"], t["value"]) for t in created["group"].tolerations] == taints
    plugin = inputs(render, "kubernetes:helm.sh/v3:Release")
    assert plugin["chart"] == "nvidia-device-plugin" and plugin["version"]


def _volumes(render) -> dict[str, dict]:
    template = inputs(render, "aws:ec2/launchTemplate:LaunchTemplate")
    return {m["deviceName"]: m["ebs"] for m in template["blockDeviceMappings"]}


def test_al2023_sizes_its_root_volume_and_gets_the_device_plugin_chart(run):
    program, _ = _group(disk_size_gb=300)
    render = run(program)
    assert _volumes(render) == {
        "/dev/xvda": {"volumeSize": 300, "volumeType": "gp3", "encrypted": "true", "deleteOnTermination": "true"}
    }
    assert [r["inputs"]["chart"] for r in render.find("kubernetes:helm.sh/v3:Release")] == ["nvidia-device-plugin"]


def test_bottlerocket_sizes_its_data_volume_and_keeps_its_own_device_plugin(run):
    """Bottlerocket boots from a small OS volume (/dev/xvda) and keeps container images and pod storage on
    a second one (/dev/xvdb): the Triton image and model cache need the size there. Its NVIDIA variants
    run NVIDIA's device plugin on the host; a second plugin for nvidia.com/gpu must not be installed."""
    program, created = _group(ami_type="BOTTLEROCKET_x86_64_NVIDIA", disk_size_gb=300)
    render = run(program)
    volumes = _volumes(render)
    assert volumes["/dev/xvdb"] == {
        "volumeSize": 300,
        "volumeType": "gp3",
        "encrypted": "true",
        "deleteOnTermination": "true",
    }
    # The OS volume keeps the AMI's size, encrypted like the data volume.
    assert volumes["/dev/xvda"] == {"volumeType": "gp3", "encrypted": "true", "deleteOnTermination": "true"}
    assert inputs(render, "aws:eks/nodeGroup:NodeGroup")["amiType"] == "BOTTLEROCKET_x86_64_NVIDIA"
    assert render.find("kubernetes:helm.sh/v3:Release") == []
    assert created["group"].allocatable_gpus_per_node == 1


def test_the_device_plugin_chart_can_be_left_out_on_al2023(run):
    program, _ = _group(install_device_plugin=False)
    assert run(program).find("kubernetes:helm.sh/v3:Release") == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"ami_type": "BOTTLEROCKET_x86_64_NVIDIA", "install_device_plugin": True},
            "install_device_plugin is True, but BOTTLEROCKET_x86_64_NVIDIA nodes run NVIDIA's device plugin "
            "themselves; a second plugin for nvidia.com/gpu would fight it: leave install_device_plugin unset or False",
        ),
        ({"instance_types": ["m5.large"]}, "m5.large have no GPUs"),
        ({"instance_types": ["g5.xlarge", "g5.12xlarge"]}, "mix GPU counts"),
        ({"ami_type": "AL2023_x86_64_STANDARD"}, "use an NVIDIA AMI type"),
        ({"min_nodes": 3, "max_nodes": 1}, "above max_nodes"),
    ],
)
def test_node_group_rejects_unusable_input(run, overrides, message):
    program, _ = _group(**overrides)
    with pytest.raises(ValueError, match=message):
        run(program)


def test_s3_bucket_is_private_encrypted_versioned_tls_only_and_protected(run):
    render = run(lambda: S3ModelBucket("models", {"name_prefix": "acme"}))
    bucket = one(render, "aws:s3/bucket:Bucket")
    assert bucket["options"]["protect"] is True and bucket["options"]["retainOnDelete"] is True
    assert bucket["inputs"]["forceDestroy"] is False
    block = inputs(render, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(
        block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    assert inputs(render, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")["rule"] == {
        "objectOwnership": "BucketOwnerEnforced"
    }
    sse = inputs(render, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    assert inputs(render, "aws:s3/bucketVersioning:BucketVersioning")["versioningConfiguration"] == {
        "status": "Enabled"
    }
    policy = json.loads(inputs(render, "aws:s3/bucketPolicy:BucketPolicy")["policy"])
    assert policy["Statement"][0]["Effect"] == "Deny"
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    lifecycle = inputs(render, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert lifecycle["rules"][0]["noncurrentVersionExpiration"] == {"noncurrentDays": 30}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"name_prefix": "-acme"},
            "args.name_prefix is '-acme'; give 1-41 lowercase letters, digits or '-', starting alphanumeric",
        ),
        (
            {"noncurrent_version_retention_days": 0},
            "args.noncurrent_version_retention_days is 0; give a number from 1 to 3650",
        ),
        (
            {"kms_key_arn": "alias/models"},
            "args.kms_key_arn is 'alias/models'; give the key's ARN, arn:aws:kms:<region>:<account>:key/<key id> (not an "
            "alias: IAM policies name keys by key ARN)",
        ),
    ],
)
def test_s3_bucket_rejects_what_s3_would_refuse(run, overrides, message):
    with pytest.raises(ValueError) as caught:  # noqa: PT011 - the whole message is asserted below
        run(lambda: S3ModelBucket("models", {"name_prefix": "acme", **overrides}))
    assert str(caught.value) == f"S3ModelBucket 'models': {message}"


def test_s3_bucket_uses_kms_when_given(run):
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    render = run(lambda: S3ModelBucket("models", {"name_prefix": "acme", "kms_key_arn": key}))
    sse = inputs(render, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key}


def _identity(mode, **extra):
    created = {}

    def program():
        created["identity"] = AwsModelReaderIdentity(
            "reader",
            {
                "name": "triton-test-reader",
                "bucket_arn": "arn:aws:s3:::models-1234",
                "namespace": "triton",
                "service_account_name": "triton",
                "mode": mode,
                **extra,
            },
        )

    return program, created


OIDC = {
    "oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC",
    "oidc_issuer": "https://oidc.eks.us-east-1.amazonaws.com/id/ABC",
}


def test_irsa_trust_is_scoped_to_one_service_account_and_policy_is_read_only(run):
    program, created = _identity("irsa", **OIDC)
    render = run(program)
    trust = json.loads(inputs(render, "aws:iam/role:Role")["assumeRolePolicy"])["Statement"][0]
    assert trust["Condition"]["StringEquals"] == {
        "oidc.eks.us-east-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com",
        "oidc.eks.us-east-1.amazonaws.com/id/ABC:sub": "system:serviceaccount:triton:triton",
    }
    statements = json.loads(inputs(render, "aws:iam/rolePolicy:RolePolicy")["policy"])["Statement"]
    assert {(tuple(s["Action"]), s["Resource"]) for s in statements} == {
        (("s3:GetBucketLocation", "s3:ListBucket"), "arn:aws:s3:::models-1234"),
        (("s3:GetObject",), "arn:aws:s3:::models-1234/*"),
    }
    assert created["identity"].credentials_file is None
    assert not render.find("aws:iam/accessKey:AccessKey")


def test_key_mode_keeps_the_secret_access_key_secret(run):
    program, created = _identity("key")
    render = run(program)
    assert "secret" in one(render, "aws:iam/accessKey:AccessKey")["options"]["additionalSecretOutputs"]
    assert created["identity"].credentials_file["env_var"] == "AWS_SHARED_CREDENTIALS_FILE"
    assert "mock-secret-access-key" not in repr(render.resources)


def test_irsa_needs_the_clusters_oidc_provider(run):
    program, _ = _identity("irsa")
    with pytest.raises(ValueError, match="needs oidc_provider_arn and oidc_issuer"):
        run(program)


KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.parametrize("mode", ["irsa", "key"])
def test_reader_may_decrypt_with_the_buckets_kms_key_only_through_s3(run, mode):
    """SSE-KMS objects come back only if the reader may kms:Decrypt with the bucket's key: on that key
    alone, and only when S3 in the bucket's region asks on its behalf (kms:ViaService)."""
    program, _ = _identity(mode, kms_key_arn=KMS_KEY, **(OIDC if mode == "irsa" else {}))
    policy_type = "aws:iam/rolePolicy:RolePolicy" if mode == "irsa" else "aws:iam/userPolicy:UserPolicy"
    statements = json.loads(inputs(run(program), policy_type)["policy"])["Statement"]
    kms = [s for s in statements if any(a.startswith("kms:") for a in s["Action"])]
    assert kms == [
        {
            "Sid": "DecryptModelsThroughS3",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": KMS_KEY,
            "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
        }
    ]


def test_reader_without_kms_key_gets_no_kms_permission(run):
    program, _ = _identity("irsa", **OIDC)
    policy = inputs(run(program), "aws:iam/rolePolicy:RolePolicy")["policy"]
    assert "kms:" not in policy


def test_reader_rejects_a_kms_key_that_is_not_a_key_arn(run):
    program, _ = _identity("irsa", kms_key_arn="alias/models", **OIDC)
    with pytest.raises(ValueError) as caught:  # noqa: PT011 - the whole message is asserted below
        run(program)
    assert str(caught.value).endswith(
        ": args.kms_key_arn is 'alias/models'; give the key's ARN, arn:aws:kms:<region>:<account>:key/<key id> "
        "(not an alias: IAM policies name keys by key ARN)"
    )


def test_a_multi_region_kms_key_is_a_key_arn(run):
    key = "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab"
    program, _ = _identity("irsa", kms_key_arn=key, **OIDC)
    assert key in inputs(run(program), "aws:iam/rolePolicy:RolePolicy")["policy"]


def test_the_aws_layer_hands_the_buckets_kms_key_to_the_reader(run):
    from triton_platform.config import load_settings
    from triton_platform.environment import build_environment

    settings = load_settings(
        {
            "triton-platform:environment": "dev",
            "triton-platform:aws": {
                "region": "us-east-1",
                "cluster": {"name": "ml"},
                "gpuNodeGroup": {"minNodes": 1},
                "modelBucket": {"kmsKeyArn": KMS_KEY},
            },
        },
        "Pulumi.test.yaml",
    )
    render = run(lambda: build_environment(settings))
    statements = json.loads(inputs(render, "aws:iam/rolePolicy:RolePolicy")["policy"])["Statement"]
    assert [s["Resource"] for s in statements if s["Action"] == ["kms:Decrypt"]] == [KMS_KEY]
