"""``GcsModelBucket``: the private, versioned model repository bucket Triton reads from."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NotRequired, TypedDict

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random

from ..common.args import check_args


class GcsModelBucketArgs(TypedDict):
    """Inputs of ``GcsModelBucket``."""

    name_prefix: str
    """Bucket name before the random suffix (lowercase, digits, ``-``). Required."""
    location: pulumi.Input[str]
    """GCS location, e.g. ``US-CENTRAL1``. Required."""
    project: NotRequired[pulumi.Input[str]]
    """Project. Default: the provider's project."""
    repository_path: NotRequired[str]
    """Folder of the Triton model repository inside the bucket. Default: ``"model_repository"``."""
    soft_delete_retention_days: NotRequired[int]
    """Days deleted objects stay recoverable (7 to 90). Default: 7."""
    noncurrent_version_retention_days: NotRequired[int]
    """Days an overwritten model version is kept before deletion. Default: 30."""
    protect: NotRequired[bool]
    """Protect the bucket (and its name) from deletion and replacement, and retain it if removed
    from the program. Default: True."""
    labels: NotRequired[Mapping[str, str]]
    """Bucket labels. Default: none."""


_PREFIX = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")


class GcsModelBucket(pulumi.ComponentResource):
    """GCS bucket with a globally unique name, uniform access, public access prevention,
    versioning, soft delete and a lifecycle rule for old versions."""

    bucket_name: pulumi.Output[str]
    """The bucket's globally unique name."""
    repository_url: pulumi.Output[str]
    """``gs://<bucket>/<repository_path>``: Triton's ``--model-repository``."""
    bucket: gcp.storage.Bucket
    """The bucket itself, for IAM grants."""

    def __init__(self, name: str, args: GcsModelBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_args(
            "GcsModelBucket", name, args, GcsModelBucketArgs
        )  # misspelt keys and wrong types, before anything else
        prefix = args["name_prefix"]
        if not _PREFIX.match(prefix):
            raise ValueError(
                f"name_prefix {prefix!r} must be 1-41 lowercase letters, digits or '-', starting alphanumeric"
            )
        soft_delete = args.get("soft_delete_retention_days", 7)
        if not 7 <= soft_delete <= 90:
            raise ValueError(
                f"soft_delete_retention_days is {soft_delete}; use 7 to 90 (GCS never allows 1-6, 0 disables recovery)"
            )
        super().__init__("tritonplatform:index:GcsModelBucket", name, None, opts)

        protect = args.get("protect", True)
        # protect blocks delete and replace (the Pulumi engine refuses both); retain_on_delete keeps
        # the bucket and its models if the resource ever leaves the program.
        guarded = pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=protect)
        suffix = random.RandomId(f"{name}-suffix", byte_length=4, opts=guarded)
        self.bucket = gcp.storage.Bucket(
            f"{name}-bucket",
            name=pulumi.Output.concat(prefix, "-", suffix.hex),
            project=args.get("project"),
            location=args["location"],
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning={"enabled": True},
            soft_delete_policy={"retention_duration_seconds": soft_delete * 86400},
            lifecycle_rules=[
                {
                    "action": {"type": "Delete"},
                    "condition": {
                        "days_since_noncurrent_time": args.get("noncurrent_version_retention_days", 30),
                        "with_state": "ARCHIVED",
                    },
                }
            ],
            force_destroy=False,
            labels={"app": "triton-platform", "purpose": "model-repository", **dict(args.get("labels", {}))},
            opts=guarded,
        )
        path = args.get("repository_path", "model_repository").strip("/")
        self.bucket_name = self.bucket.name
        self.repository_url = pulumi.Output.concat("gs://", self.bucket.name, "/" if path else "", path)
        self.register_outputs({"bucket_name": self.bucket_name, "repository_url": self.repository_url})
