"""What the lab reads from renders: every committed stack rendered once per process (for fixtures and
for parametrising at collection), variants one setting apart, and each rendered Triton Deployment.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from support import ROOT
from triton_platform.review.render import StackRender, render_stack, stack_files

_K8S_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand_k8s_vars(text: str, env: Mapping[str, str]) -> str:
    """The kubelet's ``$(VAR)`` expansion: defined names replaced, undefined left as written, ``$$`` -> ``$``."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _K8S_VAR.sub(replace, text)


@dataclass(frozen=True)
class RestrictedGroup:
    """One ``--http-restricted-api`` / ``--grpc-restricted-protocol`` value: APIs, header and value."""

    apis: tuple[str, ...]
    header: str
    value: str


@dataclass
class RenderedTriton:
    """One rendered Triton Deployment, read only from the render."""

    stack: str
    deployment: dict[str, Any]

    @property
    def name(self) -> str:
        return self.deployment["metadata"]["name"]

    @property
    def namespace(self) -> str:
        return self.deployment["metadata"]["namespace"]

    @property
    def pod_spec(self) -> dict[str, Any]:
        return self.deployment["spec"]["template"]["spec"]

    @property
    def pod_labels(self) -> dict[str, str]:
        return dict(self.deployment["spec"]["template"]["metadata"].get("labels", {}))

    @property
    def container(self) -> dict[str, Any]:
        containers = [c for c in self.pod_spec["containers"] if c["name"] == "tritonserver"]
        assert len(containers) == 1, f"{self.stack}/{self.name}: expected one container named tritonserver"
        return containers[0]

    @property
    def args(self) -> list[str]:
        return list(self.container.get("args", []))

    def flag(self, name: str) -> str | None:
        values = self.flags(name)
        return values[-1] if values else None

    def flags(self, name: str) -> list[str]:
        prefix = f"--{name}="
        return [a[len(prefix) :] for a in self.args if a.startswith(prefix)]

    @property
    def ports(self) -> dict[str, int]:
        return {p["name"]: int(p["containerPort"]) for p in self.container.get("ports", [])}

    @property
    def model_repository(self) -> str:
        value = self.flag("model-repository")
        assert value, f"{self.stack}/{self.name}: no --model-repository"
        return value

    @property
    def models(self) -> list[str]:
        """Models the group loads (``--load-model``); empty when the group serves the whole repository."""
        return self.flags("load-model")

    @property
    def exit_timeout_seconds(self) -> float:
        value = self.flag("exit-timeout-secs")
        assert value is not None, f"{self.stack}/{self.name}: no --exit-timeout-secs"
        return float(value)

    def restricted(self, protocol: str) -> list[RestrictedGroup]:
        flag = {"http": "http-restricted-api", "grpc": "grpc-restricted-protocol"}[protocol]
        groups = []
        for value in self.flags(flag):
            apis, _, key_value = value.partition(":")
            header, _, secret = key_value.partition("=")
            groups.append(RestrictedGroup(tuple(a.strip() for a in apis.split(",")), header, secret))
        return groups

    def probe(self, kind: str) -> dict[str, Any]:
        probe = self.container.get(f"{kind}Probe")
        assert probe, f"{self.stack}/{self.name}: no {kind}Probe"
        return probe

    def startup_budget_seconds(self) -> float:
        """How long the kubelet lets the server start before killing it: the startup probe's budget."""
        p = self.probe("startup")
        return p.get("initialDelaySeconds", 0) + p.get("periodSeconds", 10) * p.get("failureThreshold", 3)

    def secret_refs(self) -> list[tuple[str, str]]:
        """(Secret name, key) pairs the container reads, through env or volumes."""
        refs = [
            (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
            for e in self.container.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})
        ]
        for volume in self.pod_spec.get("volumes", []):
            if "secret" in volume:
                for item in volume["secret"].get("items", []):
                    refs.append((volume["secret"]["secretName"], item["key"]))
        return refs


def triton_deployments(render: Any) -> list[RenderedTriton]:
    return [
        RenderedTriton(render.stack, m)
        for m in render.manifests
        if m.get("kind") == "Deployment"
        and any(c.get("name") == "tritonserver" for c in m["spec"]["template"]["spec"].get("containers", []))
    ]


def manifests_of(render: Any, kind: str) -> list[dict[str, Any]]:
    return [m for m in render.manifests if m.get("kind") == kind]


@functools.cache
def rendered_stacks() -> dict[str, StackRender]:
    """Every committed ``Pulumi.<stack>.yaml`` of the repository, rendered offline (discovered, not listed)."""
    stacks = stack_files(ROOT)
    assert stacks, f"no Pulumi.<stack>.yaml in {ROOT}"
    return {name: render_stack(ROOT, name) for name in stacks}


def rendered_tritons() -> list[RenderedTriton]:
    return [rt for render in rendered_stacks().values() for rt in triton_deployments(render)]


def variant_render(stack: str, edit: Callable[[dict[str, Any]], None], label: str, where: Path) -> StackRender:
    """A committed stack rendered with its config changed by ``edit`` (e.g. another identity mode or
    scrape kind): the same program and render as the committed stack, one setting apart."""
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    edit(config)
    root = where / f"{stack}-{label}"
    root.mkdir(parents=True, exist_ok=True)
    for name in ("Pulumi.yaml", "stacks"):
        if not (root / name).exists():
            (root / name).symlink_to(ROOT / name)
    (root / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    render = render_stack(root, stack)
    render.stack = f"{stack}+{label}"
    return render


def first_stack_with(section: str) -> str:
    """The first committed stack (by name) whose config has ``triton-platform:<section>``."""
    for stack, path in stack_files(ROOT).items():
        if f"triton-platform:{section}" in (yaml.safe_load(path.read_text()).get("config") or {}):
            return stack
    raise AssertionError(f"no committed stack configures triton-platform:{section}")
