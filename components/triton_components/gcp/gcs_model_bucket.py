"""``GcsModelBucket``: the private, versioned model repository bucket Triton reads from."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random

from ..common.args import check_args, setting_value
from .gcs_model_bucket_args import GcsModelBucketArgs


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
        soft_delete = setting_value(args, GcsModelBucketArgs, "soft_delete_retention_days")
        super().__init__("tritonplatform:index:GcsModelBucket", name, None, opts)

        protect = setting_value(args, GcsModelBucketArgs, "protect")
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
                        "days_since_noncurrent_time": setting_value(
                            args, GcsModelBucketArgs, "noncurrent_version_retention_days"
                        ),
                        "with_state": "ARCHIVED",
                    },
                }
            ],
            force_destroy=False,
            labels={"app": "triton-platform", "purpose": "model-repository", **dict(args.get("labels", {}))},
            opts=guarded,
        )
        path = setting_value(args, GcsModelBucketArgs, "repository_path").strip("/")
        self.bucket_name = self.bucket.name
        self.repository_url = pulumi.Output.concat("gs://", self.bucket.name, "/" if path else "", path)
        self.register_outputs({"bucket_name": self.bucket_name, "repository_url": self.repository_url})
