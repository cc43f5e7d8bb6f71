"""AWS: an existing EKS cluster, a GPU node group, the S3 model bucket and the reader identity.
``pulumi_aws`` is imported only when a stack with an ``aws`` section builds its layer."""

from __future__ import annotations

from typing import Any

from ...config.settings import PlatformSettings
from ..registry import Cloud, ModelStore, register
from ..seam import CloudLayer
from ..store import Location, ObjectStore
from .mocks import mock_call, mock_resource
from .replacements import FORCE_NEW, STATEFUL_TYPES
from .rules import check
from .settings import AwsSettings


def build_layer(settings: PlatformSettings, section: Any) -> CloudLayer:
    from .layer import build_aws

    return build_aws(settings, section)


def open_store(location: Location, endpoint_url: str | None) -> ObjectStore:
    from .store import S3Store

    return S3Store(location, endpoint_url)


CLOUD = register(
    Cloud(
        key="aws",
        settings=AwsSettings,
        doc="AWS: an existing EKS cluster, a GPU node group and the model bucket.",
        check=check,
        build_layer=build_layer,
        mock_resource=mock_resource,
        mock_call=mock_call,
        force_new=FORCE_NEW,
        sdk_module="pulumi_aws",
        sdk_distribution="pulumi-aws",
        stateful_types=STATEFUL_TYPES,
        store=ModelStore(
            scheme="s3",
            name="S3",
            open=open_store,
            endpoint="S3-compatible endpoint",
            endpoint_variable="AWS_ENDPOINT_URL",
            endpoint_in_url=True,
        ),
    )
)
