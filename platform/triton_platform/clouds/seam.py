"""The cloud-neutral seam between a cloud layer and the Triton layer above it, and how a cloud's preview
check of a looked-up cluster fails the program."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import pulumi
import pulumi_kubernetes as k8s

from ..config.base import Problem
from ..config.loader import describe, key_path
from ..config.settings import PlatformSettings

T = TypeVar("T")


@dataclass
class CloudLayer:
    """What a cloud layer hands to Triton: where models are, how to reach the cluster, and the
    scheduling and identity wiring (tolerations, node selector, ServiceAccount annotations or a
    credentials file, extra environment)."""

    model_repository: pulumi.Output[str]
    kubernetes_provider: k8s.Provider
    triton_args: dict[str, Any]
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    egress: dict[str, Any] = field(default_factory=dict)
    """Cloud-specific ``TritonEgressPolicyArgs``: node endpoints the identity needs, DNS addresses."""


class GpuNodes(Protocol):
    """What a GPU node pool/group exposes for scheduling (GkeGpuNodePool, EksGpuNodeGroup)."""

    @property
    def tolerations(self) -> list[dict[str, Any]]: ...
    @property
    def node_selector(self) -> dict[str, str]: ...


class ModelReader(Protocol):
    """What a model-reader identity exposes (GcpModelReaderIdentity, AwsModelReaderIdentity)."""

    @property
    def service_account_annotations(self) -> dict[str, pulumi.Output[str]]: ...
    @property
    def credentials_file(self) -> dict[str, Any] | None: ...


def triton_wiring(nodes: GpuNodes, identity: ModelReader, **extra: Any) -> dict[str, Any]:
    """The ``TritonServerArgs`` every cloud hands to Triton: pods tolerate exactly the pool's taints
    and select its nodes; keyless identity annotates the ServiceAccount, key mode mounts a file."""
    args: dict[str, Any] = {
        "tolerations": nodes.tolerations,
        "node_selector": nodes.node_selector,
        "service_account_annotations": identity.service_account_annotations,
        **extra,
    }
    if identity.credentials_file is not None:
        args["credentials_file"] = identity.credentials_file
    return args


def slug(text: str, max_length: int) -> str:
    """A DNS-label-safe, length-bounded form of a stack name."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return cleaned[:max_length].rstrip("-") or "stack"


def exec_kubeconfig(name: str, server: str, ca_data: str, command: str, args: list[str], hint: str) -> str:
    """A kubeconfig whose user authenticates through an exec plugin: no token lands in state."""
    arg_lines = "".join(f"\n      - {a}" for a in args)
    return f"""apiVersion: v1
kind: Config
clusters:
- name: {name}
  cluster:
    server: {server}
    certificate-authority-data: {ca_data}
contexts:
- name: {name}
  context: {{cluster: {name}, user: {name}}}
current-context: {name}
users:
- name: {name}
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: {command}
      args:{arg_lines if args else " []"}
      provideClusterInfo: true
      installHint: {hint}
"""


class PrerequisiteError(pulumi.RunError):
    """A looked-up cluster lacks something the stack relies on."""

    def __init__(self, stack_file: str, problems: list[str]) -> None:
        self.stack_file = stack_file
        self.problems = problems
        count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
        lines = [
            f"The existing cluster does not meet what {stack_file} needs ({count}):",
            *(f"  - {p}" for p in problems),
        ]
        super().__init__("\n".join(lines))


def verified(value: T, problems: list[Problem], settings: PlatformSettings | None = None) -> T:
    """``value`` unchanged, or ``PrerequisiteError`` listing the problems (for use inside ``apply``).
    With ``settings``, a problem in a default says so (as config errors do)."""
    if problems:
        lines = [describe(settings, p) if settings is not None else _line(p) for p in problems]
        raise PrerequisiteError(f"Pulumi.{pulumi.get_stack()}.yaml", lines)
    return value


def _line(problem: Problem) -> str:
    return f"{key_path(problem.path)} = {problem.value!r}: {problem.message}"
