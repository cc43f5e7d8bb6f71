"""Offline render: run the real Pulumi program under mocks and record what it asks for.

No Pulumi CLI, engine, provider plugin or cloud is involved. A recording monitor captures every
``RegisterResource`` call (type, name, parent, dependencies, inputs and the options reviewers care
about); the mocks echo inputs back and fill in the few provider-computed values the program reads.
Secret values are replaced by ``SECRET_PLACEHOLDER`` before anything is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import json
import runpy
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf.json_format import MessageToDict
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as pulumi_settings

from triton_components.common.versions import KEDA_CHART_VERSION

from ..clouds import registered
from ..config.loader import PROJECT, ConfigError, load_settings
from ..config.stack_file import SECRET_PLACEHOLDER, read_stack_file


@dataclass
class StackRender:
    """Everything one stack declared, normalised for review."""

    stack: str
    resources: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def manifests(self) -> list[dict[str, Any]]:
        """Kubernetes objects as they would be sent to the API server (custom resources included)."""
        objects = [
            r["inputs"]
            for r in self.resources
            if r["custom"] and r["type"].startswith("kubernetes:") and "kind" in r["inputs"]
        ]
        return sorted(objects, key=_manifest_key)

    def find(self, type_: str, name: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == type_ and (name is None or r["name"] == name)]


def _manifest_key(obj: Mapping[str, Any]) -> tuple[str, str, str, str]:
    meta = obj.get("metadata", {})
    return (meta.get("namespace", ""), obj.get("apiVersion", ""), obj.get("kind", ""), meta.get("name", ""))


def normalise(value: Any) -> Any:
    """Secrets to a placeholder; protobuf's floats back to integers where they are whole."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return _redact(value.get("value"))
        return {k: normalise(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _redact(value: Any) -> Any:
    """Keep a secret's shape (so a Secret stays a valid object), replace every leaf."""
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return SECRET_PLACEHOLDER


def _is_sdk_type_alias(spec: dict[str, Any] | None, package: str) -> bool:
    """A type-only alias within the resource's own package: added by the provider SDK, not by us.
    Aliases given as URNs (no ``spec``) and aliases that change a name or parent are kept."""
    if not spec or set(spec) - {"type", "parentUrn"} or spec.get("parentUrn"):
        return False
    return spec.get("type", "").split(":", 1)[0] == package


def _short(urn: str) -> str:
    """``urn:pulumi:stack::project::a$b::name`` -> ``b::name`` (type and name)."""
    if not urn:
        return ""
    head, _, name = urn.rpartition("::")
    return f"{head.rsplit('::', 1)[-1].rsplit('$', 1)[-1]}::{name}"


class TrackingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, with engine-style URNs and event loops that can be closed.

    The stock monitor gives each executor thread an event loop it never closes (the garbage
    collector then finalises them at random and prints errors) and keeps only the last link of
    a parent's type chain in URNs (so nested components' children can look like duplicates).
    """

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.thread_loops: list[asyncio.AbstractEventLoop] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != "pulumi:pulumi:Stack":
                type_ = f"{parent_type}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), type_, name])

    def RegisterResource(self, request: Any) -> Any:
        try:
            asyncio.get_event_loop()
        except RuntimeError:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self.thread_loops.append(loop)
        return super().RegisterResource(request)


@contextlib.contextmanager
def mock_runtime(
    monitor: TrackingMonitor, stack: str, config: Mapping[str, str], secret_keys: list[str], project: str = PROJECT
) -> Iterator[None]:
    """A fresh Pulumi runtime under ``monitor`` for one program run; every event loop closed after.
    Call inside a fresh ``contextvars.Context`` so runs never share runtime state."""
    loop = asyncio.new_event_loop()
    pulumi_settings.ROOT.set(None)
    asyncio.set_event_loop(loop)
    try:
        pulumi_mocks.set_mocks(monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor)
        pulumi.runtime.set_all_config(dict(config), secret_keys)
        yield
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        asyncio.set_event_loop(None)
        loop.close()
        for thread_loop in monitor.thread_loops:
            thread_loop.close()


class _Recorder(TrackingMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks, render: StackRender) -> None:
        super().__init__(mocks)
        self.render = render

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        options: dict[str, Any] = {}
        if request.HasField("protect") and request.protect:
            options["protect"] = True
        if request.HasField("retainOnDelete") and request.retainOnDelete:
            options["retainOnDelete"] = True
        if request.deleteBeforeReplace:
            options["deleteBeforeReplace"] = True
        if request.ignoreChanges:
            options["ignoreChanges"] = sorted(request.ignoreChanges)
        package = request.type.split(":", 1)[0]
        # Provider SDKs add type-only aliases for their own renamed types or old API versions to
        # every object: not ours, noise. Aliases that change a name or parent are kept.
        aliases = [
            a for a in (MessageToDict(x) for x in request.aliases) if not _is_sdk_type_alias(a.get("spec"), package)
        ]
        if aliases:
            options["aliases"] = aliases
        if request.additionalSecretOutputs:
            options["additionalSecretOutputs"] = sorted(set(request.additionalSecretOutputs))
        if request.HasField("customTimeouts"):
            timeouts = MessageToDict(request.customTimeouts)
            if timeouts:
                options["customTimeouts"] = timeouts
        self.render.resources.append(
            {
                "id": _short(response.urn),
                "type": request.type,
                "name": request.name,
                "custom": bool(request.custom),
                "parent": _short(request.parent),
                # A provider reference is "<urn>::<id>".
                "provider": _short(request.provider.rsplit("::", 1)[0]) if request.provider else "",
                "dependsOn": sorted({_short(u) for u in request.dependencies}),
                "options": options,
                "inputs": normalise(rpc.deserialize_properties(request.object)),
            }
        )
        return response


#: What the render's cluster runs, for the objects a stack reads from it: Istio's injector with CNI
#: (so no istio-init container) and the KEDA the platform pins.
CLUSTER_READS: dict[str, dict[str, Any]] = {
    "kubernetes:core/v1:ConfigMap": {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "istio-sidecar-injector", "namespace": "istio-system"},
        "data": {"values": json.dumps({"pilot": {"cni": {"enabled": True}}})},
    },
    "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition": {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "scaledobjects.keda.sh", "labels": {"app.kubernetes.io/version": KEDA_CHART_VERSION}},
    },
}


class RenderMocks(pulumi.runtime.Mocks):
    """Echo inputs; compute the few outputs the program reads, deterministically."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        # Every input comes back as an output, so whatever the program passes on from one resource
        # to another reaches the render; only values a provider computes are made up below.
        state = dict(args.inputs)
        digest = hashlib.sha256(f"{args.typ}:{args.name}".encode()).hexdigest()
        clouds = registered()
        if args.typ.split(":", 1)[0] in {c.key for c in clouds} and not {"name", "namePrefix"} & set(args.inputs):
            # The engine auto-names a cloud resource given no name (`<resource name>-<7 hex>`); a
            # program that passes `role.name` on must see one, or the input vanishes from the render.
            state["name"] = f"{args.name}-{digest[:7]}"
        if args.typ == "random:index/randomId:RandomId":
            state["hex"] = digest[: 2 * int(args.inputs.get("byteLength", 4))]
        elif args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = digest[: int(args.inputs.get("length", 32))]
        elif args.resource_id and args.typ in CLUSTER_READS:
            # A read of what the cluster runs (compose/prerequisites.py): a cluster that meets the prerequisites.
            return args.resource_id, CLUSTER_READS[args.typ]
        for cloud in clouds:
            cloud.mock_resource(args, state, digest)
        return f"{args.name}-id", state

    # The SDK declares a (result, failures) pair but takes a plain result dict as well.
    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        for cloud in registered():
            result = cloud.mock_call(args.token, dict(args.args))
            if result is not None:
                return result
        return {}


def stack_files(root: Path) -> dict[str, Path]:
    """Every ``Pulumi.<stack>.yaml`` beside ``Pulumi.yaml``, by stack name."""
    return {p.name[len("Pulumi.") : -len(".yaml")]: p for p in sorted(root.glob("Pulumi.*.yaml"))}


def stack_config(path: Path) -> tuple[dict[str, str], list[str]]:
    """The stack file's config as the engine passes it: strings, objects as JSON, secrets masked.
    Raises ``ConfigError`` naming the file (and line) when it is not a readable stack file."""
    return read_stack_file(path)


def project_program(root: Path) -> tuple[str, Path]:
    """The project's name and its program (``main`` of ``Pulumi.yaml``, else the project folder), as
    the Pulumi CLI finds them: this repository's, or a user's own project built from the components
    (examples/)."""
    path = root / "Pulumi.yaml"
    try:
        project = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(path.name, [f"cannot be read as a Pulumi project file: {error}"]) from None
    name = project.get("name") if isinstance(project, dict) else None
    if not isinstance(name, str) or not name:
        raise ConfigError(path.name, ["no project name (a `name:` key)"])
    program = root / str(project.get("main") or ".")
    if not (program / "__main__.py").is_file():
        raise ConfigError(path.name, [f"no Python program at {program / '__main__.py'} (the project's `main`)"])
    return name, program


def validate_stack(root: Path, stack: str) -> tuple[dict[str, str], list[str]]:
    """Raise ``ConfigError`` if the stack's config is invalid; return it as the engine passes it.
    A project of another name (a user's own, built from the components) has its own config, which
    only its program checks: its stack file need only be readable."""
    path = root / f"Pulumi.{stack}.yaml"
    config, secret_keys = stack_config(path)
    if project_program(root)[0] == PROJECT:
        load_settings(config, path.name, frozenset(secret_keys))
    return config, secret_keys


def render_stack(root: Path, stack: str) -> StackRender:
    """Validate (a clean error before any mock runs), then run the project's program under mocks."""
    config, secret_keys = validate_stack(root, stack)
    project, program = project_program(root)
    return record(lambda: runpy.run_path(str(program), run_name="__main__"), stack, config, secret_keys, project)


def record(
    program: Callable[[], Any],
    stack: str = "test",
    config: Mapping[str, str] | None = None,
    secret_keys: list[str] | None = None,
    project: str = PROJECT,
) -> StackRender:
    """Run ``program`` under recording mocks, in a fresh context so runs never share state."""
    return contextvars.Context().run(_run, program, stack, dict(config or {}), list(secret_keys or []), project)


def _run(
    program: Callable[[], Any], stack: str, config: dict[str, str], secret_keys: list[str], project: str
) -> StackRender:
    render = StackRender(stack)

    def run_and_collect() -> Any:
        program()
        root_stack: Any = pulumi_settings.get_root_resource()
        return asyncio.ensure_future(_collect_outputs(dict(root_stack.outputs), render))

    with mock_runtime(_Recorder(RenderMocks(), render), stack, config, secret_keys, project):
        pulumi.runtime.test(run_and_collect)()
    render.resources.sort(key=lambda r: r["id"])
    return render


async def _collect_outputs(outputs: dict[str, Any], render: StackRender) -> None:
    for name, value in sorted(outputs.items()):
        output = pulumi.Output.from_input(value)
        resolved = await output.future()
        render.outputs[name] = SECRET_PLACEHOLDER if await output.is_secret() else normalise(resolved)


def write_render(render: StackRender, out_dir: Path) -> Path:
    """Write ``manifests.yaml`` and ``resources.json``: sorted, deterministic, diff-friendly.

    Written into a temporary folder beside the target and swapped in, so ``out_dir/<stack>`` is
    always one complete render: never half of a new one, never a new file beside an old one.
    """
    target = out_dir / render.stack
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{render.stack}.", suffix=".partial", dir=out_dir))
    try:
        staging.chmod(0o755)
        documents = [
            yaml.safe_dump(obj, sort_keys=True, default_flow_style=False, width=120) for obj in render.manifests
        ]
        (staging / "manifests.yaml").write_text("---\n" + "---\n".join(documents))
        payload = {"stack": render.stack, "outputs": render.outputs, "resources": render.resources}
        (staging / "resources.json").write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
        if target.is_dir() and not target.is_symlink():
            for entry in target.iterdir():  # files that are not ours stay with the render
                if entry.name not in RENDER_FILES:
                    entry.rename(staging / entry.name)
        if target.exists() or target.is_symlink():
            previous = staging.with_name(staging.name.removesuffix(".partial") + ".previous")
            target.rename(previous)
            staging.rename(target)
            _remove(previous)
        else:
            staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


#: The files a render writes; ``discard_render`` removes nothing else.
RENDER_FILES = ("manifests.yaml", "resources.json")


def discard_render(out_dir: Path, stack: str) -> Path | None:
    """Remove an older render of ``stack`` (after that stack failed to render), so it is not taken
    for a current one. Only the render's own files go; a folder holding anything else stays.
    Returns the folder when something was removed."""
    target = out_dir / stack
    if target.is_symlink() or not target.is_dir():
        return None
    removed = False
    for name in RENDER_FILES:
        with contextlib.suppress(FileNotFoundError):
            (target / name).unlink()
            removed = True
    with contextlib.suppress(OSError):
        target.rmdir()  # only when empty
    return target if removed else None


def prune_renders(out_dir: Path, stacks: set[str]) -> list[Path]:
    """Remove the renders in ``out_dir`` of stacks not in ``stacks`` (a deleted or renamed stack
    file), so a golden render never outlives its stack; returns the folders removed."""
    if not out_dir.is_dir():
        return []
    removed = []
    for folder in sorted(out_dir.iterdir()):
        if folder.name not in stacks and not folder.name.startswith(".") and (folder / "resources.json").is_file():
            found = discard_render(out_dir, folder.name)
            if found:
                removed.append(found)
    return removed


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
