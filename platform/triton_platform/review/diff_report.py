"""Markdown for a merge-request comment from an offline diff, and the ``triton-platform diff`` entry."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

from .diff import (
    COMMENT_MARKER,
    DEFAULT_MAX_CHARS,
    DiffInputError,
    RenderDirError,
    Report,
    StackDiff,
    diff_dirs,
    is_iam,
    is_secret_bearing,
    is_stateful,
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return f"`{text}`" if "`" not in text else f"``{text}``"


def to_markdown(report: Report, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    head = _summary(report)
    details = [_stack_details(s) for s in report.stacks if s.status != "unchanged"]
    full = "\n".join([*head, *details, _footer()])
    if len(full) <= max_chars:
        return full
    # Too long for a comment: keep the summary, the flags and per-stack tables; drop field details.
    short = "\n".join(
        [
            *head,
            *(_stack_details(s, with_fields=False) for s in report.stacks if s.status != "unchanged"),
            "> Field-level details were left out to fit the comment size limit; run `triton-platform diff` "
            "on the render artifacts to see them.\n",
            _footer(),
        ]
    )
    if len(short) <= max_chars:
        return short
    return short[: max_chars - 120] + "\n\n> … truncated to fit the comment size limit.\n"


def _summary(report: Report) -> list[str]:
    lines = [COMMENT_MARKER, "## Offline infrastructure diff", ""]
    changed = [s for s in report.stacks if s.status != "unchanged"]
    flagged = [(s.stack, subject, reason) for s in report.stacks for subject, reason in s.flagged]
    if not report.stacks:
        lines += ["No stacks were rendered on either side.", ""]
        return lines
    if not changed:
        lines += [f"No infrastructure change in {len(report.stacks)} stack(s).", ""]
    else:
        verdict = f"**{len(flagged)} change(s) need careful review.**" if flagged else "Nothing is flagged."
        lines += [f"{len(changed)} of {len(report.stacks)} stack(s) change. {verdict}", ""]
    lines += [
        "| Stack | Status | Added | Removed | Changed | Unchanged | Flagged |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for s in report.stacks:
        changed_count = s.count("changed") + s.count("renamed")
        flags = f"⚠️ {len(s.flagged)}" if s.flagged else "0"
        outputs = " (+ outputs)" if s.outputs else ""
        lines.append(
            f"| {_cell(s.stack)} | {s.status}{outputs} | {s.count('added')} | {s.count('removed')} | "
            f"{changed_count} | {s.unchanged} | {flags} |"
        )
    lines.append("")
    if flagged:
        lines += ["### ⚠️ Needs careful review", ""]
        for stack, subject, reason in flagged:
            where = f"**{_cell(stack)}**" + ("" if subject == "stack" else f" {_code(subject)}")
            lines.append(f"- {where}: {reason}")
        lines.append("")
    return lines


def _stack_details(s: StackDiff, with_fields: bool = True) -> str:
    lines = [f"### Stack `{s.stack}` ({s.status})", ""]
    if s.status in ("added", "removed"):
        return "\n".join(lines + _whole_stack_summary(s))
    if s.resources:
        lines += ["| | Resource | Type | Fields | Review |", "|---|---|---|---:|---|"]
        for r in s.resources:
            review = "⚠️ " + "; ".join(r.flags) if r.flags else "; ".join(r.notes)
            name = r.id.split("::", 1)[-1]
            fields = str(len(r.fields)) if r.kind != "removed" else ""
            lines.append(f"| {r.symbol} | {_code(name)} | {_code(r.type)} | {fields} | {_cell(review)} |")
        lines.append("")
    if with_fields:
        for r in s.resources:
            if r.kind == "removed" or not r.fields:
                continue
            lines += [
                f"<details><summary>{r.symbol} <code>{r.id}</code>: {len(r.fields)} field(s)</summary>",
                "",
                "```diff",
                *(f.line() for f in r.fields),
                "```",
                "</details>",
                "",
            ]
    if s.outputs:
        lines += [
            "<details><summary>Stack outputs</summary>",
            "",
            "```diff",
            *(f.line() for f in s.outputs),
            "```",
            "</details>",
            "",
        ]
    return "\n".join(lines)


def _whole_stack_summary(s: StackDiff) -> list[str]:
    """A stack added or removed as a whole: a count per type, names only where a reviewer looks
    (stateful, IAM, secret-bearing), no fields. The field-level view of a new stack is a diff
    against the stack it was copied from (``--stack-map``)."""
    by_type: dict[str, list[str]] = defaultdict(list)
    for r in s.resources:
        by_type[r.type].append(r.id.split("::", 1)[-1])
    verb = "created on its first `pulumi up`" if s.status == "added" else "no longer managed by this branch"
    lines = [f"{len(s.resources)} resource(s), {verb}:", "", "| Type | Count | Names |", "|---|---:|---|"]
    for type_, names in sorted(by_type.items()):
        shown = ", ".join(sorted(names)) if _names_matter(type_) else ""
        lines.append(f"| {_code(type_)} | {len(names)} | {_cell(shown)} |")
    if s.status == "added":
        lines += [
            "",
            "To review its settings field by field, compare it with the stack it was copied from: "
            f"`triton-platform diff BASE HEAD --stack-map <that stack>={s.stack}`.",
        ]
    return [*lines, ""]


def _names_matter(type_: str) -> bool:
    probe = {"type": type_, "custom": True, "inputs": {}}
    return is_stateful(probe) or is_iam(probe) or is_secret_bearing(probe)


def _footer() -> str:
    return (
        "<sub>Offline render under mocks (no cloud state): shows the intended change, not drift. Replacement "
        "is inferred from immutable fields; `pulumi preview --diff` is authoritative. Secret values are redacted, "
        "so a changed secret value does not show.</sub>\n"
    )


def run(
    base_dir: Path,
    head_dir: Path,
    output: Path | None = None,
    fail_on_flagged: bool = False,
    max_chars: int = DEFAULT_MAX_CHARS,
    stack_map: Mapping[str, str] | None = None,
) -> int:
    try:
        report = diff_dirs(base_dir, head_dir, stack_map)
    except (FileNotFoundError, RenderDirError, DiffInputError) as error:
        print(f"triton-platform diff: {error}", file=sys.stderr)
        return 2
    markdown = to_markdown(report, max_chars)
    if output is None:
        sys.stdout.write(markdown)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(markdown)
        flags = sum(len(s.flagged) for s in report.stacks)
        changed = sum(1 for s in report.stacks if s.status != "unchanged")
        print(f"{changed} of {len(report.stacks)} stack(s) changed, {flags} flagged -> {output}")
    return 1 if fail_on_flagged and report.flagged else 0
