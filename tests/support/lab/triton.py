"""The real Triton, started from a rendered Deployment with only the lab's substitutions.

The substitutions are only what cannot exist here:

- the ``tritonserver`` binary is the CPU build in the ``nvidia-pytriton`` wheel (2.51 / 24.10);
- the bucket becomes an emulated bucket of the same scheme and name (``emulators``) holding
  stand-in Python-backend models named as the group's models;
- ports become free ports on 127.0.0.1 (``--*-address=127.0.0.1`` is added);
- each volume's ``mountPath`` becomes a directory of the lab; Secret volumes are filled from the
  values the lab supplies (the admin key, a credentials file), with the rendered items and mode;
- ``$(VAR)`` references are expanded as the kubelet does.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from support.lab.emulators import Storage
from support.lab.processes import LOOPBACK, MissingPrerequisite, Process, http_status, wait_until
from support.lab.renders import RenderedTriton, expand_k8s_vars
from support.ports import free_ports

# --------------------------------------------------------------------------------------------------
# The Triton install


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
