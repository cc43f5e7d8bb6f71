"""Inputs of ``GcsModelBucket`` (``GcsModelBucketArgs``), their defaults and limits.

Apart from the component so the platform's config models read the same contract without loading
``pulumi_gcp``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, NotRequired, TypedDict

import pulumi

from ..common.args import Setting

#: A bucket name before the 9-character random suffix: GCS allows 63 characters in all.
NAME_PREFIX_PATTERN = r"[a-z0-9][a-z0-9-]{0,40}"
#: A folder inside the bucket, as Triton's ``--model-repository`` path takes it.
REPOSITORY_PATH_PATTERN = r"[A-Za-z0-9_./-]*"


class GcsModelBucketArgs(TypedDict):
    """Inputs of ``GcsModelBucket``."""

    name_prefix: Annotated[
        str,
        Setting(pattern=NAME_PREFIX_PATTERN, accepts="1-41 lowercase letters, digits or '-', starting alphanumeric"),
    ]
    """Bucket name before the random suffix (lowercase, digits, ``-``). Required."""
    location: pulumi.Input[str]
    """GCS location, e.g. ``US-CENTRAL1``. Required."""
    project: NotRequired[pulumi.Input[str]]
    """Project. Default: the provider's project."""
    repository_path: NotRequired[
        Annotated[
            str,
            Setting(
                "model_repository", pattern=REPOSITORY_PATH_PATTERN, accepts="a folder path (letters, digits, _ . / -)"
            ),
        ]
    ]
    """Folder of the Triton model repository inside the bucket. Default: ``"model_repository"``."""
    soft_delete_retention_days: NotRequired[Annotated[int, Setting(7, ge=7, le=90)]]
    """Days deleted objects stay recoverable (GCS allows 7 to 90; 0 would turn recovery off). Default: 7."""
    noncurrent_version_retention_days: NotRequired[Annotated[int, Setting(30, ge=1, le=3650)]]
    """Days an overwritten model version is kept before deletion. Default: 30."""
    protect: NotRequired[Annotated[bool, Setting(True)]]
    """Protect the bucket (and its name) from deletion and replacement, and retain it if removed
    from the program. Default: True."""
    labels: NotRequired[Mapping[str, str]]
    """Bucket labels. Default: none."""
