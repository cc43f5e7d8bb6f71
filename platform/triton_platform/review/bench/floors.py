"""The floors ours is compared with: the resources it declared, declared again without it.

Each floor replays a capture of ours (same type tokens, names, inputs and provider wiring) with
plain values, so there are no Outputs to wait for, no validation and no composition:

- ``bare``: every custom resource as a bare ``CustomResource`` subclass: the SDK's own floor.
- ``typed``: every custom resource through its provider SDK class (``pulumi_kubernetes.apps.v1.
  Deployment``, ``pulumi_random.RandomId``, a cloud's node pool, ...), the "raw SDK calls" a hand-written
  program would make. A type whose class cannot be found or called with the recorded inputs
  falls back to ``bare`` and is counted.
- ``tree``: ``bare`` plus the components, as bare components with the same parents: the cost of
  the resource tree alone.

Generic over resource types: nothing here names a resource type of ours.
"""

from __future__ import annotations

import importlib
import json
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import pulumi

from .harness import Declared

KINDS = ("bare", "typed", "tree")
_PROVIDER = "pulumi:providers:"


class BareResource(pulumi.CustomResource):
    """The least a resource can be: a concrete ``CustomResource`` subclass, as every provider SDK
    class is. (A direct ``pulumi.CustomResource(...)`` call would skip the source-position capture
    the SDK does for every concrete resource, and make the floor lower than any real program.)"""

    def __init__(self, type_: str, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        super().__init__(type_, name, props, opts)


class BareProvider(pulumi.ProviderResource):
    def __init__(self, package: str, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        super().__init__(package, name, props, opts)


class BareComponent(pulumi.ComponentResource):
    def __init__(self, type_: str, name: str, opts: pulumi.ResourceOptions) -> None:
        super().__init__(type_, name, None, opts)


def sdk_class(type_: str) -> type[pulumi.CustomResource] | None:
    """The provider SDK class of a type token, by the SDKs' module conventions, or None.

    ``kubernetes:apps/v1:Deployment`` -> ``pulumi_kubernetes.apps.v1.Deployment`` (custom
    resources of other API groups -> ``pulumi_kubernetes.apiextensions.CustomResource``);
    ``<package>:container/nodePool:NodePool`` -> ``pulumi_<package>.container.NodePool``;
    ``random:index/randomId:RandomId`` -> ``pulumi_random.RandomId``;
    ``pulumi:providers:random`` -> ``pulumi_random.Provider``."""
    if type_.startswith(_PROVIDER):
        package, module_path, name = type_.removeprefix(_PROVIDER), [], "Provider"
    else:
        package, module, name = type_.split(":")
        module_path = module.split("/")
        if module_path[0] == "index":
            module_path = []
        elif package == "kubernetes":
            module_path[0] = module_path[0].split(".")[0]  # helm.sh/v3 -> helm.v3
        elif module_path[-1].lower() == name.lower():
            module_path = module_path[:-1]  # container/nodePool -> container
    root = "pulumi_" + package.replace("-", "_")
    try:
        return getattr(importlib.import_module(".".join([root, *module_path])), name)
    except (ImportError, AttributeError):
        if package == "kubernetes":
            return importlib.import_module("pulumi_kubernetes.apiextensions").CustomResource
        return None


def _snake(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key).lower()


def _provider_value(value: Any) -> Any:
    """Provider inputs travel as strings, scalars JSON-encoded; a typed provider encodes again."""
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        return decoded if not isinstance(decoded, str) else value
    return value


def replay_program(declared: list[Declared], kind: str = "bare") -> tuple[Callable[[], None], list[str]]:
    """A program declaring ``declared`` again as the ``kind`` floor, and the types that fell back
    to ``bare`` (``typed`` only). Registration order is kept: parents and providers come first.

    Without components every resource sits at the top level, so a name that repeats (the same
    environment declared N times) gets a ``-<n>`` suffix to keep URNs unique."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    tree = kind == "tree"
    kept = [d for d in declared if d.custom or tree]
    names: dict[str, str] = {}
    seen: Counter[tuple[str, str, str]] = Counter()
    for d in kept:
        key = (d.type, d.name, d.parent_urn if tree else "")
        seen[key] += 1
        names[d.urn] = d.name if seen[key] == 1 else f"{d.name}-{seen[key]}"
    classes = {d.type: sdk_class(d.type) for d in kept} if kind == "typed" else {}
    fallbacks: list[str] = []

    def declare_typed(d: Declared, opts: pulumi.ResourceOptions) -> pulumi.Resource | None:
        cls = classes.get(d.type)
        if cls is None:
            return None
        provider = d.type.startswith(_PROVIDER)
        kwargs = {_snake(k): (_provider_value(v) if provider else v) for k, v in d.inputs.items()}
        try:
            return cls(names[d.urn], opts=opts, **kwargs)
        except TypeError:  # a signature or required input the recorded inputs do not fit
            return None

    def program() -> None:
        fallbacks.clear()
        made: dict[str, pulumi.Resource] = {}
        components: list[BareComponent] = []
        for d in kept:
            opts = pulumi.ResourceOptions(parent=made.get(d.parent_urn) if tree else None)
            if not d.custom:
                made[d.urn] = component = BareComponent(d.type, names[d.urn], opts)
                components.append(component)
                continue
            provider = made.get(d.provider_urn)
            if isinstance(provider, pulumi.ProviderResource):
                opts.provider = provider
            resource = declare_typed(d, opts) if kind == "typed" else None
            if resource is None:
                if kind == "typed":
                    fallbacks.append(d.type)
                if d.type.startswith(_PROVIDER):
                    resource = BareProvider(d.type.removeprefix(_PROVIDER), names[d.urn], dict(d.inputs), opts)
                else:
                    resource = BareResource(d.type, names[d.urn], dict(d.inputs), opts)
            made[d.urn] = resource
        for component in components:
            component.register_outputs({})

    return program, fallbacks
