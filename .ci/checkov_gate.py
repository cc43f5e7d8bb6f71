"""Apply .ci/checkov-waivers.yaml to a checkov JSON report; exit 1 on any finding not waived.

Usage: checkov_gate.py WAIVERS_YAML CHECKOV_JSON
Run by .ci/scan with the scanner's own virtualenv (PyYAML comes with checkov).
"""

from __future__ import annotations

import fnmatch
import json
import sys
from pathlib import Path

import yaml


def load_waivers(path: Path) -> list[dict]:
    waivers = (yaml.safe_load(path.read_text()) or {}).get("waivers") or []
    for w in waivers:
        if not w.get("id") or not str(w.get("reason", "")).strip():
            raise SystemExit(f"{path}: every waiver needs an id and a reason: {w}")
    return waivers


def waiver_for(finding: dict, stack: str, waivers: list[dict]) -> dict | None:
    for w in waivers:
        if w["id"] != finding["check_id"]:
            continue
        if w.get("stacks") and stack not in w["stacks"]:
            continue
        if w.get("resources") and not any(fnmatch.fnmatchcase(finding["resource"], p) for p in w["resources"]):
            continue
        return w
    return None


def main(waivers_path: str, report_path: str) -> int:
    waivers = load_waivers(Path(waivers_path))
    report = json.loads(Path(report_path).read_text() or "{}")
    reports = report if isinstance(report, list) else [report]
    passed = failed = parsing_errors = 0
    unwaived: list[tuple[str, dict]] = []
    used: dict[str, int] = {}
    stacks: set[str] = set()
    for r in reports:
        summary = r.get("summary", {})
        passed += summary.get("passed", 0)
        parsing_errors += summary.get("parsing_errors", 0)
        for finding in r.get("results", {}).get("failed_checks", []):
            failed += 1
            stack = Path(finding.get("file_path", "")).parent.name
            stacks.add(stack)
            waiver = waiver_for(finding, stack, waivers)
            if waiver is None:
                unwaived.append((stack, finding))
            else:
                used[waiver["id"]] = used.get(waiver["id"], 0) + 1

    for stack, finding in sorted(unwaived, key=lambda x: (x[0], x[1]["check_id"], x[1]["resource"])):
        resource = finding["resource"]
        resource = resource if len(resource) <= 90 else resource[:87] + "..."
        print(f"NOT WAIVED  {stack}: {finding['check_id']} {finding['check_name']} [{resource}]")
    for w in waivers:
        if w["id"] not in used:
            print(f"stale waiver {w['id']}: matches no finding any more; delete it from {waivers_path}")
        elif w.get("temporary"):
            reason = " ".join(w["reason"].split())
            print(f"temporary waiver {w['id']} still needed ({used[w['id']]} finding(s)): {reason[:160]}")
    if parsing_errors:
        print(f"checkov could not parse {parsing_errors} file(s)")
    waived = sum(used.values())
    verdict = "FAIL" if unwaived or parsing_errors else "ok"
    version = next((r.get("summary", {}).get("checkov_version") for r in reports if r.get("summary")), "?")
    print(
        # Worded as checks and findings, not "N passed, N failed": CI reads that form as a test result.
        f"checkov {version}: {passed} checks clean, {failed} findings ({waived} waived: "
        f"{', '.join(sorted(used)) or 'none'}; {len(unwaived)} not waived) -> {verdict}"
    )
    return 1 if verdict == "FAIL" else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
