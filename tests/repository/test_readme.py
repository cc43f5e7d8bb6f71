"""The README and the pages under docs/ stay true: what they show is checked against the code.

- The README is a page a newcomer reads through (at most 200 lines): what it is, the two quickstart
  commands, the picture, where to go next (every docs page), and the Performance table.
- The Performance table is the benchmark's own table for the figures in benchmarks/results.json,
  verdicts included, as ``triton_platform.bench`` computes them today.
- The components snippet (docs/components.md) runs as written, under the same mocks as the render.
- The install lines name extras and a version that exist, and each cloud extra brings the SDK
  its components need.
- Every ``make <target>`` and ``triton-platform <command>`` the README or a docs page names exists.
- Every relative link of the README and the docs pages reaches a file of this repository, and its
  ``#anchor`` a heading of that file; no page points at an issue number or outside the repository.
"""

from __future__ import annotations

import json
import re
import tomllib

import pytest

from support import ROOT
from triton_platform.cli import main as cli
from triton_platform.review.bench.table import VERDICTS, render_markdown, table
from triton_platform.review.render import record

README = (ROOT / "README.md").read_text()
DOCS = {path.name: path.read_text() for path in sorted((ROOT / "docs").glob("*.md"))}
#: Every page a user reads: the README first, then docs/.
PAGES = {"README.md": README} | {f"docs/{name}": text for name, text in DOCS.items()}
#: Every Markdown file of the repository's own (not the virtualenvs' or caches').
MARKDOWN = sorted(
    [*ROOT.glob("*.md"), *ROOT.glob("docs/*.md")]
    + [
        path
        for folder in ("examples", "benchmarks", "tests", ".ci", "policy")
        for path in (ROOT / folder).rglob("*.md")
    ]
)
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def section(title: str, text: str = README, page: str = "README.md") -> str:
    """The page's ``## title`` section, up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"{page} has no '## {title}' section"
    return match[1]


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def prose(text: str) -> str:
    """The text without its fenced code blocks (a ``# comment`` in one is no heading)."""
    return re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)


def anchors(text: str) -> set[str]:
    """The ``#anchor`` of each heading, as GitHub derives it (repeats get ``-1``, ``-2``, ...)."""
    found: set[str] = set()
    repeats: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} (.+?)\s*$", prose(text), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        found.add(f"{slug}-{repeats[slug]}" if slug in repeats else slug)
        repeats[slug] = repeats.get(slug, 0) + 1
    return found


def links(text: str) -> list[str]:
    """The targets of the page's Markdown links (link text may span lines; code spans hold none)."""
    return re.findall(r"\[[^\]]*\]\(([^)\s]+)\)", re.sub(r"`[^`]*`", "", prose(text)))


def performance_rows() -> list[list[str]]:
    lines = [line for line in section("Performance").splitlines() if line.startswith("| ")]
    assert lines[0] == "| Measurement | Value | Goal | Verdict |"
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[1:]]


def test_the_readme_is_one_page_a_newcomer_reads_through():
    assert len(README.splitlines()) <= 200, f"README.md has {len(README.splitlines())} lines; move detail to docs/"
    titles = re.findall(r"^## (.+)$", prose(README), re.MULTILINE)
    assert titles[:3] == ["Quickstart (no cloud account, no Pulumi CLI needed)", "Architecture", "Where to go next"], (
        titles
    )
    assert "Performance" in titles
    (quickstart,) = code_blocks(section(titles[0]), "bash")
    assert [line.split("#")[0].strip() for line in quickstart.splitlines()] == ["make render", "make test"]
    assert code_blocks(section("Architecture"), "mermaid"), "the README's Architecture section has no diagram"


def test_the_readme_links_every_docs_page_and_every_page_it_links_exists():
    linked = {target.split("#")[0] for target in links(section("Where to go next"))}
    pages = {f"docs/{name}" for name in DOCS}
    assert len(pages) >= 6, sorted(pages)
    assert pages <= linked, f"docs pages the README's 'Where to go next' does not list: {sorted(pages - linked)}"
    missing = sorted(target for target in linked if not (ROOT / target).is_file())
    assert not missing, f"README's 'Where to go next' lists pages that do not exist: {missing}"
    assert "docs/configuration.md" in linked


def test_every_relative_link_reaches_a_file_of_the_repository_and_a_heading():
    broken = []
    for page, text in PAGES.items():
        source = ROOT / page
        for target in links(text):
            if re.match(r"[a-z][a-z+.-]*:", target):  # https:, mailto:: not a file of this repository
                continue
            path, _, anchor = target.partition("#")
            resolved = (source.parent / path).resolve() if path else source
            if not resolved.is_relative_to(ROOT):
                broken.append(f"{page}: {target} leaves the repository")
            elif not resolved.exists():
                broken.append(f"{page}: {target} does not exist")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved.read_text()):
                broken.append(f"{page}: {target} names no heading of {resolved.relative_to(ROOT)}")
    assert not broken, "\n".join(broken)


