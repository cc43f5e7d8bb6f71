"""``model check``: read a model folder or a whole repository the way Triton will, before any upload.

Each ``config.pbtxt`` is parsed with Triton's own ``ModelConfig`` protobuf (from tritonclient), so
a file Triton cannot read is never accepted here. The rules then cover what Triton rejects when it
loads the model (each seen on the real server in ``tests/delivery``) and what this platform cannot
serve (a model name its routes cannot carry, GPU instances on a group without GPUs, an ensemble
step outside the group). Every problem is one line naming the file and the field.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _extras
from .backends import BACKEND_FILES, OTHER_KNOWN_BACKENDS, PLATFORM_FILES, declared_model_file
from .config_rules import check_config
from .group import GroupSpec

CONFIG_FILE = "config.pbtxt"
#: Model names the gateway routes can carry (``/v2/models/<name>``, the ``triton-model`` header).
MODEL_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")

@dataclass(frozen=True)
class Problem:
    """One thing Triton would reject, or this platform cannot serve."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


@dataclass
class ModelInfo:
    """What check learnt about one model folder (used by publish)."""

    name: str
    path: Path
    config: Any = None
    config_text: str = ""
    versions: list[int] = field(default_factory=list)
    #: The file (or ``dir/``) Triton loads from each version folder; None for ensembles.
    model_file: str | None = None

    @property
    def is_ensemble(self) -> bool:
        return self.config is not None and self.config.platform == "ensemble"

    def served_versions(self) -> list[int]:
        """The versions Triton loads under the config's version policy."""
        if self.config is None or not self.versions:
            return []
        policy = self.config.version_policy
        kind = policy.WhichOneof("policy_choice")
        if kind == "all":
            return sorted(self.versions)
        if kind == "specific":
            return sorted(v for v in self.versions if v in set(policy.specific.versions))
        count = policy.latest.num_versions if kind == "latest" else 1
        return sorted(self.versions)[-count:] if count > 0 else []


@dataclass
class Inspection:
    models: dict[str, ModelInfo] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def check_model_repository(path: str | Path, group: GroupSpec | None = None) -> list[Problem]:
    """Every problem of a model folder or a repository (a folder of model folders); empty means OK."""
    return inspect_repository(path, group).problems


