"""The Triton container and pod template: flags, probes, volumes and security context.

Pure functions that return Kubernetes dictionaries, so ``TritonModelGroup`` stays about
resources and this module stays about what a hardened Triton pod looks like.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

# Re-exported: the Service and the in-cluster endpoints name the pod's ports through this module.
from ..common.ports import GRPC_PORT as GRPC_PORT
from ..common.ports import HTTP_PORT as HTTP_PORT
from ..common.ports import METRICS_PORT as METRICS_PORT

#: Triton's uid/gid in the NGC image (user ``triton-server``); NVIDIA's own charts run as 1000.
TRITON_UID = 1000

#: Restricted by default: the management APIs behind the CVE-2024-0087/0088/0100 and
#: CVE-2025-23319 chains. ``health``, ``metadata`` and ``inference`` stay open (probes and clients).
DEFAULT_RESTRICTED_APIS = (
    "model-repository",
    "model-config",
    "shared-memory",
    "statistics",
    "trace",
    "logging",
)
RESTRICTABLE_APIS = frozenset(DEFAULT_RESTRICTED_APIS) | {"metadata", "inference"}

ADMIN_KEY_ENV = "TRITON_ADMIN_KEY"
ADMIN_KEY_SECRET_KEY = "admin-key"
#: HTTP clients send ``admin-key: <key>``; gRPC clients send ``triton-grpc-protocol-admin-key``.
ADMIN_KEY_HEADER = "admin-key"

#: Seconds the kubelet waits past Triton's latest exit before it kills the pod: room for a sidecar that
#: stays a little longer than Triton (to pass on its last responses) to stop by itself.
EXIT_MARGIN_SECONDS = 5

MODEL_CACHE_DIR = "/var/lib/triton/model-cache"
#: A content digest as registries print it (``docker buildx imagetools inspect``, NGC's catalog).
#: Here, not in triton_server, so the config models can read it without importing resources.
IMAGE_DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"
CREDENTIALS_DIR = "/var/run/secrets/model-repository"
STARTUP_PROBE_PERIOD_SECONDS = 10


def shutdown_seconds(pre_stop_sleep_seconds: int, exit_timeout_seconds: int) -> int:
    """The longest a Triton pod serves after it is told to stop: the preStop sleep (routing drains away),
    then Triton's wait for in-flight requests. A sidecar on the request path must stay at least this long."""
    return pre_stop_sleep_seconds + exit_timeout_seconds


def termination_grace_seconds(pre_stop_sleep_seconds: int, exit_timeout_seconds: int) -> int:
    """``terminationGracePeriodSeconds``: Triton's shutdown and a margin, so the kubelet never cuts it short."""
    return shutdown_seconds(pre_stop_sleep_seconds, exit_timeout_seconds) + EXIT_MARGIN_SECONDS


def image_version(image: str) -> str:
    """The release an image reference names, for the ``app.kubernetes.io/version`` label: its tag, never
    its digest (64 hex digits exceed a label value's 63 characters). ``latest`` when it has no tag."""
    name = image.split("@", 1)[0]
    repository, _, tag = name.rpartition(":")
    return tag if repository and "/" not in tag else "latest"


def triton_args(
    *,
    model_repository: pulumi.Input[str],
    model_control_mode: str,
    models: Sequence[str],
    restricted_apis: Sequence[str],
    exit_timeout_seconds: int,
) -> list[pulumi.Input[str]]:
    """The ``tritonserver`` command line: explicit ports and mode, hardening flags, restricted APIs."""
    args: list[pulumi.Input[str]] = [
        pulumi.Output.concat("--model-repository=", model_repository),
        f"--model-control-mode={model_control_mode}",
    ]
    if model_control_mode == "explicit":
        args += [f"--load-model={model}" for model in models]
    args += [
        f"--http-port={HTTP_PORT}",
        f"--grpc-port={GRPC_PORT}",
        f"--metrics-port={METRICS_PORT}",
        "--allow-metrics=true",
        "--allow-gpu-metrics=true",
        # Fail fast on a broken model, and report ready only once every model is loaded:
        # the startup and readiness probes rely on both.
        "--exit-on-error=true",
        "--strict-readiness=true",
        # Model configs are reviewed files, never guessed by the server.
        "--disable-auto-complete-config",
        "--allow-sagemaker=false",
        "--allow-vertex-ai=false",
        f"--exit-timeout-secs={exit_timeout_seconds}",
    ]
    if restricted_apis:
        # The key is expanded by the kubelet from a Secret-backed env var: it never appears
        # in the Deployment spec, the Pulumi state or a rendered manifest.
        apis = ",".join(restricted_apis)
        args += [
            f"--http-restricted-api={apis}:{ADMIN_KEY_HEADER}=$({ADMIN_KEY_ENV})",
            f"--grpc-restricted-protocol={apis}:{ADMIN_KEY_HEADER}=$({ADMIN_KEY_ENV})",
        ]
    return args


