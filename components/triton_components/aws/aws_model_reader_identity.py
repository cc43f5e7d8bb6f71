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
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from ..common.args import check_args

IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
MODES = ("irsa", "key")
CREDENTIALS_FILE_NAME = "credentials"
#: ``arn:<partition>:kms:<region>:<account>:key/<id>``; S3 needs the key in the bucket's region.
_KMS_KEY_ARN = re.compile(r"^arn:(aws[a-z-]*):kms:([a-z0-9-]+):[0-9]{12}:key/[0-9A-Za-z-]+$")


class AwsModelReaderIdentityArgs(TypedDict):
    """Inputs of ``AwsModelReaderIdentity``."""

    name: str
    """IAM role (or user) name. Required."""
    bucket_arn: pulumi.Input[str]
    """The model bucket; the only resource readable. Required."""
    namespace: str
    """Kubernetes namespace of Triton's ServiceAccount. Required."""
    service_account_name: str
    """Kubernetes ServiceAccount Triton runs as. Required."""
    oidc_provider_arn: NotRequired[pulumi.Input[str]]
    """The cluster's IAM OIDC provider ARN. Required for ``irsa``."""
    oidc_issuer: NotRequired[pulumi.Input[str]]
    """The cluster's OIDC issuer URL (with or without ``https://``). Required for ``irsa``."""
    mode: NotRequired[str]
    """``irsa`` (keyless) or ``key`` (an access key in a Secret). Default: ``irsa``."""
    kms_key_arn: NotRequired[pulumi.Input[str] | None]
    """ARN of the customer-managed KMS key the bucket encrypts with (SSE-KMS); the reader may decrypt
    with it through S3 only. Default: none (SSE-S3 needs no KMS permission)."""


def _check_kms_key_arn(arn: str) -> re.Match[str]:
    match = _KMS_KEY_ARN.match(arn)
    if match is None:
        raise ValueError(
            f"kms_key_arn is {arn!r}; give the key's ARN, arn:aws:kms:<region>:<account>:key/<key id> "
            "(not an alias: IAM policies name keys by key ARN)"
        )
    return match


def kms_decrypt_statement(kms_key_arn: str) -> dict[str, Any]:
    """``kms:Decrypt`` on one key, only when S3 in the key's region calls KMS for the reader."""
    partition, region = _check_kms_key_arn(kms_key_arn).groups()
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
        mode = args.get("mode", "irsa")
        if mode not in MODES:
            raise ValueError(f"mode is {mode!r}; use one of {', '.join(MODES)}")
        if mode == "irsa" and not (args.get("oidc_provider_arn") and args.get("oidc_issuer")):
            raise ValueError("mode 'irsa' needs oidc_provider_arn and oidc_issuer of the cluster")
        kms_key = args.get("kms_key_arn")
        if isinstance(kms_key, str):
            _check_kms_key_arn(kms_key)
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
