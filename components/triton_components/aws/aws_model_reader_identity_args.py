"""Inputs of ``AwsModelReaderIdentity`` (``AwsModelReaderIdentityArgs``), their defaults and limits, and
their validation.

Apart from the component so the platform's config models read the same contract without loading
``pulumi_aws``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, NotRequired, TypedDict

import pulumi

from ..common.args import Setting, setting_value
from . import catalog

MODES = ("irsa", "key")


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
    mode: NotRequired[Annotated[str, Setting("irsa")]]
    """``irsa`` (keyless) or ``key`` (an access key in a Secret). Default: ``irsa``."""
    kms_key_arn: NotRequired[
        Annotated[
            pulumi.Input[str] | None,
            Setting(None, pattern=catalog.KMS_KEY_ARN_PATTERN, accepts=catalog.KMS_KEY_ARN_ACCEPTS),
        ]
    ]
    """ARN of the customer-managed KMS key the bucket encrypts with (SSE-KMS); the reader may decrypt
    with it through S3 only. Default: none (SSE-S3 needs no KMS permission)."""


def validate_identity(args: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming the input, the bad value and what is accepted (the key ARN's form is its
    Setting)."""
    mode = setting_value(args, AwsModelReaderIdentityArgs, "mode")
    if mode not in MODES:
        raise ValueError(f"mode is {mode!r}; use one of {', '.join(MODES)}")
    if mode == "irsa" and not (args.get("oidc_provider_arn") and args.get("oidc_issuer")):
        raise ValueError("mode 'irsa' needs oidc_provider_arn and oidc_issuer of the cluster")