def probes(model_load_timeout_seconds: int) -> dict[str, Any]:
    """Startup probe sized from the model-load budget; liveness and readiness on distinct paths."""
    failure_threshold = max(1, math.ceil(model_load_timeout_seconds / STARTUP_PROBE_PERIOD_SECONDS))
    return {
        # Holds liveness and readiness off until every model has loaded (or the budget is spent).
        "startupProbe": {
            "httpGet": {"path": "/v2/health/ready", "port": "http"},
            "periodSeconds": STARTUP_PROBE_PERIOD_SECONDS,
            "timeoutSeconds": 5,
            "failureThreshold": failure_threshold,
        },
        "readinessProbe": {
            "httpGet": {"path": "/v2/health/ready", "port": "http"},
            "periodSeconds": 5,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
        # /live answers while models (re)load; /ready would restart a healthy, busy server.
        "livenessProbe": {
            "httpGet": {"path": "/v2/health/live", "port": "http"},
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 6,
        },
    }


def container(
    *,
    image: str,
    args: list[pulumi.Input[str]],
    cpu: str,
    memory: str,
    gpus: int,
    model_load_timeout_seconds: int,
    pre_stop_sleep_seconds: int,
    admin_key_secret_name: pulumi.Input[str] | None,
    credentials_file: Mapping[str, Any] | None,
    extra_env: Mapping[str, pulumi.Input[str]],
) -> dict[str, Any]:
    env: list[dict[str, Any]] = [
        # Read-only root filesystem: the cloud SDKs and Triton write only under these mounts.
        {"name": "HOME", "value": "/tmp"},
        {"name": "TRITON_GCS_MOUNT_DIRECTORY", "value": MODEL_CACHE_DIR},
        {"name": "TRITON_AWS_MOUNT_DIRECTORY", "value": MODEL_CACHE_DIR},
    ]
    if admin_key_secret_name is not None:
        env.append(
            {
                "name": ADMIN_KEY_ENV,
                "valueFrom": {"secretKeyRef": {"name": admin_key_secret_name, "key": ADMIN_KEY_SECRET_KEY}},
            }
        )
    mounts: list[dict[str, Any]] = [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "model-cache", "mountPath": MODEL_CACHE_DIR},
        {"name": "dshm", "mountPath": "/dev/shm"},
    ]
    if credentials_file is not None:
        env.append({"name": credentials_file["env_var"], "value": f"{CREDENTIALS_DIR}/{credentials_file['file_name']}"})
        mounts.append({"name": "model-repository-credentials", "mountPath": CREDENTIALS_DIR, "readOnly": True})
    env += [{"name": key, "value": value} for key, value in sorted(extra_env.items())]

    limits: dict[str, Any] = {"cpu": cpu, "memory": memory}
    if gpus:
        limits["nvidia.com/gpu"] = str(gpus)
    return {
        "name": "tritonserver",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["tritonserver"],
        "args": args,
        "ports": [
            {"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"},
            {"name": "grpc", "containerPort": GRPC_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ],
        "env": env,
        # Guaranteed QoS: requests equal limits, so a busy node never evicts a loaded model first.
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": limits},
        **probes(model_load_timeout_seconds),
        # Let endpoints and the mesh stop routing here before Triton starts unloading models.
        "lifecycle": {"preStop": {"sleep": {"seconds": pre_stop_sleep_seconds}}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": mounts,
    }


def volumes(
    *, shm_size: str, model_cache_size: str, tmp_size: str, credentials_file: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = [
        {"name": "tmp", "emptyDir": {"sizeLimit": tmp_size}},
        {"name": "model-cache", "emptyDir": {"sizeLimit": model_cache_size}},
        # Containers get 64 MiB of /dev/shm by default; the Python backend needs 64 MiB per
        # model instance. Memory-backed, so it counts against the memory limit.
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": shm_size}},
    ]
    if credentials_file is not None:
        result.append(
            {
                "name": "model-repository-credentials",
                "secret": {
                    "secretName": credentials_file["secret_name"],
                    "defaultMode": 0o440,
                    "items": [{"key": credentials_file["file_name"], "path": credentials_file["file_name"]}],
                },
            }
        )
    return result


def pod_security_context() -> dict[str, Any]:
    """Pod Security Standards ``restricted``."""
    return {
        "runAsNonRoot": True,
        "runAsUser": TRITON_UID,
        "runAsGroup": TRITON_UID,
        "fsGroup": TRITON_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def spread_constraints(selector: Mapping[str, str]) -> list[dict[str, Any]]:
    """Prefer replicas on different zones and nodes; never leave a pod Pending because of it."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(selector)},
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]
