"""Lab fixtures: every committed stack rendered once, the Triton binary, storage emulators, a work dir.

Every test in this folder is marked ``lab``. A missing prerequisite fails with the command that
installs it (``support.lab.processes.MissingPrerequisite``); nothing here skips.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.lab.emulators import Storage
from support.lab.renders import rendered_stacks
from support.lab.triton import TritonInstall
from support.lab.triton import triton_install as find_triton_install
from triton_platform.review.render import StackRender


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    lab_dir = Path(__file__).parent
    for item in items:
        if lab_dir in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.lab)


@pytest.fixture(scope="session")
def renders() -> dict[str, StackRender]:
    return rendered_stacks()


@pytest.fixture(scope="session")
def triton_install() -> TritonInstall:
    return find_triton_install()


@pytest.fixture(scope="session")
def lab_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lab")


@pytest.fixture(scope="session")
def storage(lab_dir: Path) -> Iterator[Storage]:
    store = Storage(lab_dir / "storage")
    try:
        yield store
    finally:
        store.stop()
