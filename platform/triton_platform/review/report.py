"""Short human summaries of a render, printed by the CLI."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from . import reaction_time
from .render import StackRender


def summary(render: StackRender, target: Path) -> str:
    kinds = Counter(obj["kind"] for obj in render.manifests)
    protected = [
        f"{r['type'].rsplit(':', 1)[-1]} {r['name']}"
        for r in render.resources
        if r["custom"] and r["options"].get("protect")
    ]
    lines = [
        f"{render.stack}: {len(render.resources)} resources, {len(render.manifests)} Kubernetes objects -> {target}",
        "  objects: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())),
    ]
    if protected:
        lines.append("  protected: " + ", ".join(protected))
    lines += reaction_time.report_lines(render.manifests)
    return "\n".join(lines)
