"""Lab fixtures: every committed stack rendered once, the Triton binary, storage emulators, a work dir.

Every test in this folder is marked ``lab``. A missing prerequisite fails with the command that
installs it (``harness.MissingPrerequisite``); nothing here skips.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Iterator

import pytest

import harness
from triton_platform.render import StackRender, render_stack, stack_files


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    lab_dir = Path(__file__).parent
    for item in items:
        if lab_dir in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.lab)


@functools.lru_cache(maxsize=None)
def rendered_stacks() -> dict[str, StackRender]:
    """Every committed ``Pulumi.<stack>.yaml`` of the repository, rendered offline (discovered, not listed)."""
    stacks = stack_files(harness.ROOT)
    assert stacks, f"no Pulumi.<stack>.yaml in {harness.ROOT}"
    return {name: render_stack(harness.ROOT, name) for name in stacks}


def rendered_tritons() -> list[harness.RenderedTriton]:
    return [rt for render in rendered_stacks().values() for rt in harness.triton_deployments(render)]


@pytest.fixture(scope="session")
def renders() -> dict[str, StackRender]:
    return rendered_stacks()


@pytest.fixture(scope="session")
def triton_install() -> harness.TritonInstall:
    return harness.triton_install()


@pytest.fixture(scope="session")
def lab_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lab")


@pytest.fixture(scope="session")
def storage(lab_dir: Path) -> Iterator[harness.Storage]:
    store = harness.Storage(lab_dir / "storage")
    try:
        yield store
    finally:
        store.stop()
