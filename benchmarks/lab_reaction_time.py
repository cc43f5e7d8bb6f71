"""Lab benchmark: how fast the rendered autoscaling signal reacts to a 2x load step,
measured on the real Triton and Prometheus, against the estimate `triton-platform render` prints and
the goal of a scale-out decision within 20 s of the step.

    .venv/bin/python benchmarks/lab_reaction_time.py [--repeat N] [--json benchmarks/lab_reaction_time.json]

Candidates: every committed stack's triggers as rendered (deduplicated), plus variants of the first
autoscaled committed stack rendered with other `observability.scrape.intervalSeconds` /
`autoscaling.queryWindowSeconds` (the previous defaults 5 s / 30 s among them), one with Triton's
`--metrics-interval-ms=1000` (default 2000: how often Triton refreshes what Prometheus scrapes). All candidates share one timeline
per repetition, each with its own Triton and Prometheus on 127.0.0.1. A decision takes detection +
KEDA polling (0: metrics not cached) + the HPA's sync period (15 s worst case), so the goal needs
detection within 5 s. Figures are information, never a verdict: timings never fail anything.
About 2.5 minutes per repetition on 2 cores (the 30 s window sets the pace).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the tests' `support` package: the lab's machinery

from support import lab as harness  # noqa: E402
from support.lab import reaction  # noqa: E402
from triton_platform.review import reaction_time  # noqa: E402
from triton_platform.review.render import render_stack, stack_files  # noqa: E402

GOAL_SECONDS = 20
#: (scrape interval s, query window s, extra Triton flags) to compare with the rendered defaults: the
#: previous defaults, the fastest scrape, and Triton refreshing its metrics every second instead of 2.
#: The config allows windows of 10 s or more.
CANDIDATES = [(5, 30, ()), (1, 10, ()), (2, 10, ("--metrics-interval-ms=1000",))]


def variant(stack: str, scrape: int, window: int, where: Path):
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    obs = config.setdefault("triton-platform:observability", {})
    obs.setdefault("scrape", {})["intervalSeconds"] = scrape
    for group in config.get("triton-platform:modelGroups", []):
        if group.get("autoscaling") is not None:
            group["autoscaling"]["queryWindowSeconds"] = window
    name = f"{stack}-s{scrape}w{window}"
    root = where / name
    root.mkdir(parents=True)
    for item in ("Pulumi.yaml", "stacks"):
        (root / item).symlink_to(ROOT / item)
    (root / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    render = render_stack(root, stack)
    render.stack = name
    return render


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "lab_reaction_time.json")
    args = parser.parse_args()

    started = time.time()
    with tempfile.TemporaryDirectory(prefix="lab-reaction-") as tmp:
        work = Path(tmp)
        committed = {name: render_stack(ROOT, name) for name in stack_files(ROOT)}
        base_stack = next(s for s, r in committed.items() if harness.manifests_of(r, "ScaledObject"))
        chosen = reaction.scenarios(committed)
        for i, (scrape, window, extra) in enumerate(CANDIDATES):
            render = variant(base_stack, scrape, window, work / "roots" / str(i))
            for sc in reaction.scenarios({render.stack: render}, triggers=("queue-time",)):
                sc.extra_args = tuple(extra)
                sc.covers = [f"{render.stack}{' ' + ' '.join(extra) if extra else ''}"]
                chosen.append(sc)
        storage = harness.Storage(work / "storage")
        install = harness.triton_install()
        runs = []
        try:
            for repetition in range(args.repeat):
                runs.append(reaction.measure(chosen, storage=storage, workdir=work / f"r{repetition}", install=install))
        finally:
            storage.stop()

    rows = []
    for i, sc in enumerate(chosen):
        ms = [run[i] for run in runs]
        detections = [m.detection_seconds for m in ms if m.detection_seconds is not None]
        falls = [m.fall_seconds for m in ms if m.fall_seconds is not None]
        worst = max(detections) if detections else None
        rows.append(
            {
                "scenario": sc.covers[0] if len(sc.covers) == 1 else ", ".join(sc.covers),
                "trigger": sc.trigger["name"],
                "scrape_s": sc.scrape_seconds,
                "window_s": sc.window_seconds,
                "threshold": sc.threshold,
                "extra_args": list(sc.extra_args),
                "level": round(statistics.mean(m.level for m in ms), 1),
                "overload": round(statistics.mean(m.overload for m in ms), 2),
                "detection_s": [round(d, 1) for d in detections],
                "estimate_detection_s": round(statistics.mean(m.estimate_detection_seconds for m in ms), 1),
                "decision_worst_s": round(worst + reaction_time.HPA_SYNC_PERIOD_SECONDS, 1)
                if worst is not None
                else None,
                "fall_s": [round(f, 1) for f in falls],
                "meets_goal": worst is not None and worst + reaction_time.HPA_SYNC_PERIOD_SECONDS <= GOAL_SECONDS,
            }
        )
    payload = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "elapsed_s": round(time.time() - started),
        "goal_s": GOAL_SECONDS,
        "hpa_sync_s": reaction_time.HPA_SYNC_PERIOD_SECONDS,
        "service_time_ms": reaction.SERVICE_TIME_MS,
        "repeat": args.repeat,
        "triton": "2.51.0 (24.10, from nvidia-pytriton 0.7.0)",
        "rows": rows,
        "raw": [reaction.as_json(run) for run in runs],
    }
    args.json.write_text(json.dumps(payload, indent=2) + "\n")

    print(
        f"{'scenario':58} {'trigger':16} {'scrape':>6} {'window':>6} {'x':>5} {'detected after (s)':>20} {'estimate':>8} "
        f"{'decision':>8}  goal {GOAL_SECONDS} s"
    )
    for r in rows:
        detected = ", ".join(f"{d:g}" for d in r["detection_s"]) or "never"
        decision = f"{r['decision_worst_s']:g}" if r["decision_worst_s"] is not None else "-"
        print(
            f"{r['scenario'][:58]:58} {r['trigger']:16} {r['scrape_s']:>6g} {r['window_s']:>6g} {r['overload']:>5g} "
            f"{detected:>20} {r['estimate_detection_s']:>8g} {decision:>8}  {'meets' if r['meets_goal'] else 'misses'}"
        )
    print(
        f"decision = slowest detection + HPA sync {reaction_time.HPA_SYNC_PERIOD_SECONDS} s (KEDA polling 0: metrics not cached); "
        f"written to {args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
