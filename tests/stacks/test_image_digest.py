"""``triton.imageDigest`` pins Triton's image by content in a whole rendered stack, and the objects it
renders stay valid Kubernetes (a digest in a label value would be refused by the API server)."""

from __future__ import annotations

import json

import kubernetes_validate

from support import ROOT
from support.config import problems
from triton_platform.config import load_settings
from triton_platform.environment import build_environment
from triton_platform.review.render import record, stack_config

DIGEST = "sha256:" + "9f" * 32
KUBERNETES_VERSION = "1.33.0"


def _staging_with(triton: dict) -> dict:
    config, _ = stack_config(ROOT / "Pulumi.staging.yaml")
    merged = {**json.loads(config.get("triton-platform:triton", "{}")), **triton}
    return {**config, "triton-platform:triton": json.dumps(merged)}


def test_every_triton_pod_of_a_pinned_stack_pulls_by_digest_and_stays_valid():
    settings = load_settings(_staging_with({"imageDigest": DIGEST}), "Pulumi.staging.yaml")
    render = record(lambda: build_environment(settings), "staging")
    deployments = [
        o for o in render.manifests if o["kind"] == "Deployment" and o["metadata"]["name"].startswith("triton-")
    ]
    # Staging's canary declares no image of its own, so it runs the pinned image too.
    assert {d["metadata"]["name"] for d in deployments} == {"triton-vision", "triton-vision-canary", "triton-text"}
    for deployment in deployments:
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == f"{settings.triton.image_repository}:{settings.triton.image_tag}@{DIGEST}"
        assert deployment["metadata"]["labels"]["app.kubernetes.io/version"] == settings.triton.image_tag
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_a_malformed_digest_is_one_clear_problem():
    assert problems(_staging_with({"imageDigest": "sha256:9F"})) == [
        "triton-platform:triton.imageDigest = 'sha256:9F': does not have the accepted form "
        "(regular expression ^sha256:[0-9a-f]{64}$)"
    ]
