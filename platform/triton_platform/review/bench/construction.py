"""M1 and M2: what constructing the program costs, against the SDK floor, and how it grows.

Every figure is a median over repetitions interleaved in one process (ours, floor, ours, floor,
... with the order alternating), so machine noise hits every side alike and ratios hold on a
noisy 2-core runner where absolute milliseconds do not. Times are CPU time of the process (see
``harness.Run``); wall medians are kept in the results for reference.
"""

from __future__ import annotations

import cProfile
import gc
import pstats
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...config.loader import ConfigError
from .floors import replay_program
from .harness import Run, capture, median, timed
from .programs import StackConfig, environments_program, for_environment, stack_program, with_model_groups

Program = Callable[[], Any]


@dataclass
class Series:
    """Construction times per side ("ours" or a floor kind) and size, and ours' resource counts."""

    sizes: list[int]
    seconds: dict[tuple[str, int], list[float]] = field(default_factory=dict)  # CPU
    wall_seconds: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    resources: dict[int, int] = field(default_factory=dict)
    custom: dict[int, int] = field(default_factory=dict)
    fallbacks: dict[int, list[str]] = field(default_factory=dict)

    def time(self, side: str, size: int) -> float:
        return median(self.seconds[(side, size)])

    def ratio(self, side: str, other: str, size: int) -> float:
        """Median of the per-repetition ratios: each pair ran back to back, under the same load."""
        return median([a / b for a, b in zip(self.seconds[(side, size)], self.seconds[(other, size)], strict=True)])

    def runs_ms(self, side: str, size: int) -> list[float]:
        return [round(1000 * s, 1) for s in self.seconds[(side, size)]]

    def summary(self, unit: str) -> dict[str, Any]:
        first, last = self.sizes[0], self.sizes[-1]
        ours = {s: self.time("ours", s) for s in self.sizes}
        floor = {s: self.time("bare", s) for s in self.sizes}
        return {
            "sizes": self.sizes,
            "resources": [self.resources[s] for s in self.sizes],
            "custom_resources": [self.custom[s] for s in self.sizes],
            "ours_ms": [round(1000 * ours[s], 1) for s in self.sizes],
            "floor_ms": [round(1000 * floor[s], 1) for s in self.sizes],
            "ours_growth": round(ours[last] / ours[first], 2),
            "floor_growth": round(floor[last] / floor[first], 2),
            "resource_ratio": round(self.resources[last] / self.resources[first], 2),
            f"resources_per_{unit}": round((self.resources[last] - self.resources[first]) / (last - first), 2),
            f"ms_per_{unit}": round(1000 * (ours[last] - ours[first]) / (last - first), 1),
            # Marginal cost of one more resource, step by step: a superlinear term shows as a rise.
            "marginal_ms_per_resource": [
                round(1000 * (ours[b] - ours[a]) / max(1, self.resources[b] - self.resources[a]), 2)
                for a, b in zip(self.sizes, self.sizes[1:], strict=False)
            ],
            "ours_over_floor": [round(self.ratio("ours", "bare", s), 2) for s in self.sizes],
        }


def _measure(programs: dict[int, tuple[Program, StackConfig]], repetitions: int, floors: tuple[str, ...]) -> Series:
    """Ours and its floors at every size, ``repetitions`` times, interleaved, order alternating."""
    series = Series(sorted(programs))
    sides: dict[int, list[tuple[str, Program]]] = {}
    for size, (program, config) in programs.items():
        # One captured run per size: the floors replay exactly what ours declared at that size.
        declared = capture(program, config.stack, config.config, config.secret_keys)
        sides[size] = [("ours", program)]
        for kind in floors:
            floor, fallbacks = replay_program(declared, kind)
            sides[size].append((kind, floor))
            timed(floor, config.stack, config.config, config.secret_keys)  # warm its code paths
            if fallbacks:
                series.fallbacks[size] = sorted(set(fallbacks))
        timed(program, config.stack, config.config, config.secret_keys)
    # Everything loaded so far (modules, SDK caches) moves out of the collector's reach, so a full
    # collection scanning it cannot land in one side's run and not the other's.
    gc.collect()
    gc.freeze()
    for rep in range(repetitions):
        for size, (_, config) in programs.items():
            order = sides[size] if rep % 2 == 0 else list(reversed(sides[size]))
            for side, side_program in order:
                run = timed(side_program, config.stack, config.config, config.secret_keys)
                series.seconds.setdefault((side, size), []).append(run.seconds)
                series.wall_seconds.setdefault((side, size), []).append(run.wall_seconds)
                if side == "ours":
                    series.resources[size], series.custom[size] = run.resources, run.custom
    return series


