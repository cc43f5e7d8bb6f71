"""Run a Pulumi program under the render's mocks and time its construction, nothing else.

The mocks are the render's own (``RenderMocks``), so every program the benchmark compares pays
the same SDK marshalling per resource. A timed run only counts registrations, so no recorder's
cost dilutes a ratio; ``capture`` (untimed) keeps what the SDK-floor program replays. URNs are
formed as the engine forms them and must be unique, so no program measured here is one the
engine would refuse.
"""

from __future__ import annotations

import contextvars
import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime import rpc

from ..render import RenderMocks, TrackingMonitor, mock_runtime, normalise

#: Type tokens of the benchmark's own scaffolding (never counted as the platform's resources).
BENCH_PACKAGE = "triton-bench"


class BenchError(RuntimeError):
    """The benchmark could not measure what it claims to (not a slow result: a broken setup)."""


@dataclass(frozen=True)
class Run:
    """One construction of a program: its CPU seconds (all threads of the process: the program is
    CPU-bound under mocks, and CPU time does not count the time a busy runner takes the CPU away),
    wall seconds, and what it registered."""

    seconds: float
    wall_seconds: float
    resources: int  # custom resources + components, the count engine and preview costs scale with
    custom: int


@dataclass(frozen=True)
class Declared:
    """One registration as the program sent it: enough to declare it again without the program."""

    type: str
    name: str
    custom: bool
    urn: str
    parent_urn: str
    provider_urn: str
    inputs: dict[str, Any]


class _CountingMonitor(TrackingMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks, capture: bool = False) -> None:
        super().__init__(mocks)
        self.capture = capture
        self.registered: list[tuple[str, bool, str]] = []
        self.declared: list[Declared] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registered.append((request.type, bool(request.custom), response.urn))
            if self.capture:
                inputs = normalise(rpc.deserialize_properties(request.object))
                # A provider reference is "<urn>::<id>".
                provider = request.provider.rsplit("::", 1)[0] if request.provider else ""
                self.declared.append(
                    Declared(
                        request.type, request.name, bool(request.custom), response.urn, request.parent, provider, inputs
                    )
                )
        return response


def timed(
    program: Callable[[], Any],
    stack: str = "bench",
    config: Mapping[str, str] | None = None,
    secret_keys: list[str] | None = None,
) -> Run:
    """Construct ``program`` once in a fresh Pulumi context; time from its first line to the last
    registration resolved (harness setup excluded, so ratios compare programs, not harnesses)."""
    run, _ = contextvars.Context().run(_timed, program, stack, dict(config or {}), list(secret_keys or []), False)
    return run


def capture(
    program: Callable[[], Any],
    stack: str = "bench",
    config: Mapping[str, str] | None = None,
    secret_keys: list[str] | None = None,
) -> list[Declared]:
    """Every resource ``program`` registers, in registration order (parents before children), the
    benchmark's own scaffolding left out; untimed."""
    _, declared = contextvars.Context().run(_timed, program, stack, dict(config or {}), list(secret_keys or []), True)
    return [d for d in declared if not d.type.startswith(f"{BENCH_PACKAGE}:")]


def _timed(
    program: Callable[[], Any], stack: str, config: dict[str, str], secret_keys: list[str], capturing: bool
) -> tuple[Run, list[Declared]]:
    monitor = _CountingMonitor(RenderMocks(), capturing)
    with mock_runtime(monitor, stack, config, secret_keys):
        start, start_cpu = time.perf_counter(), time.process_time()
        pulumi.runtime.test(_dropping_result(program))()
        seconds, wall = time.process_time() - start_cpu, time.perf_counter() - start
    ours = [(t, custom, urn) for t, custom, urn in monitor.registered if not t.startswith(f"{BENCH_PACKAGE}:")]
    duplicates = [urn for urn, n in Counter(urn for *_, urn in monitor.registered).items() if n > 1]
    if duplicates:
        # The engine would refuse this program; a benchmark of it would measure nothing real.
        raise BenchError(f"program registered duplicate URNs, e.g. {duplicates[0]}")
    return Run(seconds, wall, len(ours), sum(1 for _, custom, _ in ours if custom)), monitor.declared


def _dropping_result(program: Callable[[], Any]) -> Callable[[], None]:
    """The runtime would walk whatever the program returns as an Output: none of it is ours."""

    def run() -> None:
        program()

    return run


def median(values: list[float]) -> float:
    return statistics.median(values)
