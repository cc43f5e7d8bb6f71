"""Inputs of ``S3ModelBucket`` (``S3ModelBucketArgs``), their defaults and limits.

Apart from the component so the platform's config models read the same contract without loading
``pulumi_aws``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, NotRequired, TypedDict

import pulumi

from ..common.args import Setting
from . import catalog

#: A bucket name before the 9-character random suffix: S3 allows 63 characters in all.
NAME_PREFIX_PATTERN = r"[a-z0-9][a-z0-9-]{0,40}"
#: A folder inside the bucket, as Triton's ``--model-repository`` path takes it.
REPOSITORY_PATH_PATTERN = r"[A-Za-z0-9_./-]*"


class S3ModelBucketArgs(TypedDict):
    """Inputs of ``S3ModelBucket``."""

    name_prefix: Annotated[
        str,
        Setting(pattern=NAME_PREFIX_PATTERN, accepts="1-41 lowercase letters, digits or '-', starting alphanumeric"),
    ]
    """Bucket name before the random suffix (lowercase, digits, ``-``). Required."""
    repository_path: NotRequired[
        Annotated[
            str,
            Setting(
                "model_repository", pattern=REPOSITORY_PATH_PATTERN, accepts="a folder path (letters, digits, _ . / -)"
            ),
        ]
    ]
    """Folder of the Triton model repository inside the bucket. Default: ``"model_repository"``."""
    kms_key_arn: NotRequired[
        Annotated[
            pulumi.Input[str] | None,
            Setting(None, pattern=catalog.KMS_KEY_ARN_PATTERN, accepts=catalog.KMS_KEY_ARN_ACCEPTS),
        ]
    ]
    """Customer-managed KMS key for SSE-KMS. Default: none (SSE-S3, AES256)."""
    noncurrent_version_retention_days: NotRequired[Annotated[int, Setting(30, ge=1, le=3650)]]
    """Days an overwritten model version is kept. Default: 30."""
    protect: NotRequired[Annotated[bool, Setting(True)]]
    """Protect the bucket from deletion and replacement and retain it if removed. Default: True."""
    tags: NotRequired[Mapping[str, str]]
    """Bucket tags. Default: none."""
