"""Shared test helpers: run components or whole stacks under the same recording mocks as the render."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from triton_platform.render import StackRender, record

ROOT = Path(__file__).resolve().parents[1]


def one(render: StackRender, type_: str, name: str | None = None) -> dict[str, Any]:
    """The single recorded resource of a type (and name); fails loudly otherwise."""
    found = render.find(type_, name)
    assert len(found) == 1, f"expected one {type_} {name or ''}, found {[r['name'] for r in found]}"
    return found[0]


def inputs(render: StackRender, type_: str, name: str | None = None) -> dict[str, Any]:
    return one(render, type_, name)["inputs"]


@pytest.fixture
def run() -> Callable[..., StackRender]:
    """``run(lambda: Component(...))`` records every resource the program asks for."""
    return record


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
