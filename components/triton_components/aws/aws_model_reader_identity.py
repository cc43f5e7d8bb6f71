"""``AwsModelReaderIdentity``: the AWS identity Triton reads the model bucket with.

Read-only on the one bucket (``s3:GetObject`` on its objects, ``s3:ListBucket`` and
``s3:GetBucketLocation`` on the bucket; no wildcard action or resource), reached keylessly
through IRSA (default) or through an access key in a credentials file. A bucket encrypted with a
customer-managed KMS key also needs ``kms:Decrypt`` on that key, or S3 refuses to return its
objects: granted on that key only, and only when S3 in the key's region calls KMS on the
reader's behalf (``kms:ViaService``), so the identity cannot decrypt anything with it directly.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pulumi_aws as aws

from ..common.args import check_args, setting_value
from . import catalog
from .aws_model_reader_identity_args import AwsModelReaderIdentityArgs, validate_identity

IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
CREDENTIALS_FILE_NAME = "credentials"


def _kms_key_partition_and_region(arn: str) -> tuple[str, str]:
    """S3 needs the key in the bucket's region: the ARN's partition and region, for the decrypt condition."""
    if re.fullmatch(catalog.KMS_KEY_ARN_PATTERN, arn) is None:
        raise ValueError(f"kms_key_arn is {arn!r}; give {catalog.KMS_KEY_ARN_ACCEPTS}")
    _, partition, _, region, *_ = arn.split(":")
    return partition, region


def kms_decrypt_statement(kms_key_arn: str) -> dict[str, Any]:
    """``kms:Decrypt`` on one key, only when S3 in the key's region calls KMS for the reader."""
    partition, region = _kms_key_partition_and_region(kms_key_arn)
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return {
        "Sid": "DecryptModelsThroughS3",
        "Effect": "Allow",
        "Action": ["kms:Decrypt"],
        "Resource": kms_key_arn,
        "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.{suffix}"}},
    }


def read_only_policy(bucket_arn: str, kms_key_arn: str | None = None) -> str:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ListModelBucket",
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
            "Resource": bucket_arn,
        },
        {"Sid": "ReadModels", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"{bucket_arn}/*"},
    ]
    if kms_key_arn:
        statements.append(kms_decrypt_statement(kms_key_arn))
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def irsa_trust_policy(provider_arn: str, issuer: str, namespace: str, service_account: str) -> str:
    host = issuer.removeprefix("https://")
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    # Exactly one ServiceAccount in one namespace, and only tokens minted for STS.
                    "Condition": {
                        "StringEquals": {
                            f"{host}:aud": "sts.amazonaws.com",
                            f"{host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                        }
                    },
                }
            ],
        },
        sort_keys=True,
    )


class AwsModelReaderIdentity(pulumi.ComponentResource):
    service_account_annotations: dict[str, pulumi.Output[str]]
    """Annotations for Triton's Kubernetes ServiceAccount (IRSA); empty in key mode."""
    credentials_file: dict[str, Any] | None
    """``CredentialsFileArgs`` for ``TritonServer`` in key mode (content stays secret); None otherwise."""
    principal_arn: pulumi.Output[str]
    """The IAM role or user ARN."""

    def __init__(self, name: str, args: AwsModelReaderIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_args(
            "AwsModelReaderIdentity", name, args, AwsModelReaderIdentityArgs
        )  # misspelt keys and wrong types, before anything else
        validate_identity(args)  # before anything is registered: nothing is half-created
        mode = setting_value(args, AwsModelReaderIdentityArgs, "mode")
        kms_key = args.get("kms_key_arn")
        super().__init__("tritonplatform:index:AwsModelReaderIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        policy = pulumi.Output.all(args["bucket_arn"], kms_key).apply(lambda v: read_only_policy(v[0], v[1]))
        self.service_account_annotations = {}
        self.credentials_file = None

        if mode == "irsa":
            role = aws.iam.Role(
                f"{name}-role",
                name=args["name"],
                description="Triton model repository reader (IRSA, read-only, one bucket)",
                assume_role_policy=pulumi.Output.all(args["oidc_provider_arn"], args["oidc_issuer"]).apply(
                    lambda v: irsa_trust_policy(v[0], v[1], args["namespace"], args["service_account_name"])
                ),
                opts=child,
            )
            aws.iam.RolePolicy(f"{name}-read-models", role=role.id, policy=policy, opts=child)
            self.service_account_annotations = {IRSA_ANNOTATION: role.arn}
            self.principal_arn = role.arn
        else:
            user = aws.iam.User(f"{name}-user", name=args["name"], opts=child)
            aws.iam.UserPolicy(f"{name}-read-models", user=user.name, policy=policy, opts=child)
            key = aws.iam.AccessKey(
                f"{name}-key",
                user=user.name,
                opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["secret"]),
            )
            content: pulumi.Output[str] = pulumi.Output.secret(
                pulumi.Output.all(key.id, key.secret).apply(
                    lambda v: f"[default]\naws_access_key_id = {v[0]}\naws_secret_access_key = {v[1]}\n"
                )
            )
            self.credentials_file = {
                "content": content,
                "file_name": CREDENTIALS_FILE_NAME,
                "env_var": "AWS_SHARED_CREDENTIALS_FILE",
            }
            self.principal_arn = user.arn
        self.register_outputs({"principal_arn": self.principal_arn})
