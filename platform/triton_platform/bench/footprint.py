"""M4: installed size of the core, GCP-only and AWS-only installs, from this environment's metadata.

For ``triton-platform[<extras>]`` the dependency closure is followed through each installed
distribution's requirements (markers evaluated for this interpreter), and the files each
distribution's RECORD lists are summed: the RECORD's size where it gives one, else the file's
size on disk (pip leaves ``.pyc`` sizes out). No network, no install: what a ``pip install`` of
the same locked versions puts on disk, byte-compiled.
"""

from __future__ import annotations

import os
from importlib import metadata
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT_DIST = "triton-platform"
#: The installs users choose between, and the cloud SDK each must leave out.
INSTALLS = {"core": ((), None), "gcp": (("gcp",), "pulumi-aws"), "aws": (("aws",), "pulumi-gcp")}
MB = 1_000_000


def closure(name: str, extras: tuple[str, ...] = ()) -> tuple[dict[str, metadata.Distribution], list[str]]:
    """Installed distributions ``name[extras]`` needs (itself included), and required ones missing."""
    found: dict[str, metadata.Distribution] = {}
    missing: list[str] = []
    seen: set[tuple[str, frozenset[str]]] = set()
    queue = [(canonicalize_name(name), frozenset(extras))]
    while queue:
        dist_name, wanted = queue.pop()
        if (dist_name, wanted) in seen:
            continue
        seen.add((dist_name, wanted))
        try:
            dist = found.get(dist_name) or metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            missing.append(dist_name)
            continue
        found[dist_name] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            environments = [{"extra": extra} for extra in ("", *sorted(wanted))]
            if requirement.marker is None or any(requirement.marker.evaluate(env) for env in environments):
                queue.append((canonicalize_name(requirement.name), frozenset(requirement.extras)))
    return found, sorted(set(missing))


def installed_bytes(dist: metadata.Distribution) -> tuple[int, int]:
    """All bytes the distribution's RECORD lists, and of those the byte-compiled ``.pyc`` files."""
    total = bytecode = 0
    for entry in dist.files or []:
        size = entry.size
        if size is None:
            path = dist.locate_file(entry)
            size = os.path.getsize(path) if os.path.isfile(path) else 0
        total += size
        if entry.suffix == ".pyc":
            bytecode += size
    return total, bytecode


def footprint() -> dict[str, Any]:
    result: dict[str, Any] = {}
    for install, (extras, foreign) in INSTALLS.items():
        dists, missing = closure(PROJECT_DIST, extras)
        measured = {name: installed_bytes(dist) for name, dist in dists.items()}
        sizes = {name: total for name, (total, _) in measured.items()}
        largest = sorted(sizes.items(), key=lambda item: -item[1])[:5]
        result[install] = {
            "requirement": PROJECT_DIST + (f"[{','.join(extras)}]" if extras else ""),
            "megabytes": round(sum(sizes.values()) / MB, 1),
            # What `pip install --no-compile` leaves (bytecode is then written on first import).
            "without_bytecode_mb": round(sum(total - pyc for total, pyc in measured.values()) / MB, 1),
            "distributions": len(dists),
            "largest_mb": {name: round(size / MB, 1) for name, size in largest},
            "foreign_sdk": foreign,
            "foreign_sdk_included": foreign is not None and canonicalize_name(foreign) in dists,
            "missing": missing,
        }
    return result
