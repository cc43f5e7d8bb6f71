"""Make a published version live on running pods (model-control mode ``explicit``).

Triton's repository API loads a model on the one server that receives the request: sent through
a Service or a port-forward to a Service, it reaches a single pod (triton-inference-server/server
#3001, #6007). So every pod of the group is addressed by name, one at a time, each through its own
port-forward, with the admin key the restricted API requires. A load of a model that is already
loaded makes Triton load the new version beside the old one and unload the old one once the new
is ready; requests keep being served throughout (measured in ``tests/delivery``). A pod created
later reads the bucket at start and so already has the version (#3471).
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from .stack import INSTANCE

#: ``triton_pod.ADMIN_KEY_HEADER``; the Secret is ``triton-admin-key`` with key ``admin-key``.
ADMIN_KEY_HEADER = "admin-key"
ADMIN_KEY_SECRET = "triton-admin-key"


class LoadFailed(RuntimeError):
    """A server refused or failed the load; servers after it were not touched."""


@dataclass
class LoadOutcome:
    server: str
    seconds: float
    versions: list[str]


def _request(
    url: str, method: str = "GET", headers: dict[str, str] | None = None, body: bytes | None = None, timeout: float = 30
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, OSError) as error:
        return 0, str(error).encode()


def ready_versions(server: str, model: str) -> list[str]:
    """Versions of ``model`` that are READY on one server (from the model metadata)."""
    status, body = _request(f"{server.rstrip('/')}/v2/models/{model}", timeout=10)
    return sorted(json.loads(body).get("versions", []), key=int) if status == 200 else []


def load_on_servers(
    model: str,
    servers: Sequence[str],
    admin_key: str,
    *,
    version: int | None = None,
    timeout_seconds: float = 600,
    labels: Sequence[str] | None = None,
) -> list[LoadOutcome]:
    """Load (or reload) ``model`` on each Triton in ``servers``, one after the other.

    ``version``: wait until this version is ready on each server before moving on (default: the
    load call's own completion). Stops at the first failure, leaving later servers untouched.
    """
    outcomes = []
    for i, server in enumerate(servers):
        name = labels[i] if labels else server
        started = time.monotonic()
        status, body = _request(
            f"{server.rstrip('/')}/v2/repository/models/{model}/load",
            "POST",
            {ADMIN_KEY_HEADER: admin_key, "Content-Type": "application/json"},
            b"{}",
            timeout=timeout_seconds,
        )
        if status != 200:
            detail = body.decode(errors="replace")[:500]
            raise LoadFailed(
                f"{name}: loading {model} failed with HTTP {status}: {detail}; "
                f"{i} of {len(servers)} server(s) had loaded it, the rest were not touched"
            )
        if version is not None:
            deadline = started + timeout_seconds
            while str(version) not in ready_versions(server, model):
                if time.monotonic() > deadline:
                    raise LoadFailed(f"{name}: version {version} of {model} not ready after {timeout_seconds:g} s")
                time.sleep(0.5)
        outcomes.append(LoadOutcome(name, time.monotonic() - started, ready_versions(server, model)))
    return outcomes


# ----------------------------------------------------------------------------------------------
# Reaching every pod of a group through kubectl


def pod_selector(group: str, track: str) -> str:
    return (
        f"app.kubernetes.io/name=triton-inference-server,app.kubernetes.io/instance={INSTANCE},"
        f"triton-platform.io/model-group={group},version={track}"
    )


def group_pods(namespace: str, group: str, track: str, kubectl: str = "kubectl") -> list[str]:
    """Names of the group's running pods (ready or still loading: a loading pod reads the bucket itself)."""
    done = subprocess.run(
        [kubectl, "get", "pods", "-n", namespace, "-l", pod_selector(group, track), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise LoadFailed(f"kubectl get pods failed: {done.stderr.strip()[:300]}")
    pods = json.loads(done.stdout).get("items", [])
    return sorted(
        p["metadata"]["name"]
        for p in pods
        if p.get("status", {}).get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    )


def admin_key_from_cluster(namespace: str, kubectl: str = "kubectl") -> str:
    done = subprocess.run(
        [kubectl, "get", "secret", ADMIN_KEY_SECRET, "-n", namespace, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise LoadFailed(f"reading Secret {namespace}/{ADMIN_KEY_SECRET} failed: {done.stderr.strip()[:300]}")
    return base64.b64decode(json.loads(done.stdout)["data"][ADMIN_KEY_HEADER]).decode()


@contextmanager
def port_forward(
    namespace: str, pod: str, port: int = 8000, kubectl: str = "kubectl", timeout_seconds: float = 30
) -> Iterator[str]:
    """``kubectl port-forward`` to one pod on a free local port; yields ``http://127.0.0.1:<port>``."""
    process = subprocess.Popen(
        [kubectl, "port-forward", "-n", namespace, f"pod/{pod}", f":{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + timeout_seconds
        assert process.stdout is not None
        while True:
            line = process.stdout.readline()
            found = re.search(r"Forwarding from 127\.0\.0\.1:(\d+)", line)
            if found:
                yield f"http://127.0.0.1:{found.group(1)}"
                return
            if not line or time.monotonic() > deadline:
                raise LoadFailed(f"kubectl port-forward to {pod} did not start: {line.strip()}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def load_on_group(
    model: str,
    namespace: str,
    group: str,
    track: str,
    *,
    version: int | None = None,
    admin_key: str | None = None,
    kubectl: str = "kubectl",
    timeout_seconds: float = 600,
) -> list[LoadOutcome]:
    """Load ``model`` on every running pod of a group's track, one pod at a time."""
    pods = group_pods(namespace, group, track, kubectl)
    if not pods:
        raise LoadFailed(f"no running pod of group {group} ({track}) in namespace {namespace}")
    key = admin_key or admin_key_from_cluster(namespace, kubectl)
    outcomes = []
    for pod in pods:
        with port_forward(namespace, pod, kubectl=kubectl) as url:
            outcomes += load_on_servers(
                model, [url], key, version=version, timeout_seconds=timeout_seconds, labels=[pod]
            )
    return outcomes
