"""AWS components (EKS GPU node group, S3 model bucket, model-reader identity).

Exports load lazily (PEP 562): importing ``triton_components.aws.catalog`` for validation never
imports ``pulumi_aws``; touching ``EksGpuNodeGroup`` does, and without the SDK it raises an
ImportError naming the extra to install (``pip install 'triton-platform[aws]'``).
"""

from __future__ import annotations

from typing import Any

from ..common.lazy_exports import load_export

_EXPORTS = {
    "EksGpuNodeGroup": "eks_gpu_node_group",
    "EksGpuNodeGroupArgs": "eks_gpu_node_group",
    "S3ModelBucket": "s3_model_bucket",
    "S3ModelBucketArgs": "s3_model_bucket",
    "AwsModelReaderIdentity": "aws_model_reader_identity",
    "AwsModelReaderIdentityArgs": "aws_model_reader_identity",
}

__all__ = sorted(_EXPORTS)  # noqa: PLE0605 - the lazy exports, named once in _EXPORTS


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return load_export(__name__, _EXPORTS[name], name, sdk="pulumi_aws", extra="aws")
