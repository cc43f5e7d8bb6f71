"""Kubernetes resource quantities as numbers, so sizes can be compared before anything is declared."""

from __future__ import annotations

import re

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}
_DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
_MEMORY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$")
_CPU = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m)?$")


def memory_bytes(quantity: str) -> int:
    """``"16Gi"`` -> 17179869184. Raises ValueError naming the accepted forms."""
    match = _MEMORY.match(str(quantity))
    if not match:
        raise ValueError(f"{quantity!r} is not a memory quantity; use a number with Ki, Mi, Gi or Ti (e.g. 16Gi)")
    number, suffix = match.groups()
    factor = _BINARY.get(suffix or "") or _DECIMAL[suffix or ""]
    return int(float(number) * factor)


def cpu_millicores(quantity: str) -> int:
    """``"500m"`` -> 500, ``"4"`` -> 4000."""
    match = _CPU.match(str(quantity))
    if not match:
        raise ValueError(f"{quantity!r} is not a CPU quantity; use cores (e.g. 4 or 1.5) or millicores (e.g. 500m)")
    number, milli = match.groups()
    return int(float(number) * (1 if milli else 1000))
