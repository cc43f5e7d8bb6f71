"""From a model folder to a live endpoint, on the real Triton and the S3/GCS emulators.

Each test follows docs/models.md, "Serving your model", with the CLI: check, publish, the rendered Triton
loads the model from the emulated bucket and answers, a second version is published and goes live
as the stack's model-control mode says, under a small bounded load that must see no failed request.
The traps from Triton's tracker are reproduced on the way: a repository-API load through a Service
reaches one pod (#3001, #6007); a server started later serves the new version (#3471).
"""

from __future__ import annotations

import http.server
import itertools
import json
import shutil
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from support import ROOT
from support.delivery import corpus
from support.delivery.corpus import ADMIN_KEY
from support.lab.processes import http_status, wait_until
from triton_platform.cli import main
from triton_platform.delivery.live import ready_versions

pytestmark = pytest.mark.lab

INPUT = [1.0, 2.0, 3.0, 4.0]


def infer(server_url: str, model: str, timeout: float = 30) -> int:
    """One inference; returns the version that answered (``addv`` adds its version number)."""
    body = json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": INPUT}]}).encode()
    request = urllib.request.Request(
        f"{server_url}/v2/models/{model}/infer", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        output = json.loads(response.read())["outputs"][0]["data"]
    version = round(output[0] - INPUT[0])
    assert output == [x + version for x in INPUT], output
    return version


class Load:
    """Closed-loop HTTP clients, round robin over ``servers``; bounded in requests and in time."""

    def __init__(
        self, servers: list[str], model: str, clients: int = 4, deadline_seconds: float = 90, max_requests: int = 20_000
    ) -> None:
        self.servers, self.model = servers, model
        self.deadline = time.monotonic() + deadline_seconds
        self.remaining = itertools.count(max_requests, -1)
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.answers: list[tuple[float, int]] = []
        self.errors: list[str] = []
        self.threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(clients)]
        for thread in self.threads:
            thread.start()

    def _client(self, offset: int) -> None:
        for i in itertools.count(offset):
            if self.stopped.is_set() or time.monotonic() > self.deadline or next(self.remaining) <= 0:
                return
            # Stamped when sent: a request sent before a swap may be answered by the old version after
            # it, and that is correct; only requests sent after the swap must reach the new version.
            sent = time.monotonic()
            try:
                version = infer(self.servers[i % len(self.servers)], self.model)
                with self.lock:
                    self.answers.append((sent, version))
            except Exception as error:  # noqa: BLE001 - every failure is recorded; the test asserts none
                with self.lock:
                    self.errors.append(repr(error))

    def stop(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(40)

    def versions_since(self, moment: float) -> set[int]:
        """Versions that answered requests sent after ``moment``."""
        return {version for sent, version in self.answers if sent > moment}


class SlowSwapServer:
    """An inference endpoint on 127.0.0.1 whose answer carries the version current when the request
    arrived; the first request is held until ``release`` is set (an answer crossing a swap)."""

    def __init__(self) -> None:
        self.version = 1
        self.received = 0
        self.release = threading.Event()
        owner = self

        class Infer(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's naming
                self.rfile.read(int(self.headers["Content-Length"]))
                version, owner.received = owner.version, owner.received + 1
                owner.release.wait(30)
                body = json.dumps({"outputs": [{"data": [x + version for x in INPUT]}]}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Infer)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def test_an_answer_crossing_the_swap_counts_for_the_moment_its_request_was_sent():
    """A request sent to version 1 and answered after the swap is not a request 'after the swap'."""
    server = SlowSwapServer()
    load = Load([server.url], "m", clients=1, deadline_seconds=60, max_requests=500)
    try:
        wait_until(lambda: server.received >= 1, 30, what="the first request to arrive")
        server.version = 2
        swapped = time.monotonic()
        server.release.set()  # version 1's answer arrives after the swap
        wait_until(lambda: any(v == 2 for _, v in load.answers), 30, what="an answer from version 2")
    finally:
        load.stop()
        server.close()
    assert load.errors == []
    assert {v for _, v in load.answers} == {1, 2}
    assert load.versions_since(swapped) == {2}


class RoundRobinService:
    """What a Kubernetes Service does to a repository-API call: it forwards it to one of the pods."""

    def __init__(self, backends: list[str]) -> None:
        choose = itertools.cycle(backends)

        class Forward(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = urllib.request.Request(
                    next(choose) + self.path,
                    data=body,
                    method="POST",
                    headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                )
                with urllib.request.urlopen(request, timeout=60) as response:
                    payload = response.read()
                    self.send_response(response.status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Forward)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_explicit_mode_on_gcs_check_publish_serve_and_swap_versions_without_a_failed_request(
    emulators, rendered, start_triton, tmp_path: Path, monkeypatch, capsys
):
    """Staging stack (GCS, explicit mode), group ``text`` serving ``bert-base``."""
    monkeypatch.chdir(ROOT)
    bucket = f"triton-models-{uuid.uuid4().hex[:8]}"
    emulators.gcs.client().create_bucket(bucket)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulators.gcs.url)
    repository = f"gs://{bucket}/model_repository"
    triton_env = emulators.gcs.env  # google-cloud-cpp's emulator variable
    rt = rendered("staging", "text")

    v1 = corpus.write_model(tmp_path / "v1", "bert-base")
    assert run_cli(capsys, "model", "check", str(v1), "--stack", "staging")[0] == 0
    code, out, err = run_cli(capsys, "model", "publish", str(v1), "--stack", "staging", "--repository", repository)
    assert code == 0, err
    assert "HTTP: POST https://triton.staging.example.com/triton/v2/models/bert-base/infer" in out
    assert "gRPC: triton.staging.example.com:443 (TLS) with header 'triton-model: bert-base'" in out
    assert "triton-platform model load bert-base --stack staging --group text" in out

    pods = [start_triton(rt, repository, triton_env)[0] for _ in range(2)]
    urls = [pod.http for pod in pods]
    assert [infer(url, "bert-base") for url in urls] == [1, 1]

    # Version 2 loads slowly, so the swap takes real time while the load runs.
    v2 = corpus.write_model(tmp_path / "v2", "bert-base", load_seconds=3)
    code, out, err = run_cli(
        capsys, "model", "publish", str(v2), "--stack", "staging", "--repository", repository, "--version", "next"
    )
    assert code == 0, err
    assert "published bert-base version(s) [2]" in out
    assert [ready_versions(url, "bert-base") for url in urls] == [["1"], ["1"]], (
        "explicit mode: nothing changes by itself"
    )

    load = Load(urls, "bert-base")
    try:
        # The trap: through a Service, the repository API reaches one pod only (#3001, #6007).
        service = RoundRobinService(urls)
        try:
            status, _ = http_status(
                f"{service.url}/v2/repository/models/bert-base/load",
                method="POST",
                headers={"admin-key": ADMIN_KEY},
                body=b"{}",
                timeout=60,
            )
        finally:
            service.close()
        assert status == 200
        assert sorted(ready_versions(url, "bert-base") for url in urls) == [["1"], ["2"]]

        # The platform's way: every pod by address, one at a time.
        monkeypatch.setenv("TRITON_ADMIN_KEY", ADMIN_KEY)
        code, out, err = run_cli(
            capsys,
            "model",
            "load",
            "bert-base",
            "--stack",
            "staging",
            "--version",
            "2",
            *itertools.chain.from_iterable(("--url", url) for url in urls),
        )
        assert code == 0, err
        swapped = time.monotonic()
        time.sleep(2)
    finally:
        load.stop()
    with capsys.disabled():  # shown with pytest -s: the size of the proof
        print(
            f"\nswap under load: {len(load.answers)} answers, {len(load.errors)} failed, "
            f"{sum(1 for at, _ in load.answers if at > swapped)} after the swap"
        )
    assert load.errors == [], load.errors[:5]
    assert len(load.answers) > 50, "the load must have run through the swap"
    assert {v for _, v in load.answers} == {1, 2}
    assert load.versions_since(swapped) == {2}
    assert [ready_versions(url, "bert-base") for url in urls] == [["2"], ["2"]]

    # A pod created later reads the bucket at start: it has the new version already (#3471).
    late, _ = start_triton(rt, repository, triton_env)
    assert infer(late.http, "bert-base") == 2

    # A version that fails to load is refused by the first pod; the pods keep serving version 2.
    v3 = corpus.write_model(tmp_path / "v3", "bert-base", model_py=corpus.FAILING_MODEL_PY)
    assert (
        run_cli(
            capsys, "model", "publish", str(v3), "--stack", "staging", "--repository", repository, "--version", "next"
        )[0]
        == 0
    )
    load = Load(urls, "bert-base", deadline_seconds=60)
    try:
        code, out, err = run_cli(
            capsys,
            "model",
            "load",
            "bert-base",
            "--stack",
            "staging",
            "--version",
            "3",
            *itertools.chain.from_iterable(("--url", url) for url in urls),
        )
        time.sleep(1)
    finally:
        load.stop()
    assert code == 1
    assert f"{urls[0]}: loading bert-base failed with HTTP 400" in err and "0 of 2 server(s) had loaded it" in err
    assert load.errors == [], load.errors[:5]
    assert {v for _, v in load.answers} == {2}


def test_none_mode_on_s3_new_pods_serve_the_new_version(
    emulators, rendered, start_triton, tmp_path: Path, monkeypatch, capsys
):
    """dev-aws stack (S3, model-control mode none): the whole repository loads at start, ensembles too."""
    monkeypatch.chdir(ROOT)
    s3 = emulators.s3
    bucket = f"triton-models-{uuid.uuid4().hex[:8]}"
    s3.client().create_bucket(Bucket=bucket)
    for var, value in (
        ("AWS_ACCESS_KEY_ID", "lab"),
        ("AWS_SECRET_ACCESS_KEY", "lab"),
        ("AWS_DEFAULT_REGION", s3.region),
    ):
        monkeypatch.setenv(var, value)
    triton_env = {"AWS_ACCESS_KEY_ID": "lab", "AWS_SECRET_ACCESS_KEY": "lab", "AWS_DEFAULT_REGION": s3.region}
    rt = rendered("dev-aws", "default")

    source = tmp_path / "repository"
    corpus.write_model(source, "addv")
    (source / "twice" / "1").mkdir(parents=True)  # an ensemble: its version folder is empty
    (source / "twice" / "config.pbtxt").write_text(corpus.ensemble_config("twice", "addv"))
    code, out, err = run_cli(
        capsys,
        "model",
        "publish",
        str(source),
        "--stack",
        "dev-aws",
        "--repository",
        f"s3://{bucket}/model_repository",
        "--endpoint-url",
        s3.url,
    )
    assert code == 0, err
    assert "kubectl rollout restart deployment/triton-default -n triton" in out
    assert "HTTP: POST http://triton.dev-aws.example.com/triton/v2/models/addv/infer" in out

    repository = s3.repository_url(bucket, "model_repository")  # Triton's s3://http://host:port/... form
    running, _ = start_triton(rt, repository, triton_env)
    assert infer(running.http, "addv") == 1
    ensemble = json.dumps({"inputs": [{"name": "IN", "datatype": "FP32", "shape": [1, 4], "data": INPUT}]}).encode()
    assert http_status(f"{running.http}/v2/models/twice/infer", method="POST", body=ensemble)[0] == 200

    v2 = corpus.write_model(tmp_path / "v2", "addv")
    assert (
        run_cli(
            capsys,
            "model",
            "publish",
            str(v2),
            "--stack",
            "dev-aws",
            "--repository",
            f"s3://{bucket}/model_repository",
            "--endpoint-url",
            s3.url,
            "--version",
            "next",
        )[0]
        == 0
    )
    assert infer(running.http, "addv") == 1, "mode none: a running pod keeps what it loaded at start"
    restarted, _ = start_triton(rt, repository, triton_env)
    assert infer(restarted.http, "addv") == 2, "a pod that starts after the publish serves the new version"


def local_project(tmp_path: Path, canary_percent: int) -> Path:
    """A copy of the project's ``local`` stack with the canary carrying ``canary_percent``."""
    project = tmp_path / "project"
    project.mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    data = yaml.safe_load((ROOT / "Pulumi.local.yaml").read_text())
    vision = data["config"]["triton-platform:modelGroups"][0]
    vision["canary"]["trafficPercent"] = {"stable": 100 - canary_percent, "canary": canary_percent}
    (project / "Pulumi.local.yaml").write_text(yaml.safe_dump(data))
    return project


def test_a_canary_serves_the_new_version_then_promote_copies_it_to_stable(
    emulators, rendered, start_triton, tmp_path: Path, monkeypatch, capsys
):
    """local stack (S3 repository from config, explicit mode), group ``vision`` with a canary path."""
    s3 = emulators.s3
    data = yaml.safe_load((ROOT / "Pulumi.local.yaml").read_text())
    repository = data["config"]["triton-platform:triton"]["modelRepository"]
    bucket = repository.split("/")[2]
    s3.client().create_bucket(Bucket=bucket)
    for var, value in (
        ("AWS_ENDPOINT_URL", s3.url),
        ("AWS_ACCESS_KEY_ID", "lab"),
        ("AWS_SECRET_ACCESS_KEY", "lab"),
        ("AWS_DEFAULT_REGION", s3.region),
    ):
        monkeypatch.setenv(var, value)
    triton_env = {"AWS_ACCESS_KEY_ID": "lab", "AWS_SECRET_ACCESS_KEY": "lab", "AWS_DEFAULT_REGION": s3.region}
    monkeypatch.chdir(local_project(tmp_path, canary_percent=0))

    v1 = corpus.write_model(tmp_path / "v1", "resnet50")
    assert run_cli(capsys, "model", "publish", str(v1), "--stack", "local")[0] == 0
    v2 = corpus.write_model(tmp_path / "v2", "resnet50")
    code, out, err = run_cli(capsys, "model", "publish", str(v2), "--stack", "local", "--canary", "--version", "2")
    assert code == 0, err
    assert f"s3://{bucket}/model_repository_canary/resnet50/" in out
    assert "--group vision --canary" in out

    stable, _ = start_triton(rendered("local", "vision"), s3.repository_url(bucket, "model_repository"), triton_env)
    canary, _ = start_triton(
        rendered("local", "vision", "canary"), s3.repository_url(bucket, "model_repository_canary"), triton_env
    )
    assert (infer(stable.http, "resnet50"), infer(canary.http, "resnet50")) == (1, 2)

    code, _, err = run_cli(capsys, "model", "promote", "--stack", "local", "--group", "vision")
    assert code == 1 and "the canary carries 0 % of the traffic" in err

    monkeypatch.chdir(local_project(tmp_path / "at-100", canary_percent=100))
    code, out, err = run_cli(capsys, "model", "promote", "--stack", "local", "--group", "vision")
    assert code == 0, err
    assert "promoted resnet50 version(s) [2]" in out
    monkeypatch.setenv("TRITON_ADMIN_KEY", ADMIN_KEY)
    assert (
        run_cli(capsys, "model", "load", "resnet50", "--stack", "local", "--version", "2", "--url", stable.http)[0] == 0
    )
    assert infer(stable.http, "resnet50") == 2


def test_poll_mode_on_this_triton_why_the_platform_does_not_offer_it(rendered, start_triton, tmp_path: Path):
    """#2076 reported poll mode unloading the old version before the new one was ready. On 2.51 with a
    slow new version the old one keeps serving (measured here), so the reason the platform offers no
    poll mode is another: the first object of a version in the live path *is* the go-live, on every
    pod at its own poll, with no canary step and no way to publish first and switch later."""
    repository = tmp_path / "repository"
    corpus.write_model(repository, "bert-base")
    server, _ = start_triton(
        rendered("dev-aws", "default"),
        str(repository),
        extra_args=("--model-control-mode=poll", "--repository-poll-secs=1"),
    )
    load = Load([server.http], "bert-base", clients=2, deadline_seconds=30)
    try:
        time.sleep(1)
        corpus.write_model(repository, "bert-base", versions=(2,), load_seconds=3)  # seen by the next poll
        switched = harness_wait(lambda: ready_versions(server.http, "bert-base") == ["2"], 20)
        time.sleep(1)
    finally:
        load.stop()
    assert switched and load.errors == [], load.errors[:5]
    assert {v for _, v in load.answers} == {1, 2}


def harness_wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False
