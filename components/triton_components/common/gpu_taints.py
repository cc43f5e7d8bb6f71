"""The taint contract between a GPU node pool and the Triton pods that run on it.

A pool declares its taints once, in Kubernetes form; the cloud API form and the pods'
tolerations are derived from that one list, so they can never disagree.
"""

from __future__ import annotations

from typing import Any

#: Keeps everything that does not ask for a GPU off GPU nodes.
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}

_CLOUD_EFFECTS = {"NoSchedule": "NO_SCHEDULE", "PreferNoSchedule": "PREFER_NO_SCHEDULE", "NoExecute": "NO_EXECUTE"}


def cloud_taints(taints: list[dict[str, str]]) -> list[dict[str, str]]:
    """The same taints as GKE node pools and EKS node groups spell them (``NO_SCHEDULE``)."""
    return [{**t, "effect": _CLOUD_EFFECTS[t["effect"]]} for t in taints]


def tolerations(taints: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Tolerations matching exactly these taints (key, value and effect)."""
    return [{"operator": "Equal", **t} for t in taints]
