"""The programs the benchmark builds of ours: the real stack, its configuration scaled, and N
environments in one program. (The floors they are compared with are in ``floors.py``.)

Everything here varies configuration only, so resources added later (a cloud's, Istio, KEDA)
are measured without changes here.
"""

from __future__ import annotations

import copy
import json
import runpy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import settings as pulumi_settings

from ...clouds import registered
from ...config.loader import PROJECT, load_settings
from ..render import stack_config, stack_files
from .harness import BENCH_PACKAGE

#: The stack-config sections that make a stack a cloud's stack: the registered clouds', in order.
CLOUDS = tuple(cloud.key for cloud in registered())
#: The largest GPU node pool the config accepts.
MAX_NODES = 100


def stacks_for_cloud(root: Path, cloud: str) -> list[str]:
    """Committed stacks whose config has a ``triton-platform:<cloud>`` section."""
    found = []
    for stack, path in stack_files(root).items():
        config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
        if f"{PROJECT}:{cloud}" in config:
            found.append(stack)
    return found


def benchmark_stack(root: Path) -> str:
    """The stack the benchmark builds on: the first cloud stack (in the clouds' order), else ``dev``."""
    for cloud in CLOUDS:
        stacks = stacks_for_cloud(root, cloud)
        if stacks:
            return stacks[0]
    available = list(stack_files(root))
    if not available:
        raise SystemExit(f"triton-platform bench: no Pulumi.<stack>.yaml in {root}")
    return "dev" if "dev" in available else available[0]


class StackConfig:
    """A stack's config as the engine passes it (strings, objects as JSON), with typed edits."""

    def __init__(self, stack: str, config: dict[str, str], secret_keys: list[str]) -> None:
        self.stack = stack
        self.config = config
        self.secret_keys = secret_keys

    @classmethod
    def load(cls, root: Path, stack: str) -> StackConfig:
        config, secret_keys = stack_config(root / f"Pulumi.{stack}.yaml")
        return cls(stack, config, secret_keys)

    def get(self, key: str, default: Any = None) -> Any:
        raw = self.config.get(f"{PROJECT}:{key}")
        if raw is None:
            return copy.deepcopy(default)
        return json.loads(raw) if raw[:1] in "[{" else raw

    def with_values(self, **values: Any) -> StackConfig:
        config = dict(self.config)
        for key, value in values.items():
            config[f"{PROJECT}:{key}"] = value if isinstance(value, str) else json.dumps(value)
        return StackConfig(self.stack, config, list(self.secret_keys))

    @property
    def stack_file(self) -> str:
        return f"Pulumi.{self.stack}.yaml"

    def validate(self) -> None:
        """Raise ``ConfigError`` (naming every problem) if the edited config is invalid."""
        load_settings(self.config, self.stack_file, frozenset(self.secret_keys))


def with_model_groups(base: StackConfig, count: int) -> StackConfig:
    """``count`` copies of the stack's first model group, each serving its own models.

    Several groups only make sense with explicit model control (each group loads its models; with
    ``none`` every group would load the whole repository), so the copies use it at every size.
    Every ``maxNodes`` in the cloud section (``gpuNodes`` in an existing cluster's) is raised to
    the 100-node limit so the GPU capacity rule admits the groups; any other rule a size breaks is
    reported by ``validate``.
    """
    template = base.get("modelGroups", [{"name": "default"}])[0]
    groups = []
    for i in range(count):
        group = copy.deepcopy(template)
        group["name"] = f"group-{i}"
        group["models"] = [f"{model}-g{i}" for model in group.get("models") or ["model"]]
        groups.append(group)
    triton = base.get("triton", {})
    triton["modelControlMode"] = "explicit"
    values: dict[str, Any] = {"modelGroups": groups, "triton": triton}
    for cloud in CLOUDS:
        section = base.get(cloud)
        if section is not None:
            values[cloud] = _raise_node_limits(section)
    cluster = base.get("cluster")
    if cluster is not None and "gpuNodes" in cluster:
        values["cluster"] = {**cluster, "gpuNodes": MAX_NODES}
    return base.with_values(**values)


def _raise_node_limits(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (MAX_NODES if k == "maxNodes" else _raise_node_limits(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_raise_node_limits(v) for v in value]
    return value


def with_models(base: StackConfig, count: int) -> StackConfig:
    """One model group listing ``count`` models (explicit model control, so the list is loaded)."""
    template = base.get("modelGroups", [{"name": "default"}])[0]
    triton = base.get("triton", {})
    triton["modelControlMode"] = "explicit"
    template["models"] = [f"model-{i}" for i in range(count)]
    return base.with_values(triton=triton, modelGroups=[template])


def for_environment(base: StackConfig, index: int) -> StackConfig:
    """The base stack as environment ``index``: its own Kubernetes namespace."""
    triton = base.get("triton", {})
    triton["namespace"] = f"{triton.get('namespace', 'triton')[:30]}-{index}"
    return base.with_values(triton=triton)


def stack_program(root: Path) -> Callable[[], Any]:
    """The real Pulumi program, ``stacks/__main__.py``, exactly as ``pulumi up`` and the render run it."""

    def program() -> None:
        runpy.run_path(str(root / "stacks"), run_name="__main__")

    return program


class _EnvironmentScope(pulumi.ComponentResource):
    """Parent of one environment in a multi-environment program.

    A URN carries its parents' type chain but not their names, so each scope gets its own module
    in the type token: that keeps every URN unique, as the engine demands.
    """

    def __init__(self, index: int) -> None:
        super().__init__(f"{BENCH_PACKAGE}:env{index}:Environment", f"env-{index}")


def environments_program(configs: list[StackConfig]) -> Callable[[], None]:
    """Every config as an independent environment of one program (the composition of
    ``stacks/__main__.py``, once per environment, each under its own scope)."""
    from ...compose.environment import build_environment

    def program() -> None:
        admin_api_key = pulumi.Config().get_secret("adminApiKey")
        for index, config in enumerate(configs):
            settings = load_settings(config.config, config.stack_file, frozenset(config.secret_keys))
            scope = _EnvironmentScope(index)
            token = pulumi_settings.ROOT.set(scope)
            try:
                outputs = build_environment(settings, admin_api_key=admin_api_key)
            finally:
                pulumi_settings.ROOT.reset(token)
            scope.register_outputs({})
            for name, value in outputs.items():
                pulumi.export(f"env{index}.{name}", value)

    return program
