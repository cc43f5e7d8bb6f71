"""The `make e2e` prerequisites (docs/development.md) state the Go release the toolchain's modules need."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_the_development_docs_name_the_go_release_every_toolchain_module_needs():
    directives = {
        path.parent.name: re.search(r"^go (\d+\.\d+(?:\.\d+)?)$", path.read_text(), re.MULTILINE).group(1)
        for path in (ROOT / ".ci" / "toolchain").glob("*/go.mod")
    }
    assert len(directives) >= 4, directives
    newest = max(directives.values(), key=_version)
    development = (ROOT / "docs" / "development.md").read_text()
    section = development[development.index("**Prerequisites of `make e2e`**") :]
    section = section[: section.index("\n\n")]
    assert f"Go {newest} or newer" in section and f"go >= {newest}" in section, (newest, section)
    assert re.search(r"about \d+ minutes on 2 (idle )?cores", section) and re.search(
        r"about \d+ GB of disk", section
    ), section
