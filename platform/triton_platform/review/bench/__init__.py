"""``triton-platform bench``: what the platform costs over the Pulumi SDK, measured in one run.

Four measurements (anchors and goals from ``reference/performance.md`` §6 M1-M4):

1. **Overhead vs the SDK floor**: the real stack program (``stacks/__main__.py``: config
   validation, composition, components) under the render's mocks, over floors that replay the very
   resources it declared under the same mocks (``floors.py``): bare ``CustomResource``s (the SDK's
   floor), the provider SDK classes called with plain values (the "raw SDK calls" a hand-written
   program makes), and the bare component tree. Goal <= 1.25.
2. **Scaling**: 1/10/50 model groups and 1/3/10 environments in one program; time growth beside
   the resource-count ratio and beside the bare floor's own growth (linear is the goal), resources
   per model group and per environment.
3. **Import and cold start**: ``import`` of the library in a fresh interpreter against
   ``import pulumi`` (goal: within 0.2 s), the first cloud's stack's ``triton-platform render`` end to end in a
   fresh process, and the provider SDKs each cloud's stack loads (no foreign cloud SDK).
4. **Install footprint**: installed size of ``triton-platform`` and of each cloud's extra from the
   installed distributions' RECORDs (goal: one cloud < 400 MB, without another cloud's SDK), and the disk
   size of the environment the bench runs in (the quickstart's ``.venv``, every extra included).

Timings are medians of repetitions interleaved in the same process, reported as ratios; they
never fail anything (the runner is noisy). Structural facts are asserted by tests instead
(``tests/stacks/test_structure.py``). ``--quick`` runs fewer repetitions and smaller sizes for CI logs.

The runner lives in the installed package so ``triton-platform bench`` works from any checkout
without path tricks; ``benchmarks/`` at the repository root holds the method notes and the
latest full results (``benchmarks/results.json``).
"""

from __future__ import annotations

import json
import os
import platform
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

#: Sizes and repetitions: (full, quick).
PLAN: dict[str, dict[str, Any]] = {
    "full": {"pairs": 15, "reps": 5, "groups": [1, 10, 50], "environments": [1, 3, 10], "imports": 7, "renders": 5},
    # Under a minute on a 2-core runner with the stacks of today; sizes grow the cost linearly.
    "quick": {"pairs": 5, "reps": 3, "groups": [1, 5], "environments": [1, 2], "imports": 3, "renders": 1},
}
RESULTS_FILE = Path("benchmarks") / "results.json"
#: Versions the results record; each registered cloud's provider SDK goes after pulumi-kubernetes.
_VERSIONS = (
    "pulumi",
    "pulumi-kubernetes",
    "pulumi-random",
    "pydantic",
    "grpcio",
    "protobuf",
)


def run(root: Path, quick: bool = False, json_path: Path | None = None) -> int:
    """Measure everything, print the table, write the JSON; return 0 (timings never fail)."""
    from . import construction, footprint, startup
    from .programs import StackConfig, benchmark_stack
    from .table import render_table, table

    plan = PLAN["quick" if quick else "full"]
    began = time.perf_counter()
    load = os.getloadavg()[0]
    base = StackConfig.load(root, benchmark_stack(root))
    mode = " --quick" if quick else ""
    print(f"triton-platform bench{mode}: stack {base.stack}, {os.cpu_count()} CPUs, load {load:.1f}", flush=True)
    results: dict[str, Any] = {}
    steps = (
        ("overhead", lambda: construction.overhead(root, base, plan["pairs"])),
        ("profile", lambda: construction.profile_shares(root, base, 1 if quick else 3)),
        ("scaling", lambda: construction.scaling(root, base, plan["groups"], plan["environments"], plan["reps"])),
        ("imports", lambda: startup.imports(plan["imports"])),
        ("cold_start", lambda: startup.cold_render(root, plan["renders"])),
        ("footprint", footprint.footprint),
        ("environment", footprint.environment),
    )
    for name, step in steps:
        start = time.perf_counter()
        results[name] = step()
        print(f"  {name}: {time.perf_counter() - start:.1f} s", flush=True)
    rows = table(results)
    print(render_table(rows))
    elapsed = time.perf_counter() - began
    print(f"bench finished in {elapsed:.1f} s")

    if json_path is None and not quick:
        json_path = root / RESULTS_FILE
    if json_path is not None:
        payload = {
            "generated": datetime.now(UTC).isoformat(timespec="seconds"),
            "quick": quick,
            "elapsed_s": round(elapsed, 1),
            "machine": {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "load_average_at_start": round(load, 2),
            },
            "versions": _versions(),
            "table": [row.__dict__ for row in rows],
            "results": results,
        }
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
        print(f"results -> {json_path}")
    return 0


def _versions() -> dict[str, str]:
    from ...clouds import registered

    versions = {}
    clouds = [cloud.sdk_distribution for cloud in registered() if cloud.sdk_distribution]
    for name in (*_VERSIONS[:2], *clouds, *_VERSIONS[2:]):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
