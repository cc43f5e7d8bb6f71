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
