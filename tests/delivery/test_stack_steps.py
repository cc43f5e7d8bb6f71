"""What publish tells a user after the upload: where the bucket is, how the version goes live, where
the model answers; and which install each command needs. No cloud, no cluster."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from support import ROOT
from triton_platform.delivery import StorageError
from triton_platform.delivery.live import pod_selector
from triton_platform.delivery.stack import endpoints, load_stack, next_steps, repository_location, track_location
from triton_platform.review.bench.footprint import PROJECT_DIST, closure


@pytest.fixture(scope="module")
def staging():
    return load_stack(ROOT, "staging")


def test_a_model_new_to_an_explicit_group_needs_a_config_change_and_pulumi_up(staging):
    steps = next_steps(staging, "efficientnet", "vision", "stable")
    assert (
        steps[1] == "  pulumi config set --path 'triton-platform:modelGroups[0].models[2]' efficientnet --stack staging"
    )
    assert steps[2] == "  pulumi up --stack staging"


def test_a_new_version_of_a_served_model_is_loaded_on_every_pod(staging):
    steps = next_steps(staging, "bert-base", "text", "stable")
    assert "  triton-platform model load bert-base --stack staging --group text" in steps


def test_mode_none_rolls_the_deployment(tmp_path: Path):
    ctx = load_stack(ROOT, "dev")
    assert "  kubectl rollout restart deployment/triton-default -n triton" in next_steps(ctx, "m", None, "stable")


def test_endpoints_through_the_gateway_and_without_a_mesh(staging):
    assert endpoints(staging, "resnet50", "canary") == [
        "HTTP: POST https://triton.staging.example.com/triton/v2/models/resnet50/infer",
        "gRPC: triton.staging.example.com:443 (TLS) with header 'triton-model: resnet50'",
        "Auth: header 'authorization: Bearer <token from https://auth.example.com/realms/ml>'",
        "Canary only: add header 'triton-track: canary'",
    ]
    meshless = load_stack(ROOT, "staging")
    meshless.settings = meshless.settings.model_copy(
        update={"mesh": meshless.settings.mesh.model_copy(update={"enabled": False})}
    )
    assert endpoints(meshless, "bert-base")[-1] == (
        "From your machine: kubectl port-forward -n triton svc/triton-text 8000:8000 8001:8001"
    )


def test_the_bucket_comes_from_the_stack_output_or_a_clear_error(staging, monkeypatch):
    def pulumi(argv, **kwargs):
        assert argv == ["pulumi", "stack", "output", "modelRepository", "--stack", "staging"]
        return subprocess.CompletedProcess(argv, 0, "gs://acme-triton-staging-1a2b3c/model_repository\n", "")

    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/pulumi")
    location = repository_location(staging, runner=pulumi)
    assert location.url == "gs://acme-triton-staging-1a2b3c/model_repository"
    assert (
        track_location(staging, location, "vision", "canary").url
        == "gs://acme-triton-staging-1a2b3c/model_repository_canary"
    )
    with pytest.raises(
        ValueError,
        match=r"group 'text' of stack staging has no canary with a modelRepositoryPath; "
        r"declare one: pulumi config set --path 'triton-platform:modelGroups\[1\]",
    ):
        track_location(staging, location, "text", "canary")
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(
        StorageError, match="the Pulumi CLI is not installed, so the bucket is unknown; pass --repository"
    ):
        repository_location(staging)


def test_the_pod_selector_is_the_rendered_deployments(rendered):
    for stack, group, track in (
        ("staging", "vision", "stable"),
        ("staging", "vision", "canary"),
        ("dev", "default", "stable"),
    ):
        labels = rendered(stack, group, track).deployment["spec"]["selector"]["matchLabels"]
        assert sorted(pod_selector(group, track).split(",")) == sorted(f"{k}={v}" for k, v in labels.items())


@pytest.mark.parametrize(
    ("extras", "present", "absent"),
    [
        ((), set(), {"tritonclient", "boto3", "google-cloud-storage"}),
        (
            ("delivery",),
            {"tritonclient", "grpcio", "protobuf", "nvidia-pytriton", "numpy"},
            {"boto3", "google-cloud-storage"},
        ),
        (("delivery-gcs",), {"tritonclient", "google-cloud-storage"}, {"boto3"}),
        (("delivery-s3",), {"tritonclient", "boto3"}, {"google-cloud-storage"}),
    ],
)
def test_each_delivery_extra_brings_only_what_its_commands_use(extras, present, absent):
    dists, missing = closure(PROJECT_DIST, extras)
    assert not missing, missing
    assert present <= set(dists) and not absent & set(dists), sorted(set(dists) & (present | absent))


def test_load_refuses_what_a_restarted_pod_would_not_load(monkeypatch, capsys):
    from triton_platform.cli import main

    monkeypatch.chdir(ROOT)
    assert main(["model", "load", "efficientnet", "--stack", "staging", "--group", "vision", "--url", "http://x"]) == 1
    assert "pulumi config set --path 'triton-platform:modelGroups[0].models[2]' efficientnet" in capsys.readouterr().err
    assert main(["model", "load", "addv", "--stack", "dev", "--url", "http://x"]) == 1
    assert "kubectl rollout restart deployment/triton-default -n triton" in capsys.readouterr().err


def test_endpoints_of_a_model_no_group_serves_exits_1_naming_the_groups(
    capsys: pytest.CaptureFixture[str], monkeypatch
):
    from triton_platform.cli import main

    monkeypatch.chdir(ROOT)
    assert main(["model", "endpoints", "efficientnet", "--stack", "staging"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == (
        "triton-platform: no model group of stack 'staging' serves 'efficientnet' (groups and their models: "
        "vision: resnet50, yolov8; text: bert-base); add it to a group's models (`pulumi config set --path "
        "'triton-platform:modelGroups[<i>].models[<n>]' efficientnet --stack staging`, then `pulumi up`), "
        "or check the name"
    )
    assert main(["model", "endpoints", "bert-base", "--stack", "staging"]) == 0
    assert capsys.readouterr().out.startswith("HTTP: POST ")
