"""A cloud is one folder: a third cloud registered from this file alone (no edit to triton_platform)
is validated from its stack-file section, composed into the environment and rendered offline, and
its layer's wiring reaches the Triton objects, exactly as GCP's and AWS's do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from support.render import inputs, one
from triton_platform.clouds import Cloud, register, registered
from triton_platform.clouds.registry import ModelStore, unregister
from triton_platform.clouds.seam import CloudLayer, triton_wiring
from triton_platform.clouds.store import Location, ObjectStore
from triton_platform.config import ConfigError, load_settings
from triton_platform.config.base import Environment, Problem
from triton_platform.config.settings import CloudSettings, PlatformSettings, settings_model
from triton_platform.delivery.storage import parse_location
from triton_platform.review.render import render_stack

ROOT = Path(__file__).resolve().parents[2]
KEY = "tinycloud"
BUCKET_TYPE = f"{KEY}:storage/bucket:Bucket"


class TinyCloudSettings(CloudSettings):
    """The tinycloud section: a region and the GPU nodes' pool label."""

    region: str
    """Region of everything the stack declares."""
    pool: str = "gpu"
    """Label value of the GPU pool's nodes."""
    identity: Literal["workload", "key"] = "workload"
    """How Triton reads the bucket."""


class TinyNodes:
    def __init__(self, pool: str) -> None:
        self.tolerations = [{"key": f"{KEY}.example/gpu", "operator": "Exists", "effect": "NoSchedule"}]
        self.node_selector = {f"{KEY}.example/pool": pool}


class TinyIdentity:
    def __init__(self, account: pulumi.Output[str]) -> None:
        self.service_account_annotations = {f"{KEY}.example/account": account}
        self.credentials_file = None


def build_layer(settings: PlatformSettings, section: TinyCloudSettings) -> CloudLayer:
    # A resource of the cloud's own package: its URL is an output only the cloud's mocks compute.
    bucket = pulumi.CustomResource(BUCKET_TYPE, "model-bucket", {"region": section.region, "url": None})
    repository = pulumi.Output.concat(bucket.url, "/models")  # type: ignore[attr-defined]
    provider = k8s.Provider("kubernetes", kubeconfig="apiVersion: v1\nkind: Config\n")
    account = pulumi.Output.concat("reader@", section.region)
    return CloudLayer(
        model_repository=repository,
        kubernetes_provider=provider,
        triton_args=triton_wiring(
            TinyNodes(section.pool), TinyIdentity(account), extra_env={"TINY_REGION": section.region}
        ),
        depends_on=[bucket],
        outputs={"tinyBucketUrl": bucket.url},  # type: ignore[attr-defined]
        egress={"dns_cidrs": ["192.0.2.53/32"]},
    )


def mock_resource(args: pulumi.runtime.MockResourceArgs, state: dict[str, Any], digest: str) -> None:
    if args.typ == BUCKET_TYPE:
        state["url"] = f"tc://{args.name}-{digest[:6]}"


def check(settings: PlatformSettings, section: TinyCloudSettings) -> Iterator[Problem]:
    if settings.environment is Environment.PROD and section.identity == "key":
        yield Problem((KEY, "identity"), "key", "keys are not allowed in prod; use workload")


class TinyStore(ObjectStore):
    def check_bucket(self) -> None: ...
    def list(self, prefix: str) -> dict[str, int]:
        return {}

    def upload(self, key: str, path: Path) -> None: ...
    def copy(self, source: str, target: str) -> None: ...
    def delete(self, keys: Any) -> None: ...
    def read_text(self, key: str) -> str | None:
        return None


@pytest.fixture
def tiny_cloud() -> Iterator[Cloud]:
    cloud = register(
        Cloud(
            key=KEY,
            settings=TinyCloudSettings,
            doc="Tinycloud: a bucket and a GPU pool.",
            check=check,
            build_layer=build_layer,
            mock_resource=mock_resource,
            store=ModelStore(scheme="tc", name="Tinycloud storage", open=lambda location, _: TinyStore(location)),
        )
    )
    yield cloud
    unregister(KEY)


def _project(tmp_path: Path, stack: str, config: dict[str, Any]) -> Path:
    """A project beside the repository's: its program (``stacks/``) and one stack file."""
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.yaml").write_text(yaml.safe_dump({"name": project["name"], "main": str(ROOT / "stacks")}))
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    return tmp_path


