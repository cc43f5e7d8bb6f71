"""Every committed stack rendered once per process, for fixtures and for parametrising at collection.

Not in conftest.py: test modules import from here, and ``import conftest`` would find whichever
conftest of the suite Python loaded first.
"""

from __future__ import annotations

import functools

import harness
from triton_platform.render import StackRender, render_stack, stack_files


@functools.lru_cache(maxsize=None)
def rendered_stacks() -> dict[str, StackRender]:
    """Every committed ``Pulumi.<stack>.yaml`` of the repository, rendered offline (discovered, not listed)."""
    stacks = stack_files(harness.ROOT)
    assert stacks, f"no Pulumi.<stack>.yaml in {harness.ROOT}"
    return {name: render_stack(harness.ROOT, name) for name in stacks}


def rendered_tritons() -> list[harness.RenderedTriton]:
    return [rt for render in rendered_stacks().values() for rt in harness.triton_deployments(render)]
