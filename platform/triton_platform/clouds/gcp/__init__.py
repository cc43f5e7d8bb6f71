"""Google Cloud: a GKE cluster (looked up or created), its GPU node pool, the GCS model bucket and the
reader identity. ``pulumi_gcp`` is imported only when a stack with a ``gcp`` section builds its layer."""

from __future__ import annotations

from typing import Any

from ...config.settings import PlatformSettings
from ..registry import Cloud, ModelStore, register
from ..seam import CloudLayer
from ..store import Location, ObjectStore
from .mocks import mock_call, mock_resource
from .replacements import FORCE_NEW
from .rules import check
from .settings import GcpSettings


def build_layer(settings: PlatformSettings, section: Any) -> CloudLayer:
    from .layer import build_gcp

    return build_gcp(settings, section)


def open_store(location: Location, endpoint_url: str | None) -> ObjectStore:
    from .store import GcsStore

    return GcsStore(location, endpoint_url)


CLOUD = register(
    Cloud(
        key="gcp",
        settings=GcpSettings,
        doc="Google Cloud: a GKE cluster, its GPU node pool and the model bucket.",
        check=check,
        istio_platform="gke",
        build_layer=build_layer,
        mock_resource=mock_resource,
        mock_call=mock_call,
        force_new=FORCE_NEW,
        sdk_module="pulumi_gcp",
        sdk_distribution="pulumi-gcp",
        store=ModelStore(
            scheme="gs",
            name="GCS",
            open=open_store,
            endpoint="GCS emulator URL",
            endpoint_variable="STORAGE_EMULATOR_HOST",
        ),
    )
)