def test_a_third_cloud_registered_from_a_test_renders_through_the_same_loader_and_program(tiny_cloud, tmp_path):
    root = _project(
        tmp_path,
        "tiny",
        {
            "triton-platform:environment": "dev",
            f"triton-platform:{KEY}": {"region": "north-1", "pool": "l4"},
            f"{KEY}:region": "north-1",  # its provider's namespace is accepted, as gcp's and aws's are
            "triton-platform:modelGroups": [{"name": "default", "replicas": 1}],
        },
    )
    render = render_stack(root, "tiny")

    bucket = one(render, BUCKET_TYPE, "model-bucket")
    url = render.outputs["tinyBucketUrl"]
    assert url.startswith("tc://model-bucket-") and bucket["inputs"]["region"] == "north-1"
    assert render.outputs["cloud"] == KEY
    assert render.outputs["modelRepository"] == f"{url}/models"

    deployment = one(render, "kubernetes:apps/v1:Deployment", "triton-default-stable")
    pod = deployment["inputs"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert f"--model-repository={url}/models" in container["args"]
    assert pod["nodeSelector"] == {f"{KEY}.example/pool": "l4"}
    assert {"key": f"{KEY}.example/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert {"name": "TINY_REGION", "value": "north-1"} in container["env"]
    account = inputs(render, "kubernetes:core/v1:ServiceAccount", "triton-service-account")
    assert account["metadata"]["annotations"] == {f"{KEY}.example/account": "reader@north-1"}
    # Triton waits for the cloud layer's resources and lands on the cluster of the layer's provider.
    assert f"{BUCKET_TYPE}::model-bucket" in deployment["dependsOn"]
    assert deployment["provider"] == "pulumi:providers:kubernetes::kubernetes"
    # The layer's egress wiring reaches Triton's egress policy.
    policy = inputs(render, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "triton-egress-triton")
    assert "192.0.2.53/32" in yaml.safe_dump(policy)


def test_a_third_cloud_s_section_is_validated_and_its_rules_run(tiny_cloud, tmp_path):
    config = {
        "triton-platform:environment": "prod",
        f"triton-platform:{KEY}": '{"region": "north-1", "identity": "key", "zone": "a"}',
    }
    with pytest.raises(ConfigError) as raised:
        load_settings(config, "Pulumi.tiny.yaml")
    assert raised.value.problems == [
        f"triton-platform:{KEY}.zone: unknown key; accepted keys here: region, pool, identity",
    ]
    config[f"triton-platform:{KEY}"] = '{"region": "north-1", "identity": "key"}'
    config["triton-platform:modelGroups"] = '[{"name": "default", "replicas": 2}]'
    with pytest.raises(ConfigError) as raised:
        load_settings(config, "Pulumi.tiny.yaml")
    assert raised.value.problems == [
        f"triton-platform:{KEY}.identity = 'key': keys are not allowed in prod; use workload"
    ]


def test_a_third_cloud_joins_the_one_cloud_rule_the_accepted_keys_and_the_repository_schemes(tiny_cloud):
    assert [c.key for c in registered()][-1] == KEY
    assert list(settings_model().model_fields)[:4] == ["environment", "gcp", "aws", KEY]
    with pytest.raises(ConfigError) as raised:
        load_settings(
            {
                "triton-platform:environment": "dev",
                "triton-platform:triton": '{"modelRepository": "ftp://models"}',
            },
            "Pulumi.x.yaml",
        )
    assert raised.value.problems == [
        "triton-platform:triton.modelRepository = 'ftp://models': must be a gs://bucket/path, s3://bucket/path, "
        "tc://bucket/path or an absolute path"
    ]
    assert parse_location("tc://bucket/models") == Location("tc", "bucket", "models")


def test_without_the_third_cloud_its_section_is_an_unknown_key():
    assert KEY not in {c.key for c in registered()}
    with pytest.raises(ConfigError) as raised:
        load_settings(
            {"triton-platform:environment": "dev", f"triton-platform:{KEY}": '{"region": "x"}'}, "Pulumi.x.yaml"
        )
    assert raised.value.problems[0].startswith(
        f"triton-platform:{KEY}: unknown key; accepted keys here: environment, gcp, aws,"
    )