def is_model_folder(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file() or any(_version_number(p.name) is not None for p in _subdirs(path))


def inspect_repository(path: str | Path, group: GroupSpec | None = None) -> Inspection:
    root = Path(path)
    result = Inspection()
    if not root.is_dir():
        result.problems.append(Problem(str(root), "(folder)", "does not exist or is not a folder"))
        return result
    folders = [root] if is_model_folder(root) else [p for p in _subdirs(root) if not p.name.startswith(".")]
    if not folders:
        result.problems.append(
            Problem(str(root), "(folder)", "holds no model folder; expected <model>/config.pbtxt and <model>/<version>/")
        )
    for folder in folders:
        info = _inspect_model(folder, result.problems, group)
        result.models[info.name] = info
    for info in result.models.values():
        if info.is_ensemble:
            _check_ensemble(info, result, group)
    return result


def _subdirs(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir())


def _version_number(name: str) -> int | None:
    return int(name) if name.isdigit() else None


def _inspect_model(folder: Path, problems: list[Problem], group: GroupSpec | None) -> ModelInfo:
    info = ModelInfo(name=folder.name, path=folder)
    config_path = folder / CONFIG_FILE
    shown = str(config_path)
    if not MODEL_NAME.match(folder.name):
        problems.append(
            Problem(str(folder), "(folder name)", f"{folder.name!r} is not a model name the gateway can route; "
                    "use letters, digits, '_', '.' and '-' only")
        )
    info.versions = sorted(v for v in (_version_number(p.name) for p in _subdirs(folder)) if v is not None)
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() and not path.exists():
            problems.append(Problem(str(path), "(file)", "is a broken symbolic link; publish would have nothing to upload"))
        elif path.is_file() and not os.access(path, os.R_OK):
            problems.append(Problem(str(path), "(file)", "cannot be read"))
    if not config_path.is_file():
        problems.append(
            Problem(shown, "(file)", "is missing; the platform runs Triton with --disable-auto-complete-config, "
                    "so every model needs a config.pbtxt")
        )
        return info
    try:
        info.config_text = config_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        problems.append(Problem(shown, "(file)", f"cannot be read: {error}"))
        return info
    pb2 = _extras.model_config_pb2()
    from google.protobuf import text_format

    config = pb2.ModelConfig()
    try:
        text_format.Parse(info.config_text, config)
    except text_format.ParseError as error:
        where = f"line {error.GetLine()} column {error.GetColumn()}" if error.GetLine() else "(syntax)"
        message = str(error).split(" : ", 1)[-1]
        problems.append(Problem(shown, where, f"Triton cannot parse this file: {message}"))
        return info
    info.config = config
    if config.name and config.name != folder.name:
        problems.append(
            Problem(shown, "name", f"is {config.name!r} but the folder is {folder.name!r}; Triton requires them "
                    "to be equal (rename one, or remove name)")
        )
    problems.extend(Problem(shown, f, m) for f, m in check_config(config, folder.name, group))
    for i, output in enumerate(config.output):
        if output.label_filename and not (folder / output.label_filename).is_file():
            problems.append(
                Problem(shown, f"output[{i}] {output.name!r}.label_filename", f"{output.label_filename!r} is not "
                        f"in {folder.name}/; Triton fails to load the model without it")
            )
    info.model_file = _model_file(config, folder, shown, problems)
    _check_versions(info, shown, problems)
    return info


def _model_file(config: Any, folder: Path, shown: str, problems: list[Problem]) -> str | None:
    if config.platform == "ensemble":
        return None
    declared = declared_model_file(config)
    if declared is not None:
        return declared
    if config.backend in OTHER_KNOWN_BACKENDS:
        return None
    if config.backend:
        known = sorted({*BACKEND_FILES, *OTHER_KNOWN_BACKENDS})
        problems.append(
            Problem(shown, "backend", f"{config.backend!r} is not a backend of NVIDIA's Triton images "
                    f"({', '.join(known)}); Triton fails with 'unable to find backend library'")
        )
        return None
    if config.platform:
        problems.append(
            Problem(shown, "platform", f"{config.platform!r} is not a Triton platform; use one of "
                    f"{', '.join(sorted([*PLATFORM_FILES, 'ensemble']))}, or set backend")
        )
        return None
    # Neither set: Triton picks the backend from the file it finds (model.py -> python, ...).
    found = {f for f in (*PLATFORM_FILES.values(), *BACKEND_FILES.values())
             for v in folder.iterdir() if v.is_dir() and (v / f.rstrip("/")).exists()}
    if len(found) == 1:
        return found.pop()
    problems.append(Problem(shown, "backend", "is not set and no single known model file identifies one; "
                            "set backend (e.g. \"onnxruntime\", \"python\") or platform"))
    return None


def _check_versions(info: ModelInfo, shown: str, problems: list[Problem]) -> None:
    config, folder = info.config, info.path
    policy = config.version_policy
    if policy.WhichOneof("policy_choice") == "specific":
        missing = sorted(set(policy.specific.versions) - set(info.versions))
        if missing:
            problems.append(
                Problem(shown, "version_policy.specific.versions", f"names version(s) {missing} with no folder "
                        f"(folders: {info.versions or 'none'}); Triton will not load them")
            )
    if not info.versions:
        problems.append(
            Problem(str(folder), "(version folders)", "none found; Triton needs at least one numeric folder "
                    f"such as {folder.name}/1/" + ("" if info.is_ensemble else " holding the model file"))
        )
        return
    if not info.served_versions():
        if policy.WhichOneof("policy_choice") == "latest" and policy.latest.num_versions < 1:
            problems.append(Problem(shown, "version_policy.latest.num_versions", "must be 1 or more"))
        return
    if info.model_file is None:
        return
    wanted = info.model_file.rstrip("/")
    for version in info.served_versions():
        target = folder / str(version) / wanted
        ok = target.is_dir() if info.model_file.endswith("/") else target.is_file()
        if not ok:
            problems.append(
                Problem(str(folder / str(version)), info.model_file, "is missing; Triton loads this file from "
                        "each version folder (set default_model_filename in config.pbtxt if it has another name)")
            )


def _check_ensemble(info: ModelInfo, result: Inspection, group: GroupSpec | None) -> None:
    shown = str(info.path / CONFIG_FILE)
    steps = info.config.ensemble_scheduling.step
    if not steps:
        result.problems.append(Problem(shown, "ensemble_scheduling.step", "is empty; an ensemble needs at least one step"))
    for i, step in enumerate(steps):
        at = f"ensemble_scheduling.step[{i}]"
        name = step.model_name
        if group is not None and group.explicit and name not in group.models:
            result.problems.append(
                Problem(shown, f"{at}.model_name", f"{name!r} is not a model of group {group.name!r} "
                        f"({', '.join(group.models) or 'none'}); add it to the group's models so it loads and is "
                        "routed with the ensemble")
            )
        member = result.models.get(name)
        if member is None:
            if group is None or not group.explicit or name not in group.models:
                result.problems.append(
                    Problem(shown, f"{at}.model_name", f"{name!r} is not in this repository; Triton fails with "
                            "'ensemble contains models that are not available'")
                )
            continue
        if member.config is None:
            continue
        for key, names in (("input_map", {t.name for t in member.config.input}),
                           ("output_map", {t.name for t in member.config.output})):
            for tensor in getattr(step, key):
                if tensor not in names:
                    kind = "input" if key == "input_map" else "output"
                    result.problems.append(
                        Problem(shown, f"{at}.{key}", f"key {tensor!r} is not an {kind} of model {name!r} "
                                f"({', '.join(sorted(names)) or 'none'})")
                    )
