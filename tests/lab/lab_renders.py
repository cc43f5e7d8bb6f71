"""Every committed stack rendered once per process, for fixtures and for parametrising at collection.

Not in conftest.py: test modules import from here, and ``import conftest`` would find whichever
conftest of the suite Python loaded first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

import harness
from triton_platform.review.render import StackRender, render_stack, stack_files


@functools.cache
def rendered_stacks() -> dict[str, StackRender]:
    """Every committed ``Pulumi.<stack>.yaml`` of the repository, rendered offline (discovered, not listed)."""
    stacks = stack_files(harness.ROOT)
    assert stacks, f"no Pulumi.<stack>.yaml in {harness.ROOT}"
    return {name: render_stack(harness.ROOT, name) for name in stacks}


def rendered_tritons() -> list[harness.RenderedTriton]:
    return [rt for render in rendered_stacks().values() for rt in harness.triton_deployments(render)]


def variant_render(stack: str, edit: Callable[[dict[str, Any]], None], label: str, where: Path) -> StackRender:
    """A committed stack rendered with its config changed by ``edit`` (e.g. another identity mode or
    scrape kind): the same program and render as the committed stack, one setting apart."""
    config = yaml.safe_load((harness.ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    edit(config)
    root = where / f"{stack}-{label}"
    root.mkdir(parents=True, exist_ok=True)
    for name in ("Pulumi.yaml", "stacks"):
        if not (root / name).exists():
            (root / name).symlink_to(harness.ROOT / name)
    (root / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    render = render_stack(root, stack)
    render.stack = f"{stack}+{label}"
    return render


def first_stack_with(section: str) -> str:
    """The first committed stack (by name) whose config has ``triton-platform:<section>``."""
    for stack, path in stack_files(harness.ROOT).items():
        if f"triton-platform:{section}" in (yaml.safe_load(path.read_text()).get("config") or {}):
            return stack
    raise AssertionError(f"no committed stack configures triton-platform:{section}")
