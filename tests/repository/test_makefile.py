"""`make help` lists every target, from the `## ` comment on each rule line, so it cannot drift."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = (ROOT / "Makefile").read_text()
#: A rule line: `name: prerequisites ## help` (not `name := value`, not `$(VENV)/...` file rules).
RULE = re.compile(r"^(?P<target>[A-Za-z][\w-]*)\s*:(?!=)(?P<rest>.*)$", re.MULTILINE)


def targets() -> dict[str, str | None]:
    """Every named target and its help text (None when it has no `## ` comment)."""
    found = {}
    for match in RULE.finditer(MAKEFILE):
        _, sep, text = match["rest"].partition("## ")
        found[match["target"]] = text.strip() if sep else None
    return found


def test_every_target_has_a_help_line():
    found = targets()
    assert {"help", "install", "render", "test"} <= set(found)
    assert [name for name, text in found.items() if not text] == []


def test_every_target_is_phony_and_every_phony_is_a_target():
    phony = re.search(r"^\.PHONY:(.*)$", MAKEFILE, re.MULTILINE)
    assert phony is not None
    assert sorted(phony[1].split()) == sorted(targets())


@pytest.mark.parametrize("argv", [["make", "-s", "help"], ["make", "-s"]], ids=["make help", "make"])
def test_make_help_lists_every_target_with_its_help(argv):
    assert shutil.which("make"), "make is not installed: apt-get install -y make"
    listed = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True, timeout=60).stdout
    lines = {line.split(None, 1)[0]: line.split(None, 1)[1] for line in listed.splitlines() if line.startswith("  ")}
    assert lines == targets()
