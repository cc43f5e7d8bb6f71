"""What GKE accepts for GPU node pools and for the clusters a stack creates, as data (no cloud SDK import).

Sources: GKE "About GPUs" and Compute Engine GPU machine-type tables; MIG profiles from the
NVIDIA MIG user guide. Used by config validation and by ``GkeGpuNodePool`` so a combination
GKE would refuse fails before anything is declared.
"""

from __future__ import annotations

import re
from collections.abc import Callable

#: accelerator type -> (machine family, GPUs per node allowed on that family when the
#: machine type does not fix the count itself)
N1_ACCELERATORS = {
    "nvidia-tesla-t4": (1, 2, 4),
    "nvidia-tesla-v100": (1, 2, 4, 8),
    "nvidia-tesla-p100": (1, 2, 4),
    "nvidia-tesla-p4": (1, 2, 4),
}

#: machine-type pattern -> (accelerator type, GPUs fixed by the machine type)
_FIXED: list[tuple[re.Pattern[str], str, Callable[[re.Match[str]], int]]] = [
    (re.compile(r"^g2-standard-(4|8|12|16|32)$"), "nvidia-l4", lambda m: 1),
    (re.compile(r"^g2-standard-24$"), "nvidia-l4", lambda m: 2),
    (re.compile(r"^g2-standard-48$"), "nvidia-l4", lambda m: 4),
    (re.compile(r"^g2-standard-96$"), "nvidia-l4", lambda m: 8),
    (re.compile(r"^a2-highgpu-(1|2|4|8)g$"), "nvidia-tesla-a100", lambda m: int(m.group(1))),
    (re.compile(r"^a2-megagpu-16g$"), "nvidia-tesla-a100", lambda m: 16),
    (re.compile(r"^a2-ultragpu-(1|2|4|8)g$"), "nvidia-a100-80gb", lambda m: int(m.group(1))),
    (re.compile(r"^a3-highgpu-(1|2|4|8)g$"), "nvidia-h100-80gb", lambda m: int(m.group(1))),
]

#: GPUs with MIG, the partition sizes GKE accepts for each, and how many instances of that profile
#: one GPU holds. The counts are the "Number of Instances Available" column of NVIDIA's MIG user
#: guide, "Supported MIG Profiles" (A100-SXM4-40GB; the 80 GB A100 and the H100 80 GB share one
#: table with doubled memory sizes). The count is not 7 // compute slices: memory limits it too,
#: e.g. 1g.20gb takes a quarter of an 80 GB GPU's memory, so 4 fit.
MIG_PARTITIONS: dict[str, dict[str, int]] = {
    "nvidia-tesla-a100": {"1g.5gb": 7, "2g.10gb": 3, "3g.20gb": 2, "7g.40gb": 1},
    "nvidia-a100-80gb": {"1g.10gb": 7, "2g.20gb": 3, "3g.40gb": 2, "7g.80gb": 1},
    "nvidia-h100-80gb": {"1g.10gb": 7, "1g.20gb": 4, "2g.20gb": 3, "3g.40gb": 2, "4g.40gb": 1, "7g.80gb": 1},
}

ACCELERATORS = tuple(sorted(set(N1_ACCELERATORS) | {acc for _, acc, _ in _FIXED}))

#: accelerator type -> (GPU, architecture, CUDA compute capability), from NVIDIA's CUDA GPUs table.
#: Compared with the Triton release's floor (``versions.triton_compute_capability_floor``).
GPUS: dict[str, tuple[str, str, tuple[int, int]]] = {
    "nvidia-tesla-p4": ("P4", "Pascal", (6, 1)),
    "nvidia-tesla-p100": ("P100", "Pascal", (6, 0)),
    "nvidia-tesla-v100": ("V100", "Volta", (7, 0)),
    "nvidia-tesla-t4": ("T4", "Turing", (7, 5)),
    "nvidia-tesla-a100": ("A100 40GB", "Ampere", (8, 0)),
    "nvidia-a100-80gb": ("A100 80GB", "Ampere", (8, 0)),
    "nvidia-l4": ("L4", "Ada Lovelace", (8, 9)),
    "nvidia-h100-80gb": ("H100 80GB", "Hopper", (9, 0)),
}
TIME_SHARING_MAX_CLIENTS = 48


def accelerator_problem(machine_type: str, accelerator: str, count: int) -> str | None:
    """Why GKE would refuse ``count`` x ``accelerator`` on ``machine_type``, or None if it fits."""
    if accelerator not in ACCELERATORS:
        return f"accelerator {accelerator!r} is not one of {', '.join(ACCELERATORS)}"
    for pattern, fixed_accelerator, fixed_count in _FIXED:
        match = pattern.match(machine_type)
        if match:
            if accelerator != fixed_accelerator:
                return f"machine type {machine_type} comes with {fixed_accelerator}, not {accelerator}"
            if count != fixed_count(match):
                return f"machine type {machine_type} has exactly {fixed_count(match)} GPU(s), not {count}"
            return None
    if machine_type.startswith("n1-"):
        allowed = N1_ACCELERATORS.get(accelerator)
        if allowed is None:
            return f"{accelerator} is not offered on N1 machine types; use its own family (a2, a3 or g2)"
        if count not in allowed:
            return f"{accelerator} on N1 takes {', '.join(map(str, allowed))} GPU(s) per node, not {count}"
        return None
    return f"machine type {machine_type!r} takes no GPUs; use n1-*, g2-standard-*, a2-* or a3-highgpu-*"


def mig_instances_per_gpu(accelerator: str, mig_partition_size: str) -> int:
    """Instances of one MIG profile a GPU holds (``KeyError`` for a combination GKE does not offer)."""
    return MIG_PARTITIONS[accelerator][mig_partition_size]


def allocatable_gpus(
    count: int, mig_partition_size: str | None, max_shared_clients_per_gpu: int | None, accelerator: str | None = None
) -> int:
    """``nvidia.com/gpu`` a node offers to pods: MIG instances, time-shared clients, or whole GPUs.

    MIG needs ``accelerator``: how many instances fit depends on the GPU's profile table."""
    if mig_partition_size:
        if accelerator is None:
            raise ValueError("allocatable_gpus needs the accelerator type to count MIG instances")
        return count * mig_instances_per_gpu(accelerator, mig_partition_size)
    if max_shared_clients_per_gpu:
        return count * max_shared_clients_per_gpu
    return count


#: ``binary_authorization.evaluation_mode`` of a cluster: off, or every pod's image checked against the
#: project's Binary Authorization policy.
BINARY_AUTHORIZATION_MODES = ("DISABLED", "PROJECT_SINGLETON_POLICY_ENFORCE")
#: A Cloud KMS key's resource name, as GKE's ``database_encryption.key_name`` takes it (the whole value).
KMS_KEY_NAME_PATTERN = (
    r"projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/locations/[a-z0-9-]+/keyRings/[A-Za-z0-9_-]{1,63}"
    r"/cryptoKeys/[A-Za-z0-9_-]{1,63}"
)


def region_of(location: str) -> str:
    """The region of a GKE location: a zonal cluster's Cloud KMS key lives in its region."""
    return location if re.fullmatch(r"[a-z]+-[a-z]+[0-9]+", location) else location.rsplit("-", 1)[0]


def kms_key_location(key_name: str) -> str:
    """``projects/p/locations/<this>/keyRings/…`` -> the key's location."""
    return key_name.split("/")[3]
