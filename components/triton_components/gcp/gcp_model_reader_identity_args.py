"""Inputs of ``GcpModelReaderIdentity`` (``GcpModelReaderIdentityArgs``), their defaults and limits, and
their validation.

Apart from the component so the platform's config models read the same contract without loading
``pulumi_gcp``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, NotRequired, TypedDict

import pulumi

from ..common.args import Setting, setting_value

MODES = ("workload-identity", "key")
#: A service account id, as IAM takes it.
ACCOUNT_ID_PATTERN = r"[a-z][a-z0-9-]{4,28}[a-z0-9]"


class GcpModelReaderIdentityArgs(TypedDict):
    """Inputs of ``GcpModelReaderIdentity``."""

    account_id: Annotated[
        str,
        Setting(pattern=ACCOUNT_ID_PATTERN, accepts="6-30 lowercase letters, digits or '-', starting with a letter"),
    ]
    """Service account id (6-30 characters). Required."""
    project: str
    """Project of the service account and the Workload Identity pool. Required."""
    bucket_name: pulumi.Input[str]
    """The model bucket; the only resource the account can read. Required."""
    namespace: str
    """Kubernetes namespace of Triton's ServiceAccount. Required."""
    service_account_name: str
    """Kubernetes ServiceAccount Triton runs as. Required."""
    mode: NotRequired[Annotated[str, Setting("workload-identity")]]
    """``workload-identity`` (keyless) or ``key`` (a key file in a Secret). Default: ``workload-identity``."""


def validate_identity(args: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming the input, the bad value and what is accepted (the account id's form is
    its Setting)."""
    mode = setting_value(args, GcpModelReaderIdentityArgs, "mode")
    if mode not in MODES:
        raise ValueError(f"mode is {mode!r}; use one of {', '.join(MODES)}")
