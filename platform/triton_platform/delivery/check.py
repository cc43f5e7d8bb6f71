"""``model check``: read a model folder or a whole repository the way Triton will, before any upload.

Two kinds of checks. The fast ones (``inspect_repository``, pure Python, no server) parse each
``config.pbtxt`` with Triton's own ``ModelConfig`` protobuf (from tritonclient) and catch the common
mistakes with a message that says what to change; they also hold this platform's own rules (a
model name its routes cannot carry, GPU instances on a group without GPUs, an ensemble step
outside the group), labelled as such. Then ``check_repository`` lets Triton decide: each model is
loaded by a private tritonserver (``triton_server``) and Triton's own message is reported. Where
Triton cannot run here, the fast checks alone give a result marked partial. Every problem is one
line naming the file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import _extras
from .backends import BACKEND_FILES, OTHER_KNOWN_BACKENDS, PLATFORM_FILES, declared_model_file
from .config_rules import check_config
from .group import GroupSpec

CONFIG_FILE = "config.pbtxt"
#: Model names the gateway routes can carry (``/v2/models/<name>``, the ``triton-model`` header).
MODEL_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")

#: Where a problem comes from (``Problem.rule``).
MIRROR = "mirror"  # a fast check of a rule Triton has; superseded by Triton's own verdict when it ran
FILES = "files"  # files Triton's load in the check does not see (the model's code is a stand-in there)
OURS = "ours"  # a rule of this platform that Triton does not have
TRITON = "triton"  # Triton's own message
OURS_NOTE = " (a rule of this platform, not of Triton)"


@dataclass(frozen=True)
class Problem:
    """One thing Triton would reject, or this platform cannot serve."""

    file: str
    field: str
    message: str
    rule: str = MIRROR
    #: The model folder the problem belongs to ("" for the repository itself).
    model: str = ""

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}" + (OURS_NOTE if self.rule == OURS else "")


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
    """The fast checks' problems of a model folder or a repository; empty means none found.

    Pure Python, no server: what ``model check --fast`` runs. ``check_repository`` adds Triton's own
    validation.
    """
    return inspect_repository(path, group).problems


@dataclass
class CheckReport:
    """What ``model check`` found, which checks ran, and what none of them could verify."""

    inspection: Inspection
    problems: list[Problem]
    checks: list[str]
    not_verified: list[str] = field(default_factory=list)
    #: Why Triton's own validation did not run (None: it ran, the result is complete).
    partial: str | None = None
    triton_start_seconds: float | None = None

    def lines(self) -> list[str]:
        """The report's summary lines (problems aside): checks run, what was not verified, partial."""
        lines = [f"checks run: {'; '.join(self.checks)}"]
        lines += [f"not verified: {item}" for item in self.not_verified]
        if self.partial is not None:
            lines.append(
                f"partial result: Triton's own validation did not run ({self.partial}); only the fast "
                "checks did, and Triton may still refuse a model they accept"
            )
        return lines


FAST_CHECKS = (
    "fast checks (files and version folders; config.pbtxt read with Triton's ModelConfig protobuf; common mistakes)"
)


def check_repository(path: str | Path, group: GroupSpec | None = None, *, triton: bool = True) -> CheckReport:
    """The fast checks, then each model loaded by Triton itself (``triton_server``) where it can run here.

    ``triton=False`` (or no runnable tritonserver) gives the fast checks only, with ``partial`` saying why.
    """
    from . import triton_server

    inspection = inspect_repository(path, group)
    checks = [FAST_CHECKS]
    if group is not None:
        checks.append(f"rules of this platform for group {group.name!r} (GPUs per pod, models of the group)")
    report = CheckReport(inspection, list(inspection.problems), checks)
    loadable = [info for info in inspection.models.values() if info.config is not None]
    if not triton:
        report.partial = "--fast was given"
        return report
    if not loadable:
        return report
    try:
        validator = triton_server.TritonValidator()
        with validator:
            report.triton_start_seconds = validator.start_seconds
            verdicts = _triton_verdicts(validator, inspection, loadable, report)
    except triton_server.TritonUnavailable as why:
        report.partial = str(why)
        return report
    checks.append(
        f"Triton {triton_server.TRITON_VERSION}'s own validation: each model loaded by a private "
        "tritonserver with the flags the stacks render (the model's code replaced by a stand-in)"
    )
    # Triton decides: a fast check's finding on a model Triton accepts is dropped; on a model Triton
    # refuses it stays beside Triton's own message, as the plainer explanation of a common mistake.
    accepted = {name for name, verdict in verdicts.items() if not verdict.errors}
    problems = [p for p in report.problems if not (p.rule == MIRROR and p.model in accepted)]
    seen = {(p.file, p.message) for p in problems}
    for name, verdict in verdicts.items():
        for file, message in verdict.errors:
            if (file, message) not in seen:
                seen.add((file, message))
                problems.append(
                    Problem(file, f"Triton {triton_server.TRITON_VERSION} refuses it", message, TRITON, name)
                )
        report.not_verified += verdict.not_verified
    report.problems = sorted(problems, key=lambda p: (p.model, p.rule == TRITON))
    return report


