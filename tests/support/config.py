"""Building stack configs in tests and reading the exact problems a user sees."""

from __future__ import annotations

import pytest

from triton_platform.config import ConfigError, load_settings

GCP = {"project": "acme-ml-dev", "region": "us-central1", "cluster": {"name": "ml", "location": "us-central1"}}
AWS = {"region": "us-east-1", "cluster": {"name": "ml"}, "gpuNodeGroup": {"minNodes": 1}}
REPO = {"modelRepository": "gs://models/repo"}


def env(name: str, **keys) -> dict:
    """A stack's config: ``environment`` plus ``triton-platform:<key>`` for each keyword."""
    return {"triton-platform:environment": name, **{f"triton-platform:{k}": v for k, v in keys.items()}}


def problems(config: dict) -> list[str]:
    """The problem lines ``load_settings`` reports for ``config``; it must refuse it."""
    with pytest.raises(ConfigError) as caught:
        load_settings(config, "Pulumi.test.yaml")
    assert str(caught.value).startswith("Invalid configuration in Pulumi.test.yaml (")
    return caught.value.problems
