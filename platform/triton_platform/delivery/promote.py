"""``model promote``: copy the versions a canary serves into the stable repository.

Run it when the canary carries all the traffic (``trafficPercent: {stable: 0, canary: 100}``): the
stable pods then serve nobody, so they can be made to load the promoted versions (restart or
``model load``) before traffic returns to them. Copies are server-side, in the same order as a
publish (model file last, ``config.pbtxt`` of a new model after its versions), never overwrite,
and are undone if one fails. A model whose ``config.pbtxt`` differs between the two paths is
refused: a config applies to every version, so it cannot change in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .backends import declared_model_file
from .check import CONFIG_FILE
from .publish import PublishRefused, Upload, place
from .storage import Location, ObjectStore


@dataclass
class PromoteResult:
    copied: dict[str, list[int]] = field(default_factory=dict)
    new_models: list[str] = field(default_factory=list)


def _parse(text: str | None) -> Any:
    from google.protobuf import text_format

    from . import _extras

    if text is None:
        return None
    config = _extras.model_config_pb2().ModelConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError:
        return None
    return config


def _entry(config: Any) -> str:
    return (declared_model_file(config) or "").rstrip("/")


def _by_version(keys: dict[str, int], base: str) -> dict[int, dict[str, int]]:
    versions: dict[int, dict[str, int]] = {}
    for key, size in keys.items():
        rest = key[len(base) :].split("/", 1)
        if len(rest) == 2 and rest[0].isdigit():
            versions.setdefault(int(rest[0]), {})[rest[1]] = size
    return versions


def promote(
    store: ObjectStore,
    canary: Location,
    stable: Location,
    models: list[str] | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> PromoteResult:
    """Copy every version in ``canary`` missing from ``stable`` (all models, or ``models``)."""
    store.check_bucket()
    canary_keys = store.list(canary.key() + "/" if canary.prefix else "")
    names = models or sorted({k[len(canary.key()) :].lstrip("/").split("/", 1)[0] for k in canary_keys})
    refusals: list[str] = []
    plans: list[tuple[str, list[Upload], list[int], bool]] = []
    for model in names:
        source_base, target_base = canary.key(model) + "/", stable.key(model) + "/"
        source = {k: s for k, s in canary_keys.items() if k.startswith(source_base)}
        if not source:
            refusals.append(f"{canary.url}/{model}: not in the canary repository")
            continue
        target = store.list(target_base)
        source_config = _parse(store.read_text(source_base + CONFIG_FILE))
        if source_config is None:
            refusals.append(f"{canary.url}/{model}/{CONFIG_FILE}: missing or unreadable")
            continue
        new_model = not target
        if not new_model and _parse(store.read_text(target_base + CONFIG_FILE)) != source_config:
            refusals.append(
                f"{canary.url}/{model}/{CONFIG_FILE}: differs from {stable.url}/{model}/{CONFIG_FILE}; a "
                "config applies to every version and is not changed in place (promote under a new model name)"
            )
            continue
        source_versions, target_versions = _by_version(source, source_base), _by_version(target, target_base)
        for version in sorted(set(source_versions) & set(target_versions)):
            if source_versions[version] != target_versions[version]:
                refusals.append(
                    f"{stable.url}/{model}/{version}: exists with other content than the canary's; "
                    "never overwritten (publish the canary's model as a new version)"
                )
        missing = sorted(set(source_versions) - set(target_versions))
        entry = _entry(source_config)
        uploads: list[Upload] = []
        if new_model:
            uploads += [
                Upload(target_base + rel, source_key=source_base + rel)
                for rel in sorted(k[len(source_base) :] for k in source)
                if "/" not in rel and rel != CONFIG_FILE
            ]
        for version in missing:
            files = sorted(source_versions[version], key=lambda rel: (bool(entry) and rel.split("/")[0] == entry, rel))
            uploads += [
                Upload(f"{target_base}{version}/{rel}", source_key=f"{source_base}{version}/{rel}") for rel in files
            ]
        if new_model:
            uploads.append(Upload(target_base + CONFIG_FILE, source_key=source_base + CONFIG_FILE))
        plans.append((model, uploads, missing, new_model))
    if refusals:
        raise PublishRefused(refusals)
    result = PromoteResult()
    for model, uploads, versions, new_model in plans:
        if not uploads:
            log(f"{model}: stable already has every canary version")
            continue
        place(store, uploads, lambda item: None)
        result.copied[model] = versions
        if new_model:
            result.new_models.append(model)
        log(f"promoted {model} version(s) {versions} from {canary.url} to {stable.url}")
    return result
