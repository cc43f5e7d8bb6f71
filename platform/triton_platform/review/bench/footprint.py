"""M4: installed size of the core install and of each cloud's (its package extra), from this
environment's metadata, and the size of this environment itself (the quickstart's ``.venv``, which holds every extra).

For ``triton-platform[<extras>]`` the dependency closure is followed through each installed
distribution's requirements (markers evaluated for this interpreter), and the files each
distribution's RECORD lists are summed: the RECORD's size where it gives one, else the file's
size on disk (pip leaves ``.pyc`` sizes out). No network, no install: what a ``pip install`` of
the same locked versions puts on disk, byte-compiled.
"""

from __future__ import annotations

import os
import sys
from importlib import metadata
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from ...clouds import registered

PROJECT_DIST = "triton-platform"
#: The installs users choose between (the core, and each cloud's extra, named as the cloud), and the
#: cloud SDK each must leave out: the other built-in cloud's.
_SDKS = {cloud.key: cloud.sdk_distribution for cloud in registered() if cloud.sdk_distribution}
INSTALLS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "core": ((), None),
    **{cloud: ((cloud,), sdk) for cloud in _SDKS for other, sdk in _SDKS.items() if other != cloud},
}
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
            path = str(dist.locate_file(entry))
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


def _disk_bytes(path: str) -> int:
    """Bytes the file takes on disk, as ``du`` counts them (allocated blocks, symlinks not followed)."""
    try:
        return os.lstat(path).st_blocks * 512
    except OSError:
        return 0


def environment() -> dict[str, Any]:
    """What this virtualenv takes on disk (``du -s`` of ``sys.prefix``), split by what brought it.

    A quickstart's ``.venv`` is installed from requirements.lock, which holds every extra (both
    clouds, the test tools, the lab), so it is much bigger than any install a library user makes.
    The split follows the dependency closure: both clouds first, then each further extra's increment.
    """
    if sys.prefix == sys.base_prefix:
        return {"measured": False, "reason": "not in a virtualenv"}
    total = 0
    for directory, _, files in os.walk(sys.prefix):
        total += _disk_bytes(directory) + sum(_disk_bytes(os.path.join(directory, name)) for name in files)
    provided = metadata.metadata(PROJECT_DIST).get_all("Provides-Extra") or []
    clouds = tuple(_SDKS)
    layers = [clouds] + [(extra,) for extra in provided if extra not in (*clouds, "all")]
    parts: dict[str, float] = {}
    counted: set[str] = set()
    wanted: tuple[str, ...] = ()
    for layer in layers:
        wanted += layer
        dists, _ = closure(PROJECT_DIST, wanted)
        added = {name: dist for name, dist in dists.items() if name not in counted}
        counted |= set(added)
        size = sum(_disk_bytes(str(dist.locate_file(entry))) for dist in added.values() for entry in dist.files or [])
        parts[PROJECT_DIST + f"[{','.join(layer)}]" if not parts else f"+{','.join(layer)}"] = round(size / MB, 1)
    everything = list(metadata.distributions())
    return {
        "measured": True,
        "prefix": sys.prefix,
        "disk_mb": round(total / MB, 1),
        "distributions": len({canonicalize_name(d.metadata["Name"]) for d in everything}),
        "parts_mb": parts,
        "other_mb": round(total / MB - sum(parts.values()), 1),
    }
