"""Keep the GitLab pipeline's stack list equal to the stacks that provision a cloud.

Usage: gitlab_stacks.py [--check] [ROOT]
Without --check, rewrites the ``STACK: [...]`` list of the ``.pulumi`` job in ROOT/.gitlab-ci.yml
(run by ``make golden``). With --check, prints one line naming the command and exits 1 when the list
is stale. GitHub's workflows list the stacks at run time with the same rule; GitLab's
``parallel:matrix`` must be written out, so this keeps it written.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

#: A stack that provisions a cloud has a top-level ``triton-platform:gcp`` or ``triton-platform:aws``
#: key (the workflows' ``grep -lE '^  triton-platform:(gcp|aws):'``). A cloud-less stack (its
#: cluster is the kubeconfig's, e.g. Pulumi.local.yaml) is never deployed by CI runners.
PROVISIONS_A_CLOUD = re.compile(r"^  triton-platform:(gcp|aws):", re.MULTILINE)
_MATRIX_LINE = re.compile(r"^(?P<indent>\s*- STACK: )\[(?P<stacks>[^\]]*)\]\s*$", re.MULTILINE)
FIX = "run `make golden`"


def cloud_stacks(root: Path) -> list[str]:
    return sorted(
        path.name[len("Pulumi.") : -len(".yaml")]
        for path in root.glob("Pulumi.*.yaml")
        if PROVISIONS_A_CLOUD.search(path.read_text())
    )


def listed_stacks(root: Path) -> list[str]:
    pipeline = yaml.safe_load((root / ".gitlab-ci.yml").read_text())
    (entry,) = pipeline[".pulumi"]["parallel"]["matrix"]
    return sorted(entry["STACK"])


def problem(root: Path) -> str | None:
    """One line when the GitLab list differs from the cloud stacks, else None."""
    listed, wanted = listed_stacks(root), cloud_stacks(root)
    if listed == wanted:
        return None
    missing = [s for s in wanted if s not in listed]
    extra = [s for s in listed if s not in wanted]
    what = "; ".join(
        part
        for part in (
            f"lacks {', '.join(missing)}" if missing else "",
            f"still lists {', '.join(extra)}" if extra else "",
        )
        if part
    )
    return f".gitlab-ci.yml: the .pulumi job's STACK list {what} (the stacks with a gcp or aws section); {FIX}"


def update(root: Path) -> bool:
    """Rewrite the list in place (nothing else in the file changes); True when it changed."""
    path = root / ".gitlab-ci.yml"
    text = path.read_text()
    matches = list(_MATRIX_LINE.finditer(text))
    if len(matches) != 1:
        raise SystemExit(f"{path}: expected one `- STACK: [...]` line in the .pulumi job's parallel matrix")
    if problem(root) is None:
        return False
    match = matches[0]
    line = f"{match.group('indent')}[{', '.join(cloud_stacks(root))}]"
    path.write_text(text[: match.start()] + line + text[match.end() :])
    assert problem(root) is None
    return True


def main(argv: list[str]) -> int:
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    root = Path(args[0]) if args else Path.cwd()
    if check:
        found = problem(root)
        if found:
            print(found, file=sys.stderr)
            return 1
        return 0
    if update(root):
        print(f".gitlab-ci.yml: STACK list is now [{', '.join(cloud_stacks(root))}]")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
