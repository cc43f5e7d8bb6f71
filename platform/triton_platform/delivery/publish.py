"""``model publish``: check, then upload new model versions so Triton never sees half of one.

Object stores have no folders and no rename: Triton lists a repository by key prefix, so a version
folder ``<model>/<N>/`` exists for Triton as soon as its first object does. The order is therefore:

1. **Check everything first** (``check``), then every precondition (the bucket exists, no version
   being published exists, the model's ``config.pbtxt`` matches the one already served). Any
   failure here and nothing was written.
2. **Upload to a staging prefix** outside the repository (``.triton-platform-staging/<id>/`` at the
   bucket root), which no Triton lists. A failed or interrupted upload leaves the repository as it
   was; the staging objects are deleted.
3. **Copy server-side into place, the file that makes the version loadable last**: every other file
   of the version first, then the backend's model file (``model.onnx``, ``model.py``...), and for a
   new model its ``config.pbtxt`` after all versions. Each object appears whole (a single PUT, a
   completed multipart upload or a server-side rewrite), so a single-file version appears in one step; for a
   multi-file version the window in which the folder exists without its model file is the few
   seconds of server-side copies, and a Triton starting in it fails that model's load (our pods
   then exit and restart, never having been ready, so no request reaches them).
4. If a copy fails, the objects this run already copied are deleted: the repository is as it was.

Existing versions are never overwritten (they are listed before writing and, where the store offers it, every
copy is conditional on the target not existing).
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .check import CONFIG_FILE, ModelInfo, Problem, check_repository
from .group import GroupSpec
from .storage import Location, ObjectStore, StorageError

STAGING_ROOT = ".triton-platform-staging"
#: Files that are never part of a model (editor, notebook and bytecode leftovers).
IGNORED_NAMES = frozenset({"__pycache__", ".ipynb_checkpoints", ".DS_Store", ".git"})
#: Object stores cannot hold an empty folder; an ensemble's version folder gets this empty file.
EMPTY_FOLDER_MARKER = ".triton-platform-keep"


class PublishRefused(RuntimeError):
    """Nothing was written: the model failed ``check`` or a precondition. One line per problem."""

    def __init__(self, problems: list[Problem] | list[str]) -> None:
        self.problems = [str(p) for p in problems]
        super().__init__("\n".join(self.problems))


@dataclass
class Upload:
    """One file to place: local path (or an existing key for copies) and the key it gets."""

    key: str
    path: Path | None = None
    source_key: str | None = None


@dataclass
class PublishedModel:
    name: str
    versions: list[int]
    new_model: bool
    keys: list[str] = field(default_factory=list)


@dataclass
class PublishResult:
    location: Location
    models: list[PublishedModel]


def remote_versions(store: ObjectStore, location: Location, model: str) -> tuple[dict[str, int], list[int]]:
    keys = store.list(location.key(model) + "/")
    versions = {k.split("/")[len(location.key(model).split("/"))] for k in keys}
    return keys, sorted(int(v) for v in versions if v.isdigit())


def publish(
    source: str | Path,
    location: Location,
    store: ObjectStore,
    *,
    group: GroupSpec | None = None,
    version: int | str | None = None,
    log: Callable[[str], None] = lambda line: None,
    triton: bool = True,
) -> PublishResult:
    """Check ``source`` (a model folder or a repository) and publish its versions to ``location``.

    ``version``: publish a model folder's single version folder as this number, or ``"next"`` for one
    above the highest in the repository. Default: keep the local version numbers.
    ``triton``: run Triton's own validation in the check, as ``model check`` does (False: the fast checks).
    Raises ``PublishRefused`` (nothing written) or ``StorageError``.
    """
    report = check_repository(source, group, triton=triton)
    for line in report.lines():
        log(line)
    if report.problems:
        raise PublishRefused(report.problems)
    inspection = report.inspection
    models = list(inspection.models.values())
    if version is not None and (len(models) != 1 or len(models[0].versions) != 1):
        raise PublishRefused(
            [
                "--version: give a model folder with exactly one version folder (found "
                + ", ".join(f"{m.name}: {m.versions}" for m in models)
                + ")"
            ]
        )
    store.check_bucket()

    plans: list[tuple[ModelInfo, dict[int, int], bool]] = []
    refusals: list[str] = []
    for info in models:
        keys, existing = remote_versions(store, location, info.name)
        if version is None:
            mapping = {v: v for v in info.versions}
        else:
            target = (max(existing, default=0) + 1) if version == "next" else int(version)
            mapping = {info.versions[0]: target}
        new_model = not keys
        refusals += _preconditions(info, location, store, keys, existing, mapping, new_model)
        plans.append((info, mapping, new_model))
    if refusals:
        raise PublishRefused(refusals)

    uploads = [
        (info, mapping, new_model, _files(info, location, mapping, new_model)) for info, mapping, new_model in plans
    ]
    staging = f"{STAGING_ROOT}/{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    # A repository at the bucket root has no "outside": upload in place, in the same order.
    use_staging = bool(location.prefix)
    staged: list[str] = []
    try:
        if use_staging:
            for _, _, _, files in uploads:
                for item in files:
                    staged_key = f"{staging}/{item.key}"
                    _put(store, staged_key, item.path)
                    staged.append(staged_key)
                    item.source_key = staged_key
            log(f"uploaded {len(staged)} file(s) to {location.at(staging).url} (staging)")
        result = PublishResult(location, [])
        for info, mapping, new_model, files in uploads:
            _, now = remote_versions(store, location, info.name)
            clash = sorted(set(now) & set(mapping.values()))
            if clash:
                raise StorageError(
                    f"{location.url}/{info.name}: version(s) {clash} appeared meanwhile; never overwritten"
                )
            place(store, files, lambda item: _put(store, item.key, item.path))
            result.models.append(PublishedModel(info.name, sorted(mapping.values()), new_model, [f.key for f in files]))
            log(f"published {info.name} version(s) {sorted(mapping.values())} to {location.url}/{info.name}/")
        return result
    finally:
        if staged:
            store.delete(staged)


def place(store: ObjectStore, files: list[Upload], put: Callable[[Upload], None]) -> None:
    """Write ``files`` in order (server-side copy where a source key is known); undo all on failure."""
    written: list[str] = []
    try:
        for item in files:
            if item.source_key is not None:
                store.copy(item.source_key, item.key)
            else:
                put(item)
            written.append(item.key)
    except BaseException:
        if written:
            store.delete(written)
        raise


def _put(store: ObjectStore, key: str, path: Path | None) -> None:
    if path is None:
        with tempfile.TemporaryDirectory(prefix="triton-platform-") as tmp:
            empty = Path(tmp, "empty")
            empty.touch()
            store.upload(key, empty)
    else:
        store.upload(key, path)


def _preconditions(
    info: ModelInfo,
    location: Location,
    store: ObjectStore,
    keys: dict[str, int],
    existing: list[int],
    mapping: dict[int, int],
    new_model: bool,
) -> list[str]:
    problems: list[str] = []
    where = f"{location.url}/{info.name}"
    taken = sorted(set(mapping.values()) & set(existing))
    if taken:
        problems.append(
            f"{where}: version(s) {taken} already exist and are never overwritten; publish with "
            f"--version {max(existing) + 1} (or --version next)"
        )
    if new_model:
        return problems
    remote_config = store.read_text(location.key(info.name, CONFIG_FILE))
    if remote_config is None:
        problems.append(
            f"{where}/{CONFIG_FILE}: missing in the repository although the model folder has objects; "
            "repair the repository first"
        )
    elif not _same_config(remote_config, info):
        problems.append(
            f"{info.path / CONFIG_FILE}: differs from {where}/{CONFIG_FILE}; Triton applies one config to every "
            "version, so changing it in place changes the versions already served. Publish the model under a new "
            "name, or into a fresh path that a canary serves (see docs/models.md, 'Serving your model')"
        )
    for path in sorted(info.path.iterdir()):
        if path.is_file() and path.name != CONFIG_FILE and path.name not in IGNORED_NAMES:
            key = location.key(info.name, path.name)
            if keys.get(key) != path.stat().st_size:
                problems.append(
                    f"{path}: differs from (or is missing in) {where}/{path.name}; model-level files "
                    "are shared by every version and are not replaced in place"
                )
    return problems


def _same_config(remote_text: str, info: ModelInfo) -> bool:
    from google.protobuf import text_format

    remote = type(info.config)()
    try:
        text_format.Parse(remote_text, remote)
    except text_format.ParseError:
        return False
    return remote == info.config


def _files(info: ModelInfo, location: Location, mapping: dict[int, int], new_model: bool) -> list[Upload]:
    """Every file to write, in the order that keeps Triton from loading an incomplete version."""
    ordered: list[Upload] = []
    entry = (info.model_file or "").rstrip("/")
    for local_version, remote_version in sorted(mapping.items()):
        folder = info.path / str(local_version)
        files = [
            p for p in sorted(folder.rglob("*")) if p.is_file() and not IGNORED_NAMES & set(p.relative_to(folder).parts)
        ]
        is_entry = [bool(entry) and (p.relative_to(folder).parts[0] == entry) for p in files]
        version_key = location.key(info.name, str(remote_version))
        for path, _entry in sorted(zip(files, is_entry, strict=True), key=lambda pair: pair[1]):
            ordered.append(Upload(f"{version_key}/{path.relative_to(folder).as_posix()}", path))
        if not files:
            ordered.append(Upload(f"{version_key}/{EMPTY_FOLDER_MARKER}", None))
    if new_model:
        extras = [p for p in sorted(info.path.iterdir()) if p.is_file() and p.name not in IGNORED_NAMES | {CONFIG_FILE}]
        ordered = [Upload(location.key(info.name, p.name), p) for p in extras] + ordered
        ordered.append(Upload(location.key(info.name, CONFIG_FILE), info.path / CONFIG_FILE))
    return ordered
