"""What delivery needs from a stack: its groups, its model repository, its endpoints, its next steps.

Read from ``Pulumi.<stack>.yaml`` through the same validation as ``render`` and ``pulumi up``. The
bucket's name is random and known only after ``pulumi up``: it comes from the stack output
``modelRepository`` through the Pulumi CLI, or from ``--repository``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .group import GroupSpec
from .storage import Location, StorageError, parse_location

if TYPE_CHECKING:
    from ..config.serving import ModelGroupSettings
    from ..config.settings import PlatformSettings

#: The gRPC header the gateway routes a model's requests by (``istio_routes.MODEL_HEADER``).
MODEL_HEADER = "triton-model"
#: The Triton server's instance name in pod labels (``TritonServer("triton", ...)`` in environment.py).
INSTANCE = "triton"


@dataclass
class StackContext:
    name: str
    root: Path
    settings: PlatformSettings

    def group(self, name: str | None) -> tuple[int, ModelGroupSettings]:
        for index, group in enumerate(self.settings.model_groups):
            if name is None or group.name == name:
                return index, group
        names = ", ".join(g.name for g in self.settings.model_groups)
        raise ValueError(f"stack {self.name} has no model group {name!r}; groups: {names}")

    def group_of_model(self, model: str) -> str | None:
        for group in self.settings.model_groups:
            if model in group.models:
                return group.name
        return None

    def spec(self, group: str | None) -> GroupSpec:
        return GroupSpec.from_settings(self.settings, self.group(group)[1].name)


def load_stack(root: Path, stack: str) -> StackContext:
    """Validate ``Pulumi.<stack>.yaml``; ``ConfigError`` lists every problem."""
    from ..config.loader import load_settings
    from ..config.stack_file import read_stack_file

    path = root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise ValueError(f"no Pulumi.{stack}.yaml in {root}")
    config, secret_keys = read_stack_file(path)
    return StackContext(stack, root, load_settings(config, path.name, frozenset(secret_keys)))


Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def repository_location(ctx: StackContext, override: str | None = None, runner: Runner = subprocess.run) -> Location:
    """The stable repository: ``--repository``, ``triton.modelRepository``, or the stack output."""
    if override:
        return parse_location(override)
    if ctx.settings.cloud == "none" and ctx.settings.triton.model_repository:
        return parse_location(ctx.settings.triton.model_repository)
    hint = (
        f"pass --repository (the stack output modelRepository, e.g. gs://<bucket>/model_repository), "
        f"or run where `pulumi stack output modelRepository --stack {ctx.name}` works"
    )
    if shutil.which("pulumi") is None:
        raise StorageError(f"stack {ctx.name}: the Pulumi CLI is not installed, so the bucket is unknown; {hint}")
    done = runner(
        ["pulumi", "stack", "output", "modelRepository", "--stack", ctx.name],
        cwd=ctx.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise StorageError(
            f"stack {ctx.name}: `pulumi stack output modelRepository` failed "
            f"({(done.stderr or done.stdout).strip()[:300]}); {hint}"
        )
    return parse_location(done.stdout.strip())


def track_location(ctx: StackContext, stable: Location, group: str | None, track: str) -> Location:
    """Where a group's track reads models: the stable repository, or the canary's path in the same bucket."""
    index, settings = ctx.group(group)
    if track == "stable":
        return stable
    canary = settings.canary
    if canary is None or not canary.model_repository_path:
        raise ValueError(
            f"group {settings.name!r} of stack {ctx.name} has no canary with a modelRepositoryPath; declare one: "
            f"pulumi config set --path 'triton-platform:modelGroups[{index}].canary.modelRepositoryPath' "
            f"model_repository_canary --stack {ctx.name} (then pulumi up)"
        )
    return stable.at(canary.model_repository_path)


def endpoints(ctx: StackContext, model: str, track: str = "stable") -> list[str]:
    """How a client reaches ``model``: through the gateway when the mesh is on, else the Service."""
    settings = ctx.settings
    group = ctx.group_of_model(model) or settings.model_groups[0].name
    mesh = settings.mesh
    lines: list[str] = []
    if mesh.enabled:
        host = mesh.gateway.hosts[0] if mesh.gateway.hosts else "<gateway host>"
        if host.startswith("*"):
            host = "<a host matching " + host + ">"
        tls = mesh.gateway.tls is not None
        scheme = "https" if tls else "http"
        lines.append(f"HTTP: POST {scheme}://{host}{mesh.gateway.path_prefix}/v2/models/{model}/infer")
        lines.append(
            f"gRPC: {host}:{443 if tls else 80}{' (TLS)' if tls else ''} with header '{MODEL_HEADER}: {model}'"
        )
        if mesh.jwt is not None and mesh.jwt.issuer:
            lines.append(f"Auth: header 'authorization: Bearer <token from {mesh.jwt.issuer}>'")
    else:
        from triton_components.common import names

        namespace = settings.triton.namespace
        service = names.service_host(group, namespace)
        lines.append(f"HTTP (in cluster): POST http://{service}:8000/v2/models/{model}/infer")
        lines.append(f"gRPC (in cluster): {service}:8001")
        lines.append(
            f"From your machine: kubectl port-forward -n {namespace} svc/{names.group_object_name(group)} 8000:8000 8001:8001"
        )
    if track == "canary":
        _, group_settings = ctx.group(group)
        header = group_settings.canary.override_header if group_settings.canary else None
        if header is not None:
            lines.append(f"Canary only: add header '{header.name}: {header.value}'")
    return lines


def next_steps(ctx: StackContext, model: str, group: str | None, track: str) -> list[str]:
    """What makes a published model or version live, for this stack's model-control mode."""
    index, settings = ctx.group(group)
    namespace = ctx.settings.triton.namespace
    from triton_components.common import names

    deployment = names.deployment_name(settings.name, track)
    stack = ctx.name
    if ctx.settings.triton.model_control_mode == "explicit":
        if model not in settings.models:
            return [
                f"{model} is not a model of group {settings.name!r} yet; no pod loads it until it is. Add it and roll the group:",
                f"  pulumi config set --path 'triton-platform:modelGroups[{index}].models[{len(settings.models)}]' {model} --stack {stack}",
                f"  pulumi up --stack {stack}",
                "The group's pods are replaced one at a time (maxUnavailable, PodDisruptionBudget); each takes traffic "
                "only once every model has loaded (readiness), and drains before it stops (preStop).",
            ]
        canary_flag = " --canary" if track == "canary" else ""
        return [
            f"Pods of {deployment} that start from now on load it from the bucket. To load it on the running pods:",
            f"  triton-platform model load {model} --stack {stack} --group {settings.name}{canary_flag}",
            "(every pod, one at a time, through the repository API with the admin key; Triton loads the new version "
            "beside the old one and switches when it is ready, so no request fails).",
        ]
    return [
        f"Every pod of {deployment} that starts from now on serves it (model-control mode 'none' loads the whole "
        "repository at start). To make the running pods serve it, restart them one at a time:",
        f"  kubectl rollout restart deployment/{deployment} -n {namespace}",
        "(maxUnavailable and the PodDisruptionBudget bound it to one pod at a time; readiness and preStop keep "
        "requests off pods that are loading or stopping; with one replica this is an outage).",
    ]
