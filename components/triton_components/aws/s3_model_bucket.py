"""``S3ModelBucket``: the private, encrypted, versioned model repository bucket Triton reads from."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from ..common.args import check_args, setting_value
from .s3_model_bucket_args import S3ModelBucketArgs


def tls_only_policy(bucket_arn: str) -> str:
    """A bucket policy denying every request that does not use TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": {"AWS": "*"},
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        },
        sort_keys=True,
    )


class S3ModelBucket(pulumi.ComponentResource):
    """S3 bucket with a unique name, all public access blocked, bucket-owner-enforced ownership,
    server-side encryption, versioning, a lifecycle rule for old versions and a TLS-only policy."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    repository_url: pulumi.Output[str]
    """``s3://<bucket>/<repository_path>``: Triton's ``--model-repository``."""

    def __init__(self, name: str, args: S3ModelBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_args(
            "S3ModelBucket", name, args, S3ModelBucketArgs
        )  # misspelt keys and wrong types, before anything else
        super().__init__("tritonplatform:index:S3ModelBucket", name, None, opts)
        protect = setting_value(args, S3ModelBucketArgs, "protect")
        child = pulumi.ResourceOptions(parent=self)
        guarded = pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=protect)

        suffix = random.RandomId(f"{name}-suffix", byte_length=4, opts=guarded)
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=pulumi.Output.concat(args["name_prefix"], "-", suffix.hex),
            force_destroy=False,
            tags={"app": "triton-platform", "purpose": "model-repository", **dict(args.get("tags", {}))},
            opts=guarded,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child
        )
        kms_key = args.get("kms_key_arn")
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": (
                        {"sse_algorithm": "aws:kms", "kms_master_key_id": kms_key}
                        if kms_key
                        else {"sse_algorithm": "AES256"}
                    ),
                    "bucket_key_enabled": bool(kms_key),
                }
            ],
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=child
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-old-model-versions",
                    "status": "Enabled",
                    "filter": {},
                    "noncurrent_version_expiration": {
                        "noncurrent_days": setting_value(args, S3ModelBucketArgs, "noncurrent_version_retention_days")
                    },
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
                }
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        aws.s3.BucketPolicy(f"{name}-tls-only", bucket=bucket.id, policy=bucket.arn.apply(tls_only_policy), opts=child)

        path = setting_value(args, S3ModelBucketArgs, "repository_path").strip("/")
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.repository_url = pulumi.Output.concat("s3://", bucket.bucket, "/" if path else "", path)
        self.register_outputs({"bucket_name": self.bucket_name, "repository_url": self.repository_url})
