"""Reusable Pulumi components for running NVIDIA Triton Inference Server on Kubernetes.

Cloud-neutral components are importable from here. Cloud-specific ones live in
``triton_components.gcp`` and ``triton_components.aws`` and are imported only by the
programs that use them, so a GCP program never loads the AWS SDK and vice versa.
"""

from .triton_model_group import (
    CanaryArgs,
    CredentialsSecretArgs,
    ModelGroupArgs,
    TritonModelGroup,
    TritonModelGroupArgs,
)
from .triton_server import CredentialsFileArgs, TritonServer, TritonServerArgs

__all__ = [
    "CanaryArgs",
    "CredentialsFileArgs",
    "CredentialsSecretArgs",
    "ModelGroupArgs",
    "TritonModelGroup",
    "TritonModelGroupArgs",
    "TritonServer",
    "TritonServerArgs",
]
