"""The table ``triton-platform bench`` prints: measurement, value, goal, verdict.

Verdicts on timings are information (``ok`` / ``over``); only structural facts can be
``VIOLATED``, and those are asserted by tests as well.

The README's Performance table is this table as Markdown, computed from the raw figures in
``benchmarks/results.json`` (``tests/repository/test_readme.py`` holds them equal). After a full run, print it with
``python -m triton_platform.bench.table`` and paste it over the README's.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...clouds import registered

#: Each registered cloud's provider SDK module, in the clouds' order.
CLOUD_SDKS = {cloud.key: cloud.sdk_module for cloud in registered() if cloud.sdk_module}

#: Every verdict a row can carry. "not measured" rows carry the reason instead.
VERDICTS = ("ok", "over", "info", "VIOLATED")


@dataclass
class Row:
    measurement: str
    value: str
    goal: str
    verdict: str


def _verdict(ok: bool) -> str:
    return "ok" if ok else "over"


def table(results: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    m1 = results["overhead"]
    ms = m1["median_cpu_ms"]
    label = f"{m1['stack']}, {m1['resources']} resources"
    rows.append(
        Row(
            f"M1 overhead vs bare CustomResource floor ({label})",
            f"{m1['ours_over_bare']:.2f}x ({ms['ours']:.0f} / {ms['bare']:.0f} ms)",
            "<= 1.25x",
            _verdict(m1["ours_over_bare"] <= 1.25),
        )
    )
    fallbacks = f"; {len(m1['typed_fallbacks'])} type(s) bare" if m1["typed_fallbacks"] else ""
    rows.append(
        Row(
            "M1 overhead vs typed provider-SDK calls",
            f"{m1['ours_over_typed']:.2f}x ({ms['ours']:.0f} / {ms['typed']:.0f} ms{fallbacks})",
            "<= 1.25x",
            _verdict(m1["ours_over_typed"] <= 1.25),
        )
    )
    rows.append(Row("M1   typed SDK classes over bare floor", f"{m1['typed_over_bare']:.2f}x", "-", "info"))
    rows.append(
        Row("M1   component tree over bare floor", f"{m1['tree_over_bare']:.2f}x ({ms['tree']:.0f} ms)", "-", "info")
    )
    share = results["profile"]["share"]
    rows.append(
        Row(
            "M1 self time by origin (cProfile)",
            ", ".join(f"{name} {100 * value:.1f}%" for name, value in share.items()),
            "-",
            "info",
        )
    )
    rows.append(Row("M1 first build in process (lazy loads)", f"{m1['first_build_ms']:.0f} ms", "-", "info"))

    for unit, label in (("model_group", "model groups"), ("environment", "environments")):
        key = "model_groups" if unit == "model_group" else "environments"
        series = results["scaling"].get(key)
        if series is None:
            reason = next(iter(results["scaling"].get(f"{key}_not_measured", {}).values()), "too few sizes")
            rows.append(Row(f"M2 {label}", "not measured", "-", reason.splitlines()[0]))
            continue
        sizes = series["sizes"]
        span = f"{sizes[0]} -> {sizes[-1]} {label}"
        growth, floor_growth, ratio = series["ours_growth"], series["floor_growth"], series["resource_ratio"]
        rows.append(
            Row(
                f"M2 {span}: time growth (bare floor's) for resource growth",
                f"{growth:.1f}x ({floor_growth:.1f}x) for {ratio:.1f}x",
                "linear",
                "info",
            )
        )
        marginal = series["marginal_ms_per_resource"]
        if len(marginal) >= 2:
            # A superlinear term shows as a marginal cost per resource that rises with size.
            rows.append(
                Row(
                    f"M2 {span}: marginal ms per resource, by step",
                    " -> ".join(f"{m:.1f}" for m in marginal),
                    "not rising > 25%",
                    _verdict(marginal[-1] <= 1.25 * marginal[0]),
                )
            )
        else:
            rows.append(
                Row(
                    f"M2 {span}: time growth over resource growth",
                    f"{growth / ratio:.2f}",
                    "<= 1.25",
                    _verdict(growth <= 1.25 * ratio),
                )
            )
        per = series[f"resources_per_{unit}"]
        goal = "<= 12, constant" if unit == "model_group" else "<= 25"
        limit = 12 if unit == "model_group" else 25
        rows.append(
            Row(
                f"M2 resources per {unit.replace('_', ' ')}",
                f"{per:g} ({' / '.join(map(str, series['resources']))} at {' / '.join(map(str, sizes))})",
                goal,
                _verdict(per <= limit),
            )
        )
        marginal = series[f"ms_per_{unit}"]
        rows.append(
            Row(
                f"M2 marginal time per {unit.replace('_', ' ')}",
                f"{marginal:.0f} ms",
                "<= 60 ms" if unit == "environment" else "-",
                _verdict(marginal <= 60) if unit == "environment" else "info",
            )
        )

    imports = results["imports"]
    base = imports["pulumi"]["seconds"]
    rows.append(Row("M3 import pulumi (fresh interpreter)", f"{base:.2f} s", "baseline", "info"))
    for target in ("triton_components", "triton_platform.environment"):
        entry = imports[target]
        sdks = ", ".join(s for s in entry["provider_sdks"] if s in CLOUD_SDKS.values()) or "no cloud SDK"
        rows.append(
            Row(
                f"M3 import {target}",
                f"{entry['seconds']:.2f} s (+{entry['over_pulumi_s']:.2f} s; {sdks})",
                "<= pulumi + 0.20 s",
                _verdict(entry["over_pulumi_s"] <= 0.2),
            )
        )
    clouds = results["cold_start"]["clouds"]
    # The fresh-process render is timed for the first cloud's stack (startup.cold_render).
    first_cloud = next(iter(CLOUD_SDKS), "")
    first = next(iter(clouds.values()), None)
    if first is not None and "cli_render_cpu_s" in first:
        rows.append(
            Row(
                f"M3 `triton-platform render {first['stack']}` fresh process",
                f"{first['cli_render_cpu_s']:.2f} s CPU ({first['cli_render_wall_s']:.2f} s wall), "
                f"{first['max_rss_mb']:.0f} MB RSS",
                "<= 1.5 s, <= 120 MB",
                _verdict(first["cli_render_cpu_s"] <= 1.5 and first["max_rss_mb"] <= 120),
            )
        )
    else:
        rows.append(
            Row(
                f"M3 {first_cloud.upper()} stack render",
                "not measured",
                "-",
                f"no stack with triton-platform:{first_cloud}",
            )
        )
    for cloud, entry in clouds.items():
        rows.append(
            Row(
                f"M3 SDKs loaded by {cloud.upper()} stack {entry['stack']}",
                ", ".join(entry["provider_sdks"]),
                "no " + ", ".join(sdk for other, sdk in CLOUD_SDKS.items() if other != cloud),
                "VIOLATED" if entry["foreign_sdk_loaded"] else "ok",
            )
        )
    for cloud in CLOUD_SDKS:
        if cloud not in clouds and cloud != first_cloud:
            rows.append(
                Row(
                    f"M3 SDKs loaded by an {cloud.upper()} stack",
                    "not measured",
                    "-",
                    f"no stack with triton-platform:{cloud}",
                )
            )

    # M4 goals: the core install, and each cloud's install (its extra).
    goals = {"core": 120, **dict.fromkeys(CLOUD_SDKS, 400)}
    for install, entry in results["footprint"].items():
        if entry["missing"]:
            rows.append(
                Row(
                    f"M4 install {entry['requirement']}",
                    "not measured",
                    "-",
                    "not installed: " + ", ".join(entry["missing"]),
                )
            )
            continue
        foreign = entry["foreign_sdk"]
        goal = f"< {goals[install]} MB" + (f", no {foreign}" if foreign else "")
        ok = entry["megabytes"] < goals[install] and not entry["foreign_sdk_included"]
        rows.append(
            Row(
                f"M4 install {entry['requirement']}",
                f"{entry['megabytes']:.0f} MB ({entry['without_bytecode_mb']:.0f} MB without .pyc), "
                f"{entry['distributions']} distributions"
                + (f", {foreign} included" if entry["foreign_sdk_included"] else ""),
                goal,
                _verdict(ok) if not entry["foreign_sdk_included"] else "VIOLATED",
            )
        )
    env = results.get("environment")  # absent from results written before it was measured
    if env is not None and env["measured"]:
        parts = ", ".join(f"{name} {size:.0f}" for name, size in env["parts_mb"].items())
        rows.append(
            Row(
                "M4 this environment on disk (du; the quickstart's .venv holds every extra)",
                f"{env['disk_mb']:.0f} MB: {parts}, other {env['other_mb']:.0f} MB; "
                f"{env['distributions']} distributions",
                "-",
                "info",
            )
        )
    elif env is not None:
        rows.append(Row("M4 this environment on disk", "not measured", "-", env["reason"]))
    return rows


def render_table(rows: list[Row]) -> str:
    header = Row("measurement", "value", "goal", "verdict")
    widths = [max(len(getattr(r, f)) for r in (header, *rows)) for f in ("measurement", "value", "goal", "verdict")]
    lines = []
    for i, row in enumerate((header, *rows)):
        cells = [
            getattr(row, f).ljust(w) for f, w in zip(("measurement", "value", "goal", "verdict"), widths, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_markdown(rows: list[Row]) -> str:
    """The same table as Markdown, for the README."""
    lines = ["| Measurement | Value | Goal | Verdict |", "|---|---|---|---|"]
    for row in rows:
        cells = (row.measurement, row.value, row.goal, row.verdict)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m triton_platform.bench.table [results.json]``: the README's table from a results file."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0] if args else "benchmarks/results.json")
    print(render_markdown(table(json.loads(path.read_text())["results"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
