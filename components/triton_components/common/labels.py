"""Kubernetes recommended labels (``app.kubernetes.io/*``), built in one place.

Selectors use only labels that never change for the life of a Deployment (name, instance,
model group, track); version-like labels stay out of selectors because selectors are immutable.
"""

from __future__ import annotations

PART_OF = "triton-platform"
APP_NAME = "triton-inference-server"
MODEL_GROUP_LABEL = "triton-platform.io/model-group"
#: Istio's conventional label for traffic subsets; values are ``stable`` or ``canary``.
TRACK_LABEL = "version"


def selector_labels(instance: str, model_group: str | None = None, track: str | None = None) -> dict[str, str]:
    """Stable labels that identify the pods of one release, model group and track."""
    labels = {"app.kubernetes.io/name": APP_NAME, "app.kubernetes.io/instance": instance}
    if model_group is not None:
        labels[MODEL_GROUP_LABEL] = model_group
    if track is not None:
        labels[TRACK_LABEL] = track
    return labels


def recommended_labels(
    instance: str,
    component: str,
    *,
    model_group: str | None = None,
    track: str | None = None,
    version: str | None = None,
) -> dict[str, str]:
    """Selector labels plus the descriptive recommended labels."""
    labels = selector_labels(instance, model_group, track)
    labels["app.kubernetes.io/component"] = component
    labels["app.kubernetes.io/part-of"] = PART_OF
    labels["app.kubernetes.io/managed-by"] = "pulumi"
    if version is not None:
        labels["app.kubernetes.io/version"] = version
    return labels