def _triton_verdicts(
    validator: Any, inspection: Inspection, loadable: list[ModelInfo], report: CheckReport
) -> dict[str, Any]:
    for info in loadable:
        validator.add_model(info.path, info.model_file if _is_python(info) else None)
    shown = {info.name: str(info.path / CONFIG_FILE) for info in loadable}
    verdicts = {}
    for info in loadable:
        config_file = shown[info.name]
        if info.is_ensemble:
            absent = sorted({s.model_name for s in info.config.ensemble_scheduling.step} - set(inspection.models))
            if absent:
                # Triton needs every step's model in the same repository to check an ensemble.
                report.not_verified.append(
                    f"{config_file}: the ensemble, by Triton (its step model(s) "
                    f"{', '.join(absent)} are not in the folder checked)"
                )
                continue
        verdicts[info.name] = validator.validate(info.name, config_file, shown)
    return verdicts


def _is_python(info: ModelInfo) -> bool:
    config = info.config
    return config.backend == "python" or (not config.backend and not config.platform and info.model_file == "model.py")


def is_model_folder(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file() or any(_version_number(p.name) is not None for p in _subdirs(path))


def inspect_repository(path: str | Path, group: GroupSpec | None = None) -> Inspection:
    root = Path(path)
    result = Inspection()
    if not root.is_dir():
        result.problems.append(Problem(str(root), "(folder)", "does not exist or is not a folder", FILES))
        return result
    folders = [root] if is_model_folder(root) else [p for p in _subdirs(root) if not p.name.startswith(".")]
    if not folders:
        result.problems.append(
            Problem(
                str(root),
                "(folder)",
                "holds no model folder; expected <model>/config.pbtxt and <model>/<version>/",
                FILES,
            )
        )
    for folder in folders:
        found: list[Problem] = []
        info = _inspect_model(folder, found, group)
        result.problems += [replace(p, model=info.name) for p in found]
        result.models[info.name] = info
    for info in result.models.values():
        if info.is_ensemble:
            found = []
            _check_ensemble(info, result, group, found)
            result.problems += [replace(p, model=info.name) for p in found]
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
            Problem(
                str(folder),
                "(folder name)",
                f"{folder.name!r} is not a model name the gateway can route; "
                "use letters, digits, '_', '.' and '-' only",
                OURS,
            )
        )
    info.versions = sorted(v for v in (_version_number(p.name) for p in _subdirs(folder)) if v is not None)
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() and not path.exists():
            problems.append(
                Problem(str(path), "(file)", "is a broken symbolic link; publish would have nothing to upload", FILES)
            )
        elif path.is_file() and not os.access(path, os.R_OK):
            problems.append(Problem(str(path), "(file)", "cannot be read", FILES))
    if not config_path.is_file():
        problems.append(
            Problem(
                shown,
                "(file)",
                "is missing; the platform runs Triton with --disable-auto-complete-config, "
                "so every model needs a config.pbtxt",
                FILES,
            )
        )
        return info
    try:
        info.config_text = config_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        problems.append(Problem(shown, "(file)", f"cannot be read: {error}", FILES))
        return info
    pb2 = _extras.model_config_pb2()
    from google.protobuf import text_format

    config = pb2.ModelConfig()
    try:
        text_format.Parse(info.config_text, config)
    except text_format.ParseError as error:
        where = f"line {error.GetLine()} column {error.GetColumn()}" if error.GetLine() else "(syntax)"
        message = str(error).split(" : ", 1)[-1]
        problems.append(Problem(shown, where, f"Triton cannot parse this file: {message}", FILES))
        return info
    info.config = config
    if config.name and config.name != folder.name:
        problems.append(
            Problem(
                shown,
                "name",
                f"is {config.name!r} but the folder is {folder.name!r}; Triton requires them "
                "to be equal (rename one, or remove name)",
            )
        )
    problems.extend(Problem(shown, f, m, rule) for f, m, rule in check_config(config, folder.name, group))
    for i, output in enumerate(config.output):
        if output.label_filename and not (folder / output.label_filename).is_file():
            problems.append(
                Problem(
                    shown,
                    f"output[{i}] {output.name!r}.label_filename",
                    f"{output.label_filename!r} is not in {folder.name}/; Triton fails to load the model without it",
                )
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
            Problem(
                shown,
                "backend",
                f"{config.backend!r} is not a backend of NVIDIA's Triton images "
                f"({', '.join(known)}); Triton fails with 'unable to find backend library'",
                OURS,
            )
        )
        return None
    if config.platform:
        problems.append(
            Problem(
                shown,
                "platform",
                f"{config.platform!r} is not a Triton platform; use one of "
                f"{', '.join(sorted([*PLATFORM_FILES, 'ensemble']))}, or set backend",
            )
        )
        return None
    # Neither set: Triton picks the backend from the file it finds (model.py -> python, ...).
    found = {
        f
        for f in (*PLATFORM_FILES.values(), *BACKEND_FILES.values())
        for v in folder.iterdir()
        if v.is_dir() and (v / f.rstrip("/")).exists()
    }
    if len(found) == 1:
        return found.pop()
    problems.append(
        Problem(
            shown,
            "backend",
            "is not set and no single known model file identifies one; "
            'set backend (e.g. "onnxruntime", "python") or platform',
        )
    )
    return None


