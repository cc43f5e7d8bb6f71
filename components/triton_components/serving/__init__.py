"""Serving: the Triton server, one Deployment/Service/PDB per model group, its pod template and the
egress policy of its namespace."""

from .model_group_args import CanaryArgs, CredentialsSecretArgs, ModelGroupArgs, TritonModelGroupArgs
from .triton_egress_policy import TritonEgressPolicy
from .triton_egress_policy_args import NodeEndpointArgs, TritonEgressPolicyArgs
from .triton_model_group import TritonModelGroup
from .triton_server import TritonServer
from .triton_server_args import CredentialsFileArgs, TritonServerArgs

__all__ = [
    "CanaryArgs",
    "CredentialsFileArgs",
    "CredentialsSecretArgs",
    "ModelGroupArgs",
    "NodeEndpointArgs",
    "TritonEgressPolicy",
    "TritonEgressPolicyArgs",
    "TritonModelGroup",
    "TritonModelGroupArgs",
    "TritonServer",
    "TritonServerArgs",
]
