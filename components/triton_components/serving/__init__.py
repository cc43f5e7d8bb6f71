"""Serving: the Triton server, one Deployment/Service/PDB per model group, and its pod template."""

from .model_group_args import CanaryArgs, CredentialsSecretArgs, ModelGroupArgs, TritonModelGroupArgs
from .triton_model_group import TritonModelGroup
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
