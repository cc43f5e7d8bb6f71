"""Triton's own validation for ``model check``: a private ``tritonserver`` that loads each model once.

The server is the CPU build in the ``nvidia-pytriton`` wheel (the ``delivery`` extra, Linux x86_64),
started with the flags the serving component renders for every stack (explicit model control,
``--disable-auto-complete-config``, ``--exit-on-error``, ...), bound to 127.0.0.1 on free ports,
and stopped when the check ends. It never sees the user's repository itself: a private copy
links every file, except that a Python-backend model's code is replaced by a stand-in (the check
is about the configuration; running the model's code would need its dependencies here).

What Triton reports falls in three kinds:

- a configuration error (the poll of the model folder, or the load, fails): the model is refused;
- no backend library here for ``onnxruntime``, ``tensorrt``, ... : Triton validated the
  configuration before it looked for the backend, so that part is verified and the rest is not;
- ``KIND_GPU`` instances on a machine without a GPU: the model is loaded again with CPU instances,
  so everything but the devices is verified.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
#: The Triton release in the nvidia-pytriton wheel the ``delivery`` extra pins.
TRITON_VERSION = "2.51.0"
START_SECONDS = 60
#: A stand-in model loads in about a second on a busy machine. A load still running after this never
#: finishes (Triton 2.51 hangs, e.g. on a warmup batch above max_batch_size): the model is refused.
LOAD_SECONDS = 30
INSTALL_HINT = "pip install 'triton-platform[delivery]' (Linux x86_64)"

#: The stand-in for a Python-backend model's code: answers zeros of each configured output's shape,
#: so model warmup (which Triton runs at load) exercises the configuration, not the user's code.
STANDIN_MODEL = """\
import json

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.batched = int(config.get("max_batch_size", 0)) > 0
        self.outputs = [(o["name"], o.get("data_type", "TYPE_FP32")[5:], [max(int(d), 1) for d in o.get("dims", [])])
                        for o in config.get("output", [])]
        self.decoupled = config.get("model_transaction_policy", {}).get("decoupled", False)

    def _response(self, request):
        batch = []
        if self.batched:
            inputs = request.inputs()
            batch = [inputs[0].shape()[0] if inputs and inputs[0].shape() else 1]
        tensors = []
        for name, dtype, dims in self.outputs:
            shape = batch + dims
            if dtype == "STRING":
                data = np.full(shape, b"", dtype=np.object_)
            else:
                data = np.zeros(shape, dtype=pb_utils.triton_string_to_numpy("TYPE_" + dtype))
            tensors.append(pb_utils.Tensor(name, data))
        return pb_utils.InferenceResponse(output_tensors=tensors)

    def execute(self, requests):
        if not self.decoupled:
            return [self._response(r) for r in requests]
        for request in requests:
            sender = request.get_response_sender()
            sender.send(self._response(request), flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
        return None
"""


class TritonUnavailable(RuntimeError):
    """Triton's validation cannot run here; the message says why and what installs it."""


@dataclass
class Verdict:
    """What Triton said about one model folder."""

    model: str
    #: Triton's own messages, one line each, for the file they concern (empty: accepted).
    errors: list[tuple[str, str]] = field(default_factory=list)
    #: What Triton could not verify here, and why.
    not_verified: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Install:
    binary: Path
    lib_dir: Path
    python_backend: Path
    stub: Path


def find_install() -> Install:
    """The wheel's tritonserver, or TritonUnavailable saying why it cannot run here."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        raise TritonUnavailable(
            f"the tritonserver of nvidia-pytriton runs on Linux x86_64 only, not {sys.platform} {platform.machine()}"
        )
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise TritonUnavailable(f"tritonserver is not installed; {INSTALL_HINT}")
    package = Path(next(iter(spec.submodule_search_locations)))
    server = package / "tritonserver"
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    install = Install(
        server / "bin" / "tritonserver",
        package.parent / "nvidia_pytriton.libs",
        server / "backends" / "python",
        server / "python_backend_stubs" / python / "triton_python_backend_stub",
    )
    if not install.stub.is_file():
        raise TritonUnavailable(f"nvidia-pytriton has no Python backend stub for Python {python}")
    for path in (install.binary, install.lib_dir, install.python_backend / "libtriton_python.so"):
        if not path.exists():
            raise TritonUnavailable(f"{path} is missing from nvidia-pytriton; reinstall it: {INSTALL_HINT}")
    if importlib.util.find_spec("numpy") is None:
        raise TritonUnavailable(f"numpy is not installed (Triton's Python backend needs it); {INSTALL_HINT}")
    return install


def rendered_flags(admin_key: str) -> list[str]:
    """The flags every stack's Triton Deployment renders, from the serving component itself.

    Ports, the repository and ``--load-model`` are the check's own; the admin key is this server's.
    """
    import asyncio

    import pulumi

    from triton_components.serving.triton_pod import ADMIN_KEY_ENV, DEFAULT_RESTRICTED_APIS, triton_args

    async def resolved() -> list[Any]:
        # The repository flag is a Pulumi Output; resolving it in a loop leaves no pending coroutine.
        args = triton_args(
            model_repository="",
            model_control_mode="explicit",
            models=[],
            restricted_apis=DEFAULT_RESTRICTED_APIS,
            exit_timeout_seconds=5,
        )
        return [await a.future() if isinstance(a, pulumi.Output) else a for a in args]

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        args = asyncio.run(resolved())
    else:  # called from async code (a notebook): a loop of its own, in a thread
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            args = pool.submit(asyncio.run, resolved()).result()
    own = ("--model-repository", "--load-model", "--http-port", "--grpc-port", "--metrics-port")
    return [
        a.replace(f"$({ADMIN_KEY_ENV})", admin_key)
        for a in args
        if isinstance(a, str) and a.partition("=")[0] not in own
    ]


def _die_with_parent() -> None:
    """In the child before exec: a check killed outright (SIGKILL, a CI timeout) takes its private
    server with it instead of leaving an orphaned tritonserver holding ports and memory."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def free_loopback_ports(count: int) -> list[int]:
    """``count`` distinct free ports on 127.0.0.1: every socket stays bound until all are taken, so
    the kernel cannot hand the same port out twice (Triton refuses HTTP and gRPC on one port)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind((LOOPBACK, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


_POLL_FAILED = re.compile(r"Poll failed for model directory '([^']+)': (.*?)\"?$")
_NO_BACKEND = re.compile(r"unable to find backend library for backend '([^']+)'")
_NO_GPU = "no GPUs are available"


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().rstrip(";").strip()


class TritonValidator:
    """One private tritonserver over a private copy of a repository; a context manager."""

    def __init__(self, install: Install | None = None) -> None:
        self.install = install or find_install()
        self.workdir = Path(tempfile.mkdtemp(prefix="triton-platform-check-"))
        self.repository = self.workdir / "repository"
        self.repository.mkdir()
        self.admin_key = secrets.token_urlsafe(24)
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.workdir / "tritonserver.log"
        self.start_seconds = 0.0

    # -- lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> TritonValidator:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        backends = self.workdir / "backends" / "python"
        backends.mkdir(parents=True)
        for item in self.install.python_backend.iterdir():
            if item.is_file():
                (backends / item.name).symlink_to(item)
        shutil.copy2(self.install.stub, backends / "triton_python_backend_stub")
        env = {
            # The stub runs Python from this environment (numpy for the stand-in models).
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "LD_LIBRARY_PATH": str(self.install.lib_dir),
            "LANG": "C.UTF-8",
            "HOME": str(self.workdir),
        }
        started = time.monotonic()
        for _ in range(3):  # a free port can be taken between the probe and the bind
            http, grpc, metrics = free_loopback_ports(3)
            argv = [
                str(self.install.binary),
                f"--model-repository={self.repository}",
                *rendered_flags(self.admin_key),
                f"--http-port={http}",
                f"--grpc-port={grpc}",
                f"--metrics-port={metrics}",
                f"--http-address={LOOPBACK}",
                f"--grpc-address={LOOPBACK}",
                f"--metrics-address={LOOPBACK}",
                f"--backend-directory={self.workdir / 'backends'}",
            ]
            self.url = f"http://{LOOPBACK}:{http}"
            with self.log.open("wb") as out:
                self.process = subprocess.Popen(
                    argv,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=self.workdir,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )
            deadline = time.monotonic() + START_SECONDS
            while self.process.poll() is None and time.monotonic() < deadline:
                if self._request("GET", "/v2/health/ready", timeout=2)[0] == 200:
                    self.start_seconds = time.monotonic() - started
                    return
                time.sleep(0.05)
            if self.process.poll() is None:
                self.stop()
                raise TritonUnavailable(f"tritonserver did not become ready within {START_SECONDS} s")
            if "address already in use" not in self._log_text().lower():
                break
        raise TritonUnavailable(f"tritonserver exited at start: {_one_line(self._log_text()[-400:])}")

    def stop(self) -> None:
        self._kill(grace_seconds=10)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _kill(self, grace_seconds: float) -> None:
        if self.process is not None and self.process.poll() is None and grace_seconds:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace_seconds)
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)  # the Python stubs too
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)

    # -- validation --------------------------------------------------------------------------------

    def add_model(self, folder: Path, python_model_file: str | None) -> None:
        """Link ``folder`` into the private repository; ``python_model_file`` is replaced by the stand-in."""
        target = self.repository / folder.name
        if target.exists():
            shutil.rmtree(target)
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if path.is_dir() and not path.is_symlink():
                (target / relative).mkdir(parents=True, exist_ok=True)
            else:
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                (target / relative).symlink_to(path.resolve() if path.exists() else path)
        target.mkdir(exist_ok=True)
        if python_model_file:
            for version in target.iterdir():
                if version.is_dir() and version.name.isdigit():
                    stand_in = version / python_model_file
                    if stand_in.is_symlink() or stand_in.is_file():
                        stand_in.unlink()
                        stand_in.write_text(STANDIN_MODEL)

    def validate(self, model: str, config_file: str, shown: dict[str, str]) -> Verdict:
        """Load ``model`` (added before) and unload it; ``shown`` maps folder names to the files to name."""
        verdict = Verdict(model)
        status, body = self._load(model)
        if status == 0 and not self._alive():
            # A crash can come from an earlier model's unload: try once more on a fresh server.
            crash = self._crash_line()
            self._restart()
            status, body = self._load(model)
            if status == 0 and not self._alive():
                verdict.errors.append((config_file, f"tritonserver crashed loading it ({crash})"))
                self._restart()
                return verdict
        if status != 200 and _NO_GPU in body:
            self._cpu_instances(model)
            verdict.not_verified.append(
                f"{config_file}: KIND_GPU instance groups (this machine has no GPU); "
                "Triton checked the rest with CPU instances"
            )
            status, body = self._load(model)
        if status == 200:
            self._unload(model)
            return verdict
        missing = _NO_BACKEND.search(body)
        if missing:
            verdict.not_verified.append(
                f"{config_file}: what Triton checks once the backend loads (instance groups on devices, model warmup, "
                f"the backend's own checks): this Triton has no {missing.group(1)!r} backend library; its "
                "configuration checks ran"
            )
            return verdict
        polled = self._poll_failures()
        if polled:
            verdict.errors += [(shown.get(folder, f"{folder}/config.pbtxt"), message) for folder, message in polled]
        elif status == 0:
            verdict.errors.append(
                (
                    config_file,
                    f"Triton did not finish loading it within {LOAD_SECONDS} s; a pod would never become ready with it",
                )
            )
            self._restart()  # the hung load would hold the next ones
        else:
            verdict.errors.append((config_file, self._message(body)))
        return verdict

    def _cpu_instances(self, model: str) -> None:
        from google.protobuf import text_format

        from ._extras import model_config_pb2

        path = self.repository / model / "config.pbtxt"
        config = model_config_pb2().ModelConfig()
        text_format.Parse(path.read_text(), config)
        for group in config.instance_group:
            if group.kind == 1:  # KIND_GPU
                group.kind = 2  # KIND_CPU
                del group.gpus[:]
        path.unlink()
        path.write_text(text_format.MessageToString(config))

    def _load(self, model: str) -> tuple[int, str]:
        self._log_offset = len(self._log_text())
        status, body = self._request(
            "POST", f"/v2/repository/models/{urllib.parse.quote(model, safe='')}/load", b"{}", timeout=LOAD_SECONDS
        )
        return status, body

    def _unload(self, model: str) -> None:
        """Unload ``model`` and what it loaded, and wait until Triton has: the next load starts clean."""
        body = json.dumps({"parameters": {"unload_dependents": True}}).encode()
        self._request(
            "POST", f"/v2/repository/models/{urllib.parse.quote(model, safe='')}/unload", body, timeout=LOAD_SECONDS
        )
        deadline = time.monotonic() + LOAD_SECONDS
        while time.monotonic() < deadline and self._alive():
            status, index = self._request("POST", "/v2/repository/index", b"{}", timeout=10)
            with contextlib.suppress(ValueError):
                # Only the model itself: members a failed ensemble load started stay loaded, harmlessly.
                if status == 200 and not any(
                    m.get("name") == model and m.get("state") in ("READY", "UNLOADING", "LOADING")
                    for m in json.loads(index)
                ):
                    return
            time.sleep(0.05)

    def _alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _crash_line(self) -> str:
        lines = [line for line in self._log_text().splitlines() if line.startswith(("E", "F", "Signal"))]
        return _one_line(lines[-1]) if lines else f"exit code {self.process.poll() if self.process else None}"

    def _restart(self) -> None:
        self._kill(grace_seconds=0)
        with contextlib.suppress(OSError):
            self.log.rename(self.workdir / f"tritonserver-{time.monotonic_ns()}.log")
        backends = self.workdir / "backends"
        shutil.rmtree(backends, ignore_errors=True)
        self.start()

    def _poll_failures(self) -> list[tuple[str, str]]:
        found = []
        for line in self._log_text()[self._log_offset :].splitlines():
            match = _POLL_FAILED.search(line)
            if match:
                folder, message = match.groups()
                found.append((folder, _one_line(re.sub(rf" for {re.escape(folder)}$", "", message))))
        return found

    @staticmethod
    def _message(body: str) -> str:
        with contextlib.suppress(ValueError):
            body = json.loads(body).get("error", body)
        body = re.sub(r"^load failed for model '[^']+': version \d+ is at UNAVAILABLE state: ", "", body)
        return _one_line(body)

    def _log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def _request(self, method: str, path: str, body: bytes | None = None, timeout: float = 5) -> tuple[int, str]:
        request = urllib.request.Request(
            self.url + path, data=body, method=method, headers={"admin-key": self.admin_key}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return 0, ""
