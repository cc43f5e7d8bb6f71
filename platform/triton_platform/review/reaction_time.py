"""How long after a load step the autoscaler decides to scale out, estimated from the generated config.

Worst case for a step to ``overload`` times the queue-time target (``reference/performance.md`` §3.3):

    T(1 -> N) = scrape interval                 a new sample reaches Prometheus
              + window / overload               rate(x[window]) crosses the target after a step from ~0
                                                to overload x target (window / 2 for a 2x step)
              + KEDA polling interval           only with useCachedMetrics; otherwise the HPA's
                                                query goes straight to Prometheus
              + HPA sync period (15 s)          kube-controller-manager's default; managed clusters keep it
    T(0 -> 1) = KEDA polling interval + scrape interval   (KEDA itself activates the target)

The time to serve (pod start, model load, maybe a new GPU node) comes on top; it is not estimated here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: ``--horizontal-pod-autoscaler-sync-period`` default.
HPA_SYNC_PERIOD_SECONDS = 15
#: KEDA's ``pollingInterval`` default.
KEDA_DEFAULT_POLLING_SECONDS = 30
#: kube-prometheus-stack's scrape interval when a monitor sets none.
DEFAULT_SCRAPE_SECONDS = 30
DEFAULT_OVERLOAD = 2.0
#: The limit the platform's defaults are held to. The goal is 20 s; with the HPA's 15 s sync the queue-time
#: trigger cannot reach it with the smallest window allowed (10 s): 15 + 10/2 is 20 before the scrape. The lab
#: measures the defaults at 20.2-20.7 s worst case (benchmarks/lab_reaction_time.json).
TARGET_SECONDS = 25

_WINDOW = re.compile(r"\[([0-9]+)(s|m)\]")


@dataclass(frozen=True)
class ReactionTime:
    """A structured estimate, in seconds."""

    name: str
    scrape_seconds: float
    query_window_seconds: float
    window_seconds: float
    polling_seconds: float
    hpa_sync_seconds: float
    overload: float
    wake_from_zero_seconds: float | None = None

    @property
    def total_seconds(self) -> float:
        return self.scrape_seconds + self.window_seconds + self.polling_seconds + self.hpa_sync_seconds


def estimate(
    *,
    scrape_interval_seconds: float,
    query_window_seconds: float,
    polling_interval_seconds: float,
    use_cached_metrics: bool = False,
    hpa_sync_period_seconds: float = HPA_SYNC_PERIOD_SECONDS,
    overload: float = DEFAULT_OVERLOAD,
    scale_to_zero: bool = False,
    name: str = "",
) -> ReactionTime:
    """Worst-case time from a step to ``overload`` x the target until the HPA decides to scale out."""
    if overload <= 1:
        raise ValueError(f"overload is {overload}; a load step must exceed the target (use more than 1)")
    for label, value in (
        ("scrape_interval_seconds", scrape_interval_seconds),
        ("query_window_seconds", query_window_seconds),
        ("polling_interval_seconds", polling_interval_seconds),
    ):
        if value <= 0:
            raise ValueError(f"{label} is {value}; use a positive number of seconds")
    return ReactionTime(
        name=name,
        scrape_seconds=scrape_interval_seconds,
        query_window_seconds=query_window_seconds,
        # From baseline b ~ 0 to level L = overload x T, rate() crosses T after window x T / L.
        window_seconds=query_window_seconds / overload,
        polling_seconds=polling_interval_seconds if use_cached_metrics else 0,
        hpa_sync_seconds=hpa_sync_period_seconds,
        overload=overload,
        wake_from_zero_seconds=polling_interval_seconds + scrape_interval_seconds if scale_to_zero else None,
    )


def _seconds(text: str | None, default: float) -> float:
    if not text:
        return default
    match = re.fullmatch(r"([0-9]+)(ms|s|m|h)", text)
    if not match:
        return default
    return int(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def _scrape_intervals(manifests: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], float]:
    """Scrape interval of each ServiceMonitor/PodMonitor, by (namespace, name)."""
    found = {}
    for obj in manifests:
        if obj.get("kind") not in ("ServiceMonitor", "PodMonitor"):
            continue
        spec = obj.get("spec", {})
        endpoints = spec.get("endpoints") or spec.get("podMetricsEndpoints") or [{}]
        meta = obj.get("metadata", {})
        found[(meta.get("namespace", ""), meta.get("name", ""))] = _seconds(
            endpoints[0].get("interval"), DEFAULT_SCRAPE_SECONDS
        )
    return found


def from_manifests(manifests: Iterable[Mapping[str, Any]], overload: float = DEFAULT_OVERLOAD) -> list[ReactionTime]:
    """One estimate per KEDA ScaledObject, read from the rendered objects.

    The scrape interval is the monitor named like the ScaledObject (both ``triton-<group>``); the window
    is the queue-time trigger's ``rate()`` range.
    """
    manifests = list(manifests)
    intervals = _scrape_intervals(manifests)
    estimates = []
    for obj in manifests:
        if obj.get("kind") != "ScaledObject":
            continue
        meta, spec = obj.get("metadata", {}), obj.get("spec", {})
        triggers = spec.get("triggers", [])
        trigger = next((t for t in triggers if t.get("name") == "queue-time"), triggers[0] if triggers else {})
        windows = [
            int(n) * (60 if unit == "m" else 1)
            for n, unit in _WINDOW.findall(trigger.get("metadata", {}).get("query", ""))
        ]
        estimates.append(
            estimate(
                scrape_interval_seconds=intervals.get(
                    (meta.get("namespace", ""), meta.get("name", "")), DEFAULT_SCRAPE_SECONDS
                ),
                query_window_seconds=max(windows) if windows else 60,
                polling_interval_seconds=spec.get("pollingInterval", KEDA_DEFAULT_POLLING_SECONDS),
                use_cached_metrics=bool(trigger.get("useCachedMetrics", False)),
                overload=overload,
                scale_to_zero=spec.get("minReplicaCount", 0) == 0,
                name=meta.get("name", ""),
            )
        )
    return sorted(estimates, key=lambda e: e.name)


def _s(value: float) -> str:
    return f"{value:g} s"


def format_line(rt: ReactionTime) -> str:
    """``triton-vision: 22 s from a 2x load step to a scale-out decision (scrape 2 s + ...)``."""
    polling = _s(rt.polling_seconds) if rt.polling_seconds else "0 s (metrics not cached)"
    line = (
        f"{rt.name}: {_s(rt.total_seconds)} from a {rt.overload:g}x load step to a scale-out decision "
        f"(scrape {_s(rt.scrape_seconds)} + rate window {_s(rt.query_window_seconds)}/{rt.overload:g} = "
        f"{_s(rt.window_seconds)} + KEDA polling {polling} + HPA sync {_s(rt.hpa_sync_seconds)})"
    )
    if rt.wake_from_zero_seconds is not None:
        line += f"; from zero {_s(rt.wake_from_zero_seconds)} to activation"
    return line


def report_lines(manifests: Iterable[Mapping[str, Any]]) -> list[str]:
    """Lines for the render summary: one per autoscaled model group."""
    return [f"  reaction time {format_line(rt)}" for rt in from_manifests(manifests)]
