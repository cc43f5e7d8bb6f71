"""Names of the Kubernetes objects a model group owns, spelled in one place.

Routing, monitoring, autoscaling, alerts and the delivery commands all refer to these objects by
name; a second spelling anywhere would let one of them drift and silently select nothing.
"""

from __future__ import annotations

#: The track every group has; other tracks (``canary``) are named after it.
STABLE = "stable"
CANARY = "canary"


def group_object_name(group: str) -> str:
    """The group's Service, DestinationRule and monitor: ``triton-<group>``."""
    return f"triton-{group}"


def deployment_name(group: str, track: str = STABLE) -> str:
    """``triton-<group>`` for the stable track, ``triton-<group>-<track>`` for another."""
    return group_object_name(group) if track == STABLE else f"{group_object_name(group)}-{track}"


def service_host(group: str, namespace: str) -> str:
    """The cluster-local DNS name of the group's Service."""
    return f"{group_object_name(group)}.{namespace}.svc.cluster.local"


def scaled_object_name(group: str) -> str:
    """The ScaledObject is named like the Deployment it scales."""
    return deployment_name(group)


def hpa_name(group: str) -> str:
    """The HPA KEDA creates for the group (set explicitly, so alerts and dashboards can name it)."""
    return f"keda-hpa-{scaled_object_name(group)}"


#: Every group's HPA, as a PromQL regex.
HPA_NAME_REGEX = hpa_name(".*")


def pod_regex(group: str) -> str:
    """Pods of the group's Deployments (``triton-<group>-<hash>-<id>``, canary included), and no other group's."""
    return f"{deployment_name(group)}(-{CANARY})?-[a-z0-9]+-[a-z0-9]+"