def test_no_page_names_an_issue_number_or_a_path_outside_the_repository():
    assert {ROOT / "README.md", ROOT / "docs" / "deploy.md", ROOT / "tests" / "e2e" / "README.md"} <= set(MARKDOWN)
    issue = re.compile(
        r"(?<!&)#\d+(?![\w-])|\b(?:issues?|tickets?|PR|pull requests?|bugs?)\s+#?\d+\b|\bGH-\d+", re.IGNORECASE
    )
    outside = re.compile(r"(?:\.\./)+shared\b|/work/|/tmp/helpers/")
    assert all(issue.search(ref) for ref in ("see #19", "server#3001", "issue 19", "Issues 3", "PR #7", "GH-12"))
    assert not any(issue.search(text) for text in ("[Layout](#layout)", "&#124;", "issues/3001", "[0]"))
    assert outside.search("../../shared/reference") and outside.search("/work/main/README.md")
    found = []
    for path in MARKDOWN:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in (*issue.finditer(line), *outside.finditer(line)):
                found.append(f"{path.relative_to(ROOT)}:{number}: {match[0]!r} in {line.strip()!r}")
    assert not found, "\n".join(found)


def test_every_performance_row_has_a_verdict_the_benchmark_uses():
    rows = performance_rows()
    assert len(rows) >= 20
    for measurement, _, _, verdict in rows:
        assert verdict in VERDICTS, f"{measurement}: verdict {verdict!r} is not one of {VERDICTS}"


def test_the_performance_table_is_what_the_benchmark_computes_from_the_results_file():
    results = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    assert not results["quick"], "the README shows a full run"
    expected = render_markdown(table(results["results"]))
    assert expected in section("Performance"), (
        "README's Performance table differs from benchmarks/results.json as triton_platform.bench reads it; "
        "paste the output of `.venv/bin/python -m triton_platform.bench.table`:\n" + expected
    )


def test_the_benchmark_gives_only_known_verdicts():
    results = json.loads((ROOT / "benchmarks" / "results.json").read_text())["results"]
    for row in table(results):
        assert row.verdict in VERDICTS or row.value == "not measured", row


def using_the_components() -> str:
    return section("Using the components in your own Pulumi project", DOCS["components.md"], "docs/components.md")


def test_the_components_snippet_runs_as_written_with_its_own_provider():
    (snippet,) = code_blocks(using_the_components(), "python")
    program = compile(snippet, "docs/components.md (Using the components)", "exec")
    render = record(lambda: exec(program, {"__name__": "__main__"}), stack="readme")
    deployments = render.find("kubernetes:apps/v1:Deployment")
    assert [d["inputs"]["metadata"]["name"] for d in deployments] == ["triton-vision"]
    assert deployments[0]["provider"] == "pulumi:providers:kubernetes::my-cluster"
    assert set(render.outputs["endpoints"]) == {"vision"}


def test_the_install_lines_name_a_real_version_and_extras():
    using = using_the_components()
    installs = re.findall(r"pip install 'triton-platform(?:\[(\w+)\])?==([\w.]+)'", using)
    assert {extra for extra, _ in installs} == {"", "gcp", "aws"}
    assert {version for _, version in installs} == {PYPROJECT["project"]["version"]}
    extras = PYPROJECT["project"]["optional-dependencies"]
    for cloud, sdk in (("gcp", "pulumi-gcp"), ("aws", "pulumi-aws")):
        assert any(requirement.startswith(sdk) for requirement in extras[cloud]), f"[{cloud}] must bring {sdk}"
        assert f"triton_components.{cloud}" in using and sdk in using


def make_targets_named(text: str) -> set[str]:
    return set(re.findall(r"`make (\w+)`", text)) | {
        target for block in code_blocks(text, "bash") for target in re.findall(r"^make (\w+)", block, re.MULTILINE)
    }


def test_every_make_target_the_readme_and_the_docs_name_exists():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*)\s*:(?!=)", makefile, re.MULTILINE))
    assert {"help", "render", "test"} <= make_targets_named(README)
    for page, text in PAGES.items():
        named = make_targets_named(text)
        assert named <= targets, f"{page} names make targets that do not exist: {sorted(named - targets)}"
    assert {"e2e", "golden", "lab"} <= make_targets_named(DOCS["development.md"])


def test_every_cli_command_the_readme_and_the_docs_name_exists(capsys):
    with pytest.raises(SystemExit):
        cli(["--help"])
    commands = set(re.search(r"\{([\w,-]+)\}", capsys.readouterr().out)[1].split(","))
    assert ".venv/bin/triton-platform" in section("Quickstart (no cloud account, no Pulumi CLI needed)")
    for page, text in PAGES.items():
        named = set(re.findall(r"triton-platform ([a-z]+)\b", text))
        assert named <= commands, f"{page} names CLI commands that do not exist: {sorted(named - commands)}"
    named = {command for text in PAGES.values() for command in re.findall(r"triton-platform ([a-z]+)\b", text)}
    assert {"render", "validate", "diff", "bench", "model"} <= named
