"""Bad configuration caught by the issue-14 hardening rules: the exact messages a user reads."""

from __future__ import annotations

import pytest

from triton_platform.config import ConfigError, load_settings

GCP = {"project": "acme-ml-dev", "region": "us-central1", "cluster": {"name": "ml", "location": "us-central1"}}
AWS = {"region": "us-east-1", "cluster": {"name": "ml"}, "gpuNodeGroup": {"minNodes": 1}}
KMS_KEY = "arn:aws:kms:{region}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def problems(config: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(config, "Pulumi.test.yaml")
    return caught.value.problems


def env(name: str, **keys) -> dict:
    return {"triton-platform:environment": name, **{f"triton-platform:{k}": v for k, v in keys.items()}}


def test_the_kms_key_must_live_in_the_buckets_region():
    key = KMS_KEY.format(region="eu-west-1")
    assert problems(env("dev", aws={**AWS, "modelBucket": {"kmsKeyArn": key}})) == [
        f"triton-platform:aws.modelBucket.kmsKeyArn = '{key}': the key is in eu-west-1 but the bucket is created "
        "in aws.region us-east-1; S3 encrypts only with a KMS key of the bucket's region: give a key from us-east-1"
    ]
    load_settings(env("dev", aws={**AWS, "modelBucket": {"kmsKeyArn": KMS_KEY.format(region="us-east-1")}}), "P.yaml")
