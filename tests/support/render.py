"""Helpers to read a recorded render: the single resource of a type, and its inputs."""

from __future__ import annotations

from typing import Any

from triton_platform.review.render import StackRender


def one(render: StackRender, type_: str, name: str | None = None) -> dict[str, Any]:
    """The single recorded resource of a type (and name); fails loudly otherwise."""
    found = render.find(type_, name)
    assert len(found) == 1, f"expected one {type_} {name or ''}, found {[r['name'] for r in found]}"
    return found[0]


def inputs(render: StackRender, type_: str, name: str | None = None) -> dict[str, Any]:
    return one(render, type_, name)["inputs"]


def sidecar_injected(render: StackRender, pod: dict[str, Any], namespace: str) -> bool:
    """Whether Istio's injector gives this pod template a sidecar: its namespace is labelled for injection
    and the pod does not opt out."""
    labels = next(
        (
            o["metadata"].get("labels", {})
            for o in render.manifests
            if o["kind"] == "Namespace" and o["metadata"]["name"] == namespace
        ),
        {},
    )
    annotations = pod["metadata"].get("annotations", {})
    return labels.get("istio-injection") == "enabled" and annotations.get("sidecar.istio.io/inject") != "false"
