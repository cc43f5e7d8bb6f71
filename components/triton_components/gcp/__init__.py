"""GCP components (GKE cluster and its Secrets key, GPU node pool, GCS model bucket, model-reader identity).

Exports load lazily (PEP 562): importing ``triton_components.gcp.catalog`` for validation never
imports ``pulumi_gcp``; touching ``GkeGpuNodePool`` does, and without the SDK it raises an
ImportError naming the extra to install (``pip install 'triton-platform[gcp]'``).
"""

from __future__ import annotations

from typing import Any

from ..common.lazy_exports import load_export

_EXPORTS = {
    "GkeCluster": "gke_cluster",
    "GkeClusterArgs": "gke_cluster",
    "GkeSecretsKey": "gke_secrets_key",
    "GkeSecretsKeyArgs": "gke_secrets_key",
    "GkeGpuNodePool": "gke_gpu_node_pool",
    "GkeGpuNodePoolArgs": "gke_gpu_node_pool",
    "GcsModelBucket": "gcs_model_bucket",
    "GcsModelBucketArgs": "gcs_model_bucket",
    "GcpModelReaderIdentity": "gcp_model_reader_identity",
    "GcpModelReaderIdentityArgs": "gcp_model_reader_identity",
}

__all__ = sorted(_EXPORTS)  # noqa: PLE0605 - the lazy exports, named once in _EXPORTS


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return load_export(__name__, _EXPORTS[name], name, sdk="pulumi_gcp", extra="gcp")
