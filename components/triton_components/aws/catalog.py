"""GPUs per EC2 instance type for the GPU families EKS runs Triton on, and the NVIDIA AMI types of
EKS managed node groups, as data (no SDK import): config validation reads them too.

Source: the EC2 accelerated-computing instance tables (G4dn, G5, G6, G6e, P3, P4d, P5).
"""

from __future__ import annotations

import re

_FAMILIES = {
    "g4dn": {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1, "12xlarge": 4, "metal": 8},
    "g5": {
        "xlarge": 1,
        "2xlarge": 1,
        "4xlarge": 1,
        "8xlarge": 1,
        "16xlarge": 1,
        "12xlarge": 4,
        "24xlarge": 4,
        "48xlarge": 8,
    },
    "g6": {
        "xlarge": 1,
        "2xlarge": 1,
        "4xlarge": 1,
        "8xlarge": 1,
        "16xlarge": 1,
        "12xlarge": 4,
        "24xlarge": 4,
        "48xlarge": 8,
    },
    "g6e": {
        "xlarge": 1,
        "2xlarge": 1,
        "4xlarge": 1,
        "8xlarge": 1,
        "16xlarge": 1,
        "12xlarge": 4,
        "24xlarge": 4,
        "48xlarge": 8,
    },
    "p3": {"2xlarge": 1, "8xlarge": 4, "16xlarge": 8},
    "p4d": {"24xlarge": 8},
    "p5": {"48xlarge": 8},
}
_TYPE = re.compile(r"^([a-z0-9]+)\.([a-z0-9]+)$")
GPU_FAMILIES = tuple(_FAMILIES)

#: family -> (GPU, architecture, CUDA compute capability), from the EC2 accelerated-computing tables
#: and NVIDIA's CUDA GPUs table. Compared with the Triton release's floor.
GPUS: dict[str, tuple[str, str, tuple[int, int]]] = {
    "g4dn": ("T4", "Turing", (7, 5)),
    "g5": ("A10G", "Ampere", (8, 6)),
    "g6": ("L4", "Ada Lovelace", (8, 9)),
    "g6e": ("L40S", "Ada Lovelace", (8, 9)),
    "p3": ("V100", "Volta", (7, 0)),
    "p4d": ("A100", "Ampere", (8, 0)),
    "p5": ("H100", "Hopper", (9, 0)),
}


def family_of(instance_type: str) -> str | None:
    """``g5`` for ``g5.xlarge``; None for a malformed type."""
    match = _TYPE.match(instance_type)
    return match.group(1) if match else None


def gpus_of(instance_type: str) -> int | None:
    """GPUs of an instance type, or None if it has none (or is not a known GPU type)."""
    match = _TYPE.match(instance_type)
    if not match:
        return None
    family, size = match.groups()
    return _FAMILIES.get(family, {}).get(size)


#: EKS managed node group AMI types with NVIDIA drivers.
NVIDIA_AMI_TYPES = ("AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA")
#: AMI types whose nodes run NVIDIA's device plugin on the host (Bottlerocket's ``*-nvidia`` variants);
#: the EKS-optimized AL2023 NVIDIA AMI ships the driver and container toolkit, not the plugin.
AMI_TYPES_WITH_DEVICE_PLUGIN = ("BOTTLEROCKET_x86_64_NVIDIA",)
#: Bottlerocket boots from a small OS volume and keeps container images and pod storage on a second one.
BOTTLEROCKET_AMI_TYPES = ("BOTTLEROCKET_x86_64_NVIDIA",)
#: ``arn:<partition>:kms:<region>:<account>:key/<key id>`` (the whole value): IAM policies name keys by
#: key ARN, never by alias; a multi-region key's id starts with ``mrk-``.
KMS_KEY_ARN_PATTERN = r"arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9A-Za-z-]+"
KMS_KEY_ARN_ACCEPTS = (
    "the key's ARN, arn:aws:kms:<region>:<account>:key/<key id> (not an alias: IAM policies name keys by key ARN)"
)
