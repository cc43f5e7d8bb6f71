"""Inputs of ``GkeSecretsKey`` (``GkeSecretsKeyArgs``), their defaults and limits.

Apart from the component so whatever describes the args reads them without loading ``pulumi_gcp``.
"""

from __future__ import annotations

from typing import Annotated, NotRequired, TypedDict

from ..common.args import Setting

#: CIS GKE Benchmark 5.3.1 asks for a rotation every 90 days or more often.
DEFAULT_ROTATION_DAYS = 90
#: A key ring name before its 9-character random suffix.
NAME_PREFIX_PATTERN = r"[a-z][-a-z0-9]{0,50}"


class GkeSecretsKeyArgs(TypedDict):
    """Inputs of ``GkeSecretsKey``."""

    project: str
    """Project of the key ring and of the cluster (its GKE service agent is granted). Required."""
    location: str
    """Cloud KMS location: the cluster's region (GKE uses only a key of its own location). Required."""
    name_prefix: Annotated[
        str,
        Setting(pattern=NAME_PREFIX_PATTERN, accepts="1-51 lowercase letters, digits or '-', starting with a letter"),
    ]
    """Key ring name before a random suffix (key rings can never be deleted, so a stack created
    again needs a new name). Required."""
    rotation_days: NotRequired[Annotated[int, Setting(DEFAULT_ROTATION_DAYS, ge=1, le=365)]]
    """Days between automatic key rotations (1 to 365; CIS asks for 90 or fewer). Default: 90."""
