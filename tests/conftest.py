"""Shared test helpers: run components or whole stacks under the same recording mocks as the render."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from triton_platform.review.render import StackRender, record

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def run() -> Callable[..., StackRender]:
    """``run(lambda: Component(...))`` records every resource the program asks for."""
    return record


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
