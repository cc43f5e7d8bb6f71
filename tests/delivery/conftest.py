"""Delivery tests: model folders from ``corpus``; the lab's harness for the real Triton and emulators.

Tests that run real programs (Triton, moto, fake-gcs-server) are marked ``lab`` in their module.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "lab"))


@pytest.fixture(scope="session")
def harness():  # noqa: ANN201 - the lab's module
    import harness as lab_harness

    return lab_harness


@pytest.fixture(scope="session")
def emulators(harness, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """moto (S3) and fake-gcs-server on loopback, started on first use, stopped at the end."""
    storage = harness.Storage(tmp_path_factory.mktemp("delivery-storage"))
    try:
        yield storage
    finally:
        storage.stop()
