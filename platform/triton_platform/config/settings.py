"""The root of one stack's settings (``triton-platform:*``).

Each concern's models are their own module (``serving``, ``cluster``, ``mesh``, ``observability``),
its rules the module beside it (``<concern>_rules``; ``rules.check`` runs them all). A cloud is a section this package does not know by name: each registers its
``CloudSection`` (key, model, rules), and ``settings_model()`` is ``PlatformSettings`` with one
optional field per registered section, which is what a stack file is validated against.
Secrets are never fields: they stay Pulumi secrets (see ``SECRET_KEYS``).
Each field's doc (``field_docs``) is its entry in docs/configuration.md (``make docs``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from copy import copy
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from pydantic import Field, create_model

from .base import Environment, Model, Problem
from .cluster import ClusterSettings
from .field_docs import field_doc
from .mesh import MeshSettings
from .observability import ObservabilitySettings
from .serving import ModelGroupSettings, TritonSettings

#: The package whose import registers the built-in clouds (each one folder that adds its section here).
#: Imported by name when the settings model is first built, so this package stays below the clouds.
BUILTIN_CLOUDS = "triton_platform.clouds"


class SecretKey(NamedTuple):
    """A secret config key: never a field, so its reference entry lives here."""

    default: str
    doc: str


#: Config keys that hold secrets: set with ``pulumi config set --secret``, read as Outputs.
SECRET_KEYS = {
    "adminApiKey": SecretKey(
        "generated",
        "Key for Triton's restricted APIs (``triton.restrictedApis``). Unset: a random key is generated and "
        "kept in the stack's state.",
    ),
    "alertReceiverSecret": SecretKey(
        "unset",
        "Credential of ``observability.alerts.receiver``: the webhook URL, the Slack incoming-webhook URL, the "
        "PagerDuty Events v2 routing key, or the SMTP password (``email`` with ``emailAuthUsername``).",
    ),
}


class CloudSettings(Model):
    """What every cloud's section (``triton-platform:<cloud>``) tells the cloud-neutral rules."""

    @property
    def gpus_are_mig_partitions(self) -> bool:
        """Whether pods get MIG partitions rather than whole GPUs (Triton then reports no utilization)."""
        return False


@dataclass(frozen=True)
class CloudSection:
    """A cloud's section of the stack file, as a cloud registers it."""

    key: str
    """The section's key, ``triton-platform:<key>``."""
    model: type[CloudSettings]
    doc: str
    """The section's doc in the reference."""
    check: Callable[[PlatformSettings, Any], Iterable[Problem]]
    """The cloud's rules over the stack's settings and its own section."""
    repository_scheme: str | None = None
    """URL scheme of the cloud's object store, which a stack without a cloud may point at."""


_SECTIONS: dict[str, CloudSection] = {}
_MODEL: list[Any] = []


def add_cloud_section(section: CloudSection) -> None:
    _SECTIONS[section.key] = section
    _MODEL.clear()


def remove_cloud_section(key: str) -> None:
    _SECTIONS.pop(key, None)
    _MODEL.clear()


def cloud_sections() -> list[CloudSection]:
    """Every registered cloud's section, in registration order (the built-in ones loaded first)."""
    importlib.import_module(BUILTIN_CLOUDS)
    return list(_SECTIONS.values())


class _SettingsRoot(Model):
    """What ``PlatformSettings`` and the model ``settings_model()`` builds share: the cloud section lookups."""

    @property
    def cloud(self) -> str:
        """The key of the cloud section the stack has, or ``none``."""
        return next((s.key for s in cloud_sections() if getattr(self, s.key, None) is not None), "none")

    @property
    def cloud_settings(self) -> CloudSettings | None:
        """The stack's cloud section, or None for a stack on an existing cluster."""
        return getattr(self, self.cloud, None) if self.cloud != "none" else None

    @property
    def existing_cluster(self) -> ClusterSettings | None:
        """The GPU nodes of a cluster this stack does not provision; None for a stack with a cloud section."""
        if self.cloud != "none":
            return None
        cluster: ClusterSettings | None = getattr(self, "cluster", None)
        return cluster if cluster is not None else ClusterSettings()


class PlatformSettings(_SettingsRoot):
    """Root: every ``triton-platform:<key>`` of one stack."""

    environment: Environment
    """Kind of environment; ``prod`` turns on the stricter rules."""
    cluster: ClusterSettings | None = None
    """Stacks without a cloud section: the existing cluster's GPU nodes (the defaults below apply when absent)."""
    triton: TritonSettings = TritonSettings()
    """The Triton servers."""
    mesh: MeshSettings = MeshSettings()
    """Istio routing, canaries and mesh security."""
    observability: ObservabilitySettings = ObservabilitySettings()
    """Prometheus monitoring, alerts, the dashboard and the add-ons autoscaling needs."""
    model_groups: list[ModelGroupSettings] = Field(
        default_factory=lambda: [ModelGroupSettings(name="default")], min_length=1
    )
    """Model groups, each its own Deployment and GPU share; the first is the gateway's default route."""


def settings_model() -> type[PlatformSettings]:
    """The model a stack file is validated against: ``PlatformSettings``' fields with each registered cloud's
    section after ``environment`` (the order of the reference and of "accepted keys" messages). Built
    beside ``PlatformSettings`` rather than from it, since a subclass would list the sections last."""
    sections = cloud_sections()
    if not _MODEL:
        fields: dict[str, Any] = {}
        for name, info in PlatformSettings.model_fields.items():
            copied = copy(info)
            copied.description = field_doc(PlatformSettings, name)
            fields[name] = (info.annotation, copied)
            if name == "environment":
                for section in sections:
                    fields[section.key] = (section.model | None, Field(default=None, description=section.doc))
        _MODEL.append(create_model("PlatformSettings", __base__=_SettingsRoot, __module__=__name__, **fields))
    return cast(type[PlatformSettings], _MODEL[0])
