"""The clouds a stack can provision, each one folder under ``clouds/`` that registers itself here.

Everything outside ``clouds/`` iterates ``registered()`` instead of naming a cloud: config validates
each registered cloud's section with its rules (``register`` adds it as a ``CloudSection``), the
composition asks the stack's cloud for its layer, the offline render for the outputs its provider
would compute, the diff for the changes that replace its resources, delivery for its model store and
the benchmarks for its SDK. A cloud's SDK is imported only inside its ``build_layer`` (its store's
client only inside ``ModelStore.open``), so registering a cloud costs little and a stack without its
section never loads that SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from ..config.base import Problem
from ..config.settings import CloudSection, CloudSettings, PlatformSettings, add_cloud_section, remove_cloud_section
from .seam import CloudLayer
from .store import Location, ObjectStore

#: In ``Cloud.force_new``: the provider has no update for the type at all, so any change replaces it.
EVERY_INPUT = "*"


@dataclass(frozen=True)
class ModelStore:
    """The object store a cloud keeps model repositories in, for publishing and promoting models."""

    scheme: str
    """URL scheme of the store's repositories (``<scheme>://bucket/path``)."""
    name: str
    """The store's name in messages."""
    open: Callable[[Location, str | None], ObjectStore]
    """A client of the repository's bucket (``endpoint_url``: an emulator or compatible endpoint); imports
    the store's client library."""
    endpoint: str = "endpoint URL"
    """What ``--endpoint-url`` points at for this store (an emulator, a compatible service)."""
    endpoint_variable: str = ""
    """The environment variable the store's client reads the endpoint from."""
    endpoint_in_url: bool = False
    """Whether Triton accepts an endpoint inside the URL (``<scheme>://http://host:port/bucket/path``)."""


def _no_resource_outputs(args: pulumi.runtime.MockResourceArgs, state: dict[str, Any], digest: str) -> None:
    return None


def _no_call_result(token: str, args: dict[str, Any]) -> dict[str, Any] | None:
    return None


@dataclass(frozen=True)
class Cloud:
    """One cloud: where its settings are in a stack, how its layer is built, how the render mocks it."""

    key: str
    """The stack file's section (``triton-platform:<key>``), which is also the Pulumi package of the
    cloud's resources (``<key>:...`` types and functions)."""
    settings: type[CloudSettings]
    """The model of the cloud's section."""
    doc: str
    """The section's doc in the configuration reference."""
    check: Callable[[PlatformSettings, Any], Iterable[Problem]]
    """The cloud's rules over the stack's settings and its own section, run with every other rule."""
    build_layer: Callable[[PlatformSettings, Any], CloudLayer]
    """The cloud's layer, from the stack's settings and the cloud's own section."""
    mock_resource: Callable[[pulumi.runtime.MockResourceArgs, dict[str, Any], str], None] = _no_resource_outputs
    """Offline render: add to ``state`` (the resource's inputs) the outputs its provider would compute;
    ``digest`` is a stable hash of the resource's type and name."""
    mock_call: Callable[[str, dict[str, Any]], dict[str, Any] | None] = _no_call_result
    """Offline render: the result of one of the cloud's functions (token, arguments), None if not its own."""
    force_new: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Offline diff: type token -> the input paths whose change makes the provider replace the resource
    (``EVERY_INPUT``: any change does)."""
    stateful_types: frozenset[str] = frozenset()
    """Offline diff: types whose deletion or replacement loses data, beyond the kinds every cloud shares."""
    sdk_module: str | None = None
    """The Python module of the cloud's Pulumi provider SDK (the package extra named as the key installs it),
    which a stack of another cloud never loads."""
    sdk_distribution: str | None = None
    """The distribution of that SDK, for the install-size measurements."""
    istio_platform: str | None = None
    """Istio's ``global.platform`` for the cloud's clusters (the CNI binary path differs on some), or None."""
    store: ModelStore | None = None
    """Where the cloud keeps model repositories; None: models are published to it by other means."""

    def section(self, settings: PlatformSettings) -> Any | None:
        """The stack's settings of this cloud, or None when the stack has no such section."""
        return getattr(settings, self.key, None)


_CLOUDS: dict[str, Cloud] = {}


def register(cloud: Cloud) -> Cloud:
    """Add ``cloud`` (or replace the one of the same key); returns it, for ``CLOUD = register(...)``."""
    _CLOUDS[cloud.key] = cloud
    scheme = cloud.store.scheme if cloud.store is not None else None
    add_cloud_section(CloudSection(cloud.key, cloud.settings, cloud.doc, cloud.check, scheme))
    return cloud


def registered() -> list[Cloud]:
    """Every registered cloud, in registration order."""
    return list(_CLOUDS.values())


def unregister(key: str) -> None:
    """Remove a cloud (a test's own, once it is done)."""
    _CLOUDS.pop(key, None)
    remove_cloud_section(key)


def stack_cloud(settings: PlatformSettings) -> tuple[Cloud, Any] | None:
    """The cloud the stack provisions and its section, or None for a stack on an existing cluster."""
    for cloud in registered():
        section = cloud.section(settings)
        if section is not None:
            return cloud, section
    return None