def overhead(root: Path, base: StackConfig, repetitions: int) -> dict[str, Any]:
    """M1: the real stack program over each floor replaying what it declared (see ``floors``)."""
    program = stack_program(root)
    first: Run = timed(program, base.stack, base.config, base.secret_keys)  # pays lazy module loads
    series = _measure({1: (program, base)}, repetitions, floors=("bare", "typed", "tree"))
    ms = {side: round(1000 * series.time(side, 1), 1) for side in ("ours", "bare", "typed", "tree")}
    return {
        "stack": base.stack,
        "repetitions": repetitions,
        "resources": series.resources[1],
        "custom_resources": series.custom[1],
        "first_build_ms": round(1000 * first.seconds, 1),
        "median_cpu_ms": ms,
        "median_wall_ms": {side: round(1000 * median(series.wall_seconds[(side, 1)]), 1) for side in ms},
        # Medians of per-repetition ratios (robust to load that drifts during the run).
        "ours_over_bare": round(series.ratio("ours", "bare", 1), 3),
        "ours_over_typed": round(series.ratio("ours", "typed", 1), 3),
        "typed_over_bare": round(series.ratio("typed", "bare", 1), 3),
        "tree_over_bare": round(series.ratio("tree", "bare", 1), 3),
        "typed_fallbacks": series.fallbacks.get(1, []),
        "ours_ms_per_resource": round(ms["ours"] / series.resources[1], 2),
        "bare_ms_per_custom_resource": round(ms["bare"] / series.custom[1], 2),
        "runs_ms": {side: series.runs_ms(side, 1) for side in ("ours", "bare", "typed", "tree")},
    }


#: Where profiled self time is spent, by the function's file (or a builtin's name).
_OWN = re.compile(r"[/\\](triton_components|triton_platform|stacks)[/\\](?!bench[/\\])")
_PYDANTIC = re.compile(r"pydantic")
_PROVIDER_SDKS = re.compile(r"[/\\]pulumi_[a-z0-9_]+[/\\]")


def profile_shares(root: Path, base: StackConfig, runs: int) -> dict[str, Any]:
    """Self time of one environment build by origin, under ``cProfile``: how much of it is our own
    Python code at all. The profiler inflates call-heavy code, so only shares are reported."""
    program = stack_program(root)
    timed(program, base.stack, base.config, base.secret_keys)
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(runs):
        timed(program, base.stack, base.config, base.secret_keys)
    profile.disable()
    spent = {"own code": 0.0, "pydantic validation": 0.0, "provider SDK classes": 0.0, "Pulumi runtime and Python": 0.0}
    stats: dict[Any, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]  # public in CPython, absent from typeshed
    for (filename, _, function), (_, _, self_seconds, _, _) in stats.items():
        if _OWN.search(filename):
            spent["own code"] += self_seconds
        elif _PYDANTIC.search(filename) or (filename == "~" and _PYDANTIC.search(function)):
            spent["pydantic validation"] += self_seconds
        elif _PROVIDER_SDKS.search(filename):
            spent["provider SDK classes"] += self_seconds
        else:
            spent["Pulumi runtime and Python"] += self_seconds
    total = sum(spent.values()) or 1.0
    return {"runs": runs, "share": {name: round(seconds / total, 3) for name, seconds in spent.items()}}


def scaling(
    root: Path, base: StackConfig, groups: list[int], environments: list[int], repetitions: int
) -> dict[str, Any]:
    """M2: model groups through the real stack program; environments as independent sets in one program."""
    result: dict[str, Any] = {"repetitions": repetitions}
    program = stack_program(root)
    group_programs: dict[int, tuple[Program, StackConfig]] = {}
    skipped: dict[int, str] = {}
    for size in groups:
        config = with_model_groups(base, size)
        try:
            config.validate()
        except ConfigError as error:
            skipped[size] = str(error)
            continue
        group_programs[size] = (program, config)
    if len(group_programs) >= 2:
        result["model_groups"] = _measure(group_programs, repetitions, floors=("bare",)).summary("model_group")
    if skipped:
        result["model_groups_not_measured"] = skipped

    env_programs = {
        size: (environments_program([for_environment(base, i) for i in range(size)]), base) for size in environments
    }
    result["environments"] = _measure(env_programs, repetitions, floors=("bare",)).summary("environment")
    return result
