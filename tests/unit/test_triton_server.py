"""TritonServer and TritonModelGroup: what they ask Kubernetes for."""

from __future__ import annotations

import pytest

from support.render import inputs
from triton_components import TritonServer
from triton_components.serving.triton_pod import DEFAULT_RESTRICTED_APIS

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def _server(**overrides):
    args = {"model_repository": "gs://bucket/models", **overrides}
    return lambda: TritonServer("triton", args)


def _container(render, name="triton-default-stable"):
    return inputs(render, DEPLOYMENT, name)["spec"]["template"]["spec"]["containers"][0]


def test_default_group_serves_whole_repository_with_hardening_flags(run):
    render = run(_server())
    args = _container(render)["args"]
    assert args[:2] == ["--model-repository=gs://bucket/models", "--model-control-mode=none"]
    assert not any(a.startswith("--load-model") for a in args)
    for flag in (
        "--exit-on-error=true",
        "--strict-readiness=true",
        "--disable-auto-complete-config",
        "--allow-sagemaker=false",
        "--allow-vertex-ai=false",
    ):
        assert flag in args


def test_restricted_apis_use_secret_backed_key_never_literal(run):
    render = run(_server(admin_api_key="super-secret-value"))
    container = _container(render)
    apis = ",".join(DEFAULT_RESTRICTED_APIS)
    assert f"--http-restricted-api={apis}:admin-key=$(TRITON_ADMIN_KEY)" in container["args"]
    assert f"--grpc-restricted-protocol={apis}:admin-key=$(TRITON_ADMIN_KEY)" in container["args"]
    env = {e["name"]: e for e in container["env"]}
    assert env["TRITON_ADMIN_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "triton-admin-key", "key": "admin-key"}
    secret = inputs(render, "kubernetes:core/v1:Secret", "triton-admin-key")
    assert secret["stringData"] == {"admin-key": "[secret]"}
    assert "super-secret-value" not in repr(render.resources)


def test_ports_probes_and_rollout(run):
    render = run(_server(model_groups=[{"name": "default", "model_load_timeout_seconds": 900}]))
    deployment = inputs(render, DEPLOYMENT, "triton-default-stable")
    container = _container(render)
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": 8000, "grpc": 8001, "metrics": 8002}
    startup = container["startupProbe"]
    assert startup["httpGet"]["path"] == "/v2/health/ready"
    assert startup["failureThreshold"] * startup["periodSeconds"] >= 900
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    assert deployment["spec"]["replicas"] == 1


def test_restricted_pod_security_and_writable_mounts(run):
    render = run(_server())
    pod = inputs(render, DEPLOYMENT)["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["dshm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "1Gi"}
    assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/tmp", "/dev/shm", "/var/lib/triton/model-cache"}
    assert pod["automountServiceAccountToken"] is False
    namespace = inputs(render, "kubernetes:core/v1:Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_resources_gpu_limits_and_graceful_shutdown(run):
    render = run(
        _server(
            model_groups=[
                {
                    "name": "default",
                    "gpus_per_replica": 2,
                    "cpu": "8",
                    "memory": "32Gi",
                    "pre_stop_sleep_seconds": 5,
                    "exit_timeout_seconds": 20,
                }
            ]
        )
    )
    pod = inputs(render, DEPLOYMENT)["spec"]["template"]["spec"]
    resources = pod["containers"][0]["resources"]
    assert resources["limits"] == {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "2"}
    assert resources["requests"] == {"cpu": "8", "memory": "32Gi"}
    assert pod["containers"][0]["lifecycle"]["preStop"] == {"sleep": {"seconds": 5}}
    assert pod["terminationGracePeriodSeconds"] >= 5 + 20
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]


def test_one_deployment_per_model_group_in_explicit_mode(run):
    render = run(
        _server(
            model_control_mode="explicit",
            model_groups=[
                {"name": "vision", "models": ["resnet50", "yolo"]},
                {"name": "text", "models": ["bert"], "replicas": 3},
            ],
        )
    )
    vision = _container(render, "triton-vision-stable")["args"]
    text = _container(render, "triton-text-stable")["args"]
    assert [a for a in vision if a.startswith("--load-model")] == ["--load-model=resnet50", "--load-model=yolo"]
    assert [a for a in text if a.startswith("--load-model")] == ["--load-model=bert"]
    assert inputs(render, DEPLOYMENT, "triton-text-stable")["spec"]["replicas"] == 3
    services = {r["inputs"]["metadata"]["name"] for r in render.find("kubernetes:core/v1:Service")}
    assert services == {"triton-vision", "triton-text"}


def test_service_is_cluster_ip_with_app_protocols_and_pdb_never_blocks(run):
    render = run(_server())
    service = inputs(render, "kubernetes:core/v1:Service")["spec"]
    assert service["type"] == "ClusterIP"
    assert {p["name"]: p["appProtocol"] for p in service["ports"]} == {
        "http": "http",
        "grpc": "grpc",
        "metrics": "http",
    }
    pdb = inputs(render, "kubernetes:policy/v1:PodDisruptionBudget")["spec"]
    assert pdb["maxUnavailable"] == 1 and pdb["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_autoscaled_group_omits_replicas(run):
    render = run(_server(model_groups=[{"name": "default", "replicas": None}]))
    assert "replicas" not in inputs(render, DEPLOYMENT)["spec"]


def test_credentials_file_is_kept_in_a_secret_and_mounted_as_a_file(run):
    render = run(
        _server(
            credentials_file={
                "content": '{"private_key": "k3y-material"}',
                "file_name": "key.json",
                "env_var": "GOOGLE_APPLICATION_CREDENTIALS",
            }
        )
    )
    secret = inputs(render, "kubernetes:core/v1:Secret", "triton-model-repository-credentials")
    assert secret["stringData"] == {"key.json": "[secret]"}
    assert "k3y-material" not in repr(render.resources)
    pod = inputs(render, DEPLOYMENT)["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["GOOGLE_APPLICATION_CREDENTIALS"] == "/var/run/secrets/model-repository/key.json"
    volume = next(v for v in pod["volumes"] if v["name"] == "model-repository-credentials")
    assert volume["secret"]["secretName"] == "triton-model-repository-credentials"


def test_canary_gets_its_own_deployment_and_pdb(run):
    render = run(
        _server(model_groups=[{"name": "default", "canary": {"image": "nvcr.io/nvidia/tritonserver:26.11-py3"}}])
    )
    canary = inputs(render, DEPLOYMENT, "triton-default-canary")
    assert canary["metadata"]["name"] == "triton-default-canary"
    assert canary["spec"]["selector"]["matchLabels"]["version"] == "canary"
    assert canary["spec"]["template"]["spec"]["containers"][0]["image"].endswith("26.11-py3")
    assert len(render.find("kubernetes:policy/v1:PodDisruptionBudget")) == 2


def test_a_groups_pod_annotations_win_over_the_servers(run):
    render = run(
        _server(
            pod_annotations={"a": "server", "b": "server"},
            model_groups=[
                {"name": "vision", "pod_annotations": {"b": "vision"}, "canary": {"replicas": 1}},
                {"name": "text"},
            ],
        )
    )
    for name in ("triton-vision-stable", "triton-vision-canary"):
        assert inputs(render, DEPLOYMENT, name)["spec"]["template"]["metadata"]["annotations"] == {
            "a": "server",
            "b": "vision",
        }
    assert inputs(render, DEPLOYMENT, "triton-text-stable")["spec"]["template"]["metadata"]["annotations"] == {
        "a": "server",
        "b": "server",
    }


def test_grace_period_is_tritons_shutdown_and_the_exit_margin(run):
    from triton_components.serving.triton_pod import EXIT_MARGIN_SECONDS

    render = run(_server(model_groups=[{"name": "default", "pre_stop_sleep_seconds": 7, "exit_timeout_seconds": 11}]))
    assert (
        inputs(render, DEPLOYMENT)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        == 7 + 11 + EXIT_MARGIN_SECONDS
    )


DIGEST = "sha256:" + "0123456789abcdef" * 4


def test_image_digest_pins_the_pull_and_the_version_label_stays_the_tag(run):
    """A digest pins what the kubelet pulls; the version label must still be the tag: 64 hex digits are no
    valid label value (63 characters at most), and the API server would refuse the Deployment."""
    render = run(
        _server(
            image="nvcr.io/nvidia/tritonserver:26.10-py3",
            image_digest=DIGEST,
            model_groups=[
                {"name": "default", "canary": {"replicas": 1}},
                {"name": "next", "canary": {"image": "nvcr.io/nvidia/tritonserver:26.11-py3"}},
            ],
        )
    )
    pinned = f"nvcr.io/nvidia/tritonserver:26.10-py3@{DIGEST}"
    for name in ("triton-default-stable", "triton-default-canary", "triton-next-stable"):
        deployment = inputs(render, DEPLOYMENT, name)
        assert _container(render, name)["image"] == pinned
        for labels in (deployment["metadata"]["labels"], deployment["spec"]["template"]["metadata"]["labels"]):
            assert labels["app.kubernetes.io/version"] == "26.10-py3"
    # A canary with an image of its own runs that image, unpinned: the digest belongs to the stable tag.
    assert _container(render, "triton-next-canary")["image"] == "nvcr.io/nvidia/tritonserver:26.11-py3"


def test_without_a_digest_the_image_is_the_tag_alone(run):
    render = run(_server())
    assert _container(render)["image"] == "nvcr.io/nvidia/tritonserver:26.10-py3"


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("nvcr.io/nvidia/tritonserver:26.10-py3", "26.10-py3"),
        (f"nvcr.io/nvidia/tritonserver:26.10-py3@{DIGEST}", "26.10-py3"),
        (f"registry.local:5000/tritonserver@{DIGEST}", "latest"),
        ("registry.local:5000/tritonserver", "latest"),
    ],
)
def test_version_label_is_the_tag_of_any_image_reference(image, version):
    from triton_components.serving.triton_pod import image_version

    assert image_version(image) == version


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"image_digest": "sha256:ABC"},
            "image_digest is 'sha256:ABC'; give 'sha256:' followed by 64 lowercase hex digits, as "
            "`docker buildx imagetools inspect <image>` prints it",
        ),
        (
            {"image": f"nvcr.io/nvidia/tritonserver:26.10-py3@{DIGEST}", "image_digest": DIGEST},
            "already carries a digest; give image_digest or a digest in image, not both",
        ),
        ({"model_control_mode": "poll"}, "model_control_mode is 'poll'; use one of none, explicit"),
        ({"restricted_apis": ["health"]}, "restricted_apis has health"),
        ({"model_groups": [{"name": "a"}, {"name": "a"}]}, "duplicate names: a"),
        ({"model_groups": [{"name": "Bad_Name"}]}, "must be a DNS label"),
        ({"model_groups": [{"name": "a", "max_surge": 0, "max_unavailable": 0}]}, "both 0"),
        ({"model_groups": [{"name": "a", "memory": "1Gi", "shm_size": "2Gi"}]}, "must be below memory"),
        ({"model_groups": [{"name": "a", "models": ["m"]}]}, "use 'explicit'"),
    ],
)
def test_invalid_inputs_fail_before_any_child_is_declared(run, overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        run(_server(**overrides))
