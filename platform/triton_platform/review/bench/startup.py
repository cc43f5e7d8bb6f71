"""M3: import cost and cold start, each in a fresh interpreter, and which cloud SDKs got loaded."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ...clouds import registered
from .harness import median
from .programs import CLOUDS, stacks_for_cloud

#: The provider SDK of each cloud, and what a stack of each cloud must never load: the other built-in
#: cloud's SDK (``foreign_sdk_loaded`` counts every other cloud's).
SDKS = {cloud.key: cloud.sdk_module for cloud in registered() if cloud.sdk_module}
FOREIGN_SDK = {cloud: sdk for cloud in SDKS for other, sdk in SDKS.items() if other != cloud}
IMPORT_TARGETS = ("pulumi", "triton_components", "triton_platform.environment")
_MARK = "TRITON-BENCH-PROBE "

# Runs in the child: the probe's result is one marked JSON line after whatever the code printed.
_PROBE = """
import json, resource, sys, time
start, start_cpu = time.perf_counter(), time.process_time()
{code}
elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
print({mark!r} + json.dumps({{
    "seconds": cpu,
    "wall_seconds": elapsed,
    "modules": len(sys.modules),
    "provider_sdks": sorted({{m.split(".")[0] for m in sys.modules if m.startswith("pulumi_")}}),
    "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}}))
"""


def probe(code: str, cwd: Path | None = None) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; its CPU and wall time (interpreter start excluded),
    module count, the ``pulumi_*`` provider SDKs it loaded and its peak RSS."""
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE.format(code=code, mark=_MARK)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith(_MARK)]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"probe failed ({completed.returncode}): {code}\n{completed.stderr[-2000:]}")
    return json.loads(lines[-1][len(_MARK) :])


def render_code(stacks: list[str]) -> str:
    """Child code rendering ``stacks`` offline, as ``triton-platform render`` does (without writing)."""
    return (
        "from pathlib import Path\n"
        "from triton_platform.review.render import render_stack\n"
        f"for stack in {stacks!r}:\n"
        "    render_stack(Path.cwd(), stack)\n"
    )


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("triton-platform")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "triton_platform.cli"]


def imports(repetitions: int) -> dict[str, Any]:
    """Import time (CPU) of each target, interleaved across targets, in fresh interpreters."""
    runs: dict[str, list[dict[str, Any]]] = {target: [] for target in IMPORT_TARGETS}
    for _ in range(repetitions):
        for target in IMPORT_TARGETS:
            runs[target].append(probe(f"import {target}"))
    result: dict[str, Any] = {"repetitions": repetitions}
    baseline = median([r["seconds"] for r in runs["pulumi"]])
    for target, samples in runs.items():
        seconds = median([r["seconds"] for r in samples])
        result[target] = {
            "seconds": round(seconds, 3),
            "over_pulumi_s": round(seconds - baseline, 3),
            "modules": samples[-1]["modules"],
            "provider_sdks": samples[-1]["provider_sdks"],
        }
    return result


def cold_render(root: Path, repetitions: int) -> dict[str, Any]:
    """End-to-end ``triton-platform render <stack>`` in a fresh process, and the SDKs each cloud's
    stack loads (no cloud's stack may load another cloud's SDK). The fresh-process CLI render is timed
    for the first cloud's stack."""
    result: dict[str, Any] = {"repetitions": repetitions, "clouds": {}}
    for cloud in CLOUDS:
        stacks = stacks_for_cloud(root, cloud)
        if not stacks:
            continue
        seen = probe(render_code(stacks[:1]), cwd=root)
        result["clouds"][cloud] = {
            "stack": stacks[0],
            "provider_sdks": seen["provider_sdks"],
            "foreign_sdk_loaded": any(sdk in seen["provider_sdks"] for other, sdk in SDKS.items() if other != cloud),
            "render_in_process_cpu_s": round(seen["seconds"], 3),
            "max_rss_mb": round(seen["max_rss_mb"], 1),
        }
    first = next(iter(result["clouds"].values()), None)
    if first is not None:
        walls, cpus = [], []
        with tempfile.TemporaryDirectory(prefix="triton-bench-") as out:
            for _ in range(repetitions):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                subprocess.run(
                    [*_cli(), "render", first["stack"], "--out", out], cwd=root, capture_output=True, check=True
                )
                walls.append(time.perf_counter() - start)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        first["cli_render_wall_s"] = round(median(walls), 3)
        first["cli_render_cpu_s"] = round(median(cpus), 3)
        first["cli_render_runs_wall_s"] = [round(w, 3) for w in walls]
    return result