def _check_versions(info: ModelInfo, shown: str, problems: list[Problem]) -> None:
    config, folder = info.config, info.path
    policy = config.version_policy
    if not info.versions:
        problems.append(
            Problem(
                str(folder),
                "(version folders)",
                "none found; Triton needs at least one numeric folder "
                f"such as {folder.name}/1/" + ("" if info.is_ensemble else " holding the model file"),
            )
        )
        return
    if not info.served_versions():
        kind = policy.WhichOneof("policy_choice")
        if kind == "latest" and policy.latest.num_versions < 1:
            problems.append(Problem(shown, "version_policy.latest.num_versions", "must be 1 or more"))
        elif kind == "specific":
            # Triton loads the listed versions that have a folder; with none, there is nothing to serve.
            problems.append(
                Problem(
                    shown,
                    "version_policy.specific.versions",
                    f"names {list(policy.specific.versions)}, none of "
                    f"which has a folder (folders: {info.versions}); Triton has no version to load",
                )
            )
        return
    if info.model_file is None:
        return
    wanted = info.model_file.rstrip("/")
    for version in info.served_versions():
        target = folder / str(version) / wanted
        ok = target.is_dir() if info.model_file.endswith("/") else target.is_file()
        if not ok:
            problems.append(
                Problem(
                    str(folder / str(version)),
                    info.model_file,
                    "is missing; Triton loads this file from "
                    "each version folder (set default_model_filename in config.pbtxt if it has another name)",
                    FILES,
                )
            )


def _check_ensemble(info: ModelInfo, result: Inspection, group: GroupSpec | None, problems: list[Problem]) -> None:
    shown = str(info.path / CONFIG_FILE)
    steps = info.config.ensemble_scheduling.step
    if not steps:
        problems.append(Problem(shown, "ensemble_scheduling.step", "is empty; an ensemble needs at least one step"))
    for i, step in enumerate(steps):
        at = f"ensemble_scheduling.step[{i}]"
        name = step.model_name
        if group is not None and group.explicit and name not in group.models:
            problems.append(
                Problem(
                    shown,
                    f"{at}.model_name",
                    f"{name!r} is not a model of group {group.name!r} "
                    f"({', '.join(group.models) or 'none'}); add it to the group's models so it loads and is "
                    "routed with the ensemble",
                    OURS,
                )
            )
        member = result.models.get(name)
        if member is None:
            if group is None or not group.explicit or name not in group.models:
                problems.append(
                    Problem(
                        shown,
                        f"{at}.model_name",
                        f"{name!r} is not in this repository; Triton fails with "
                        "'ensemble contains models that are not available'",
                    )
                )
            continue
        if member.config is None:
            continue
        for key, names in (
            ("input_map", {t.name for t in member.config.input}),
            ("output_map", {t.name for t in member.config.output}),
        ):
            for tensor in getattr(step, key):
                if tensor not in names:
                    kind = "input" if key == "input_map" else "output"
                    problems.append(
                        Problem(
                            shown,
                            f"{at}.{key}",
                            f"key {tensor!r} is not an {kind} of model {name!r} ({', '.join(sorted(names)) or 'none'})",
                        )
                    )
