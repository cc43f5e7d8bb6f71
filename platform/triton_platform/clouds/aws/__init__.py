"""AWS: an existing EKS cluster, a GPU node group, the S3 model bucket and the reader identity.
``pulumi_aws`` is imported only when a stack with an ``aws`` section builds its layer."""

from __future__ import annotations

from typing import Any

from ...config.models import PlatformSettings
from ..registry import Cloud, register
from ..seam import CloudLayer
from .mocks import mock_call, mock_resource


def build_layer(settings: PlatformSettings, section: Any) -> CloudLayer:
    from .layer import build_aws

    return build_aws(settings, section)


CLOUD = register(Cloud(key="aws", build_layer=build_layer, mock_resource=mock_resource, mock_call=mock_call))
