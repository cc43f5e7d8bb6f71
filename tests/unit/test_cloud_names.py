"""A cloud is one folder: outside ``triton_platform/clouds/``, no code, comment or string names one.

The platform reaches a cloud only through the registry (``clouds/registry.py``), so a cloud added,
changed or removed is a change to its folder alone. Words are matched whole, also inside
identifiers (``pulumi_gcp``, ``GcsStore``, ``eksCluster``), case-insensitively.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "platform" / "triton_platform"
CLOUD_WORDS = frozenset({"gcp", "aws", "gke", "eks", "gcs", "s3"})

#: What must stay, by file and the text of the line: user-facing prose of the configuration reference
#: (docs/configuration.md is generated from these docstrings), where the examples name real services.
ALLOWED = {
    ("config/serving.py", 'S3/STS, Private Service Connect for Google APIs), reachable on 443."""'),
    # Kubernetes' own API: a PersistentVolume source field (core/v1), not cloud knowledge of ours.
    ("review/diff.py", '"awsElasticBlockStore",'),
    (
        "config/serving.py",
        '"""An existing model repository (``gs://…``, ``s3://…`` or a path in the pod); required without a cloud',
    ),
}


def _words(line: str) -> set[str]:
    """The line's words, identifiers split at ``_`` and at camelCase boundaries, lowercased."""
    return {
        part.lower()
        for token in re.findall(r"[A-Za-z0-9]+", line)
        for part in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+[0-9]*(?![a-z])", token)
    }


def cloud_names_outside_clouds() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("clouds/"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            named = CLOUD_WORDS & _words(line)
            if named and (relative, line.strip()) not in ALLOWED:
                found.append(
                    f"platform/triton_platform/{relative}:{number}: {', '.join(sorted(named))}: {line.strip()}"
                )
    return found


def test_nothing_outside_the_clouds_folder_names_a_cloud():
    assert cloud_names_outside_clouds() == [], "move cloud knowledge into clouds/<cloud>/ and reach it via the registry"


def test_every_allowed_line_still_exists():
    lines = {
        (path.relative_to(PACKAGE).as_posix(), line.strip())
        for path in PACKAGE.rglob("*.py")
        for line in path.read_text(encoding="utf-8").splitlines()
    }
    assert sorted(ALLOWED - lines) == []


def test_the_word_match_finds_cloud_names_in_identifiers_and_prose():
    assert _words("import pulumi_gcp as gcp") >= {"gcp"}
    assert {"gcs", "s3"} <= _words("class GcsStore(S3Store): ...")
    assert "eks" in _words("eksCluster = 'EKS'")
    assert not CLOUD_WORDS & _words("Kubernetes secrets: a gsutil-free awsome gkeeper")
