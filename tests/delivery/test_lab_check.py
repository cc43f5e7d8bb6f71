"""``model check`` proven on the real Triton (the lab's CPU tritonserver, the staging stack's flags).

Every broken model of the corpus that ``check`` rejects is also rejected by Triton (its load fails,
or never finishes), except the ones marked as this platform's own rules; every model ``check``
accepts loads and answers. One server in explicit mode tries each model through the repository
API, so the whole corpus takes one start-up.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from support.delivery import corpus, triton_corpus
from support.lab.processes import http_status, wait_until
from triton_platform.delivery import GroupSpec, check_model_repository, check_repository
from triton_platform.delivery.check import FAST_CHECKS, OURS, OURS_NOTE

TRITON_CHECK = (
    "Triton 2.51.0's own validation: each model loaded by a private tritonserver with the flags the "
    "stacks render (the model's code replaced by a stand-in)"
)

pytestmark = pytest.mark.lab

#: A load that has not answered by then is a rejection: a Python model without its file never loads.
LOAD_TIMEOUT_SECONDS = 10
LAB_GROUP = GroupSpec("lab", gpus_per_replica=0)  # the lab has no GPU
#: Every corpus model has its files, so each load answers; an ensemble starts its members' stubs too.
CORPUS_LOAD_SECONDS = 30


def load(server, admin_key: str, model: str, timeout: float = LOAD_TIMEOUT_SECONDS) -> tuple[int, str]:
    status, body = http_status(
        f"{server.http}/v2/repository/models/{model}/load",
        method="POST",
        headers={"admin-key": admin_key},
        body=b"{}",
        timeout=timeout,
    )
    return status, body.decode(errors="replace")


def unload(server, admin_key: str, model: str) -> None:
    """Unload ``model`` and its members, and wait until Triton has, so loads never overlap unloads."""
    http_status(
        f"{server.http}/v2/repository/models/{model}/unload",
        method="POST",
        headers={"admin-key": admin_key},
        timeout=CORPUS_LOAD_SECONDS,
        body=json.dumps({"parameters": {"unload_dependents": True}}).encode(),
    )

    def settled() -> bool:
        status, body = http_status(
            f"{server.http}/v2/repository/index",
            method="POST",
            headers={"admin-key": admin_key},
            body=b"{}",
            timeout=10,
        )
        return status == 200 and not any(
            m.get("state") in ("READY", "UNLOADING", "LOADING") and m["name"] == model for m in json.loads(body)
        )

    wait_until(
        lambda: settled() or not server.process.alive(), CORPUS_LOAD_SECONDS, interval=0.05, what=f"{model} unloaded"
    )


def good_models(root: Path) -> list[str]:
    """Models check accepts, in the shapes users write them."""
    corpus.write_model(root, "two_versions", versions=(1, 2))
    corpus.write_model(
        root,
        "all_versions",
        versions=(1, 2),
        config_text=corpus.config("all_versions", "version_policy: { all: { } }\n"),
    )
    corpus.write_model(root, "no_name_field", config_text=corpus.config("x").replace('name: "x"\n', ""))
    corpus.write_model(
        root, "backend_from_file", config_text=corpus.config("backend_from_file").replace('backend: "python"\n', "")
    )
    corpus.write_model(
        root,
        "default_instances",
        config_text=corpus.config("default_instances").replace("instance_group [ { kind: KIND_CPU count: 1 } ]\n", ""),
    )
    corpus.write_model(
        root, "dynamic_batching", config_text=corpus.config("dynamic_batching", "dynamic_batching { }\n")
    )
    extra = corpus.write_model(root, "extra_folder")
    (extra / "notes").mkdir()
    ensemble = root / "ensemble_ok"
    (ensemble / "1").mkdir(parents=True)
    (ensemble / "config.pbtxt").write_text(corpus.ensemble_config("ensemble_ok", "two_versions"))
    return [
        "two_versions",
        "all_versions",
        "no_name_field",
        "backend_from_file",
        "default_instances",
        "dynamic_batching",
        "extra_folder",
        "ensemble_ok",
    ]


def test_triton_rejects_what_check_rejects_and_loads_what_check_accepts(rendered, start_triton, tmp_path: Path):
    repository = tmp_path / "repository"
    corpus.write_model(repository, "bert-base")  # what the rendered group loads at start
    for case in corpus.BROKEN:
        corpus.write_broken(repository, case)
    accepted = good_models(repository)

    problems = check_model_repository(repository, LAB_GROUP)
    flagged = {Path(p.file).relative_to(repository).parts[0] for p in problems}
    assert flagged == set(corpus.BROKEN), "check flags exactly the broken models"

    server, admin_key = start_triton(rendered("staging", "text"), str(repository))
    verdicts = {case: load(server, admin_key, case) for case in corpus.BROKEN}
    for case, (status, body) in verdicts.items():
        if corpus.BROKEN[case].triton_rejects:
            assert status != 200, f"{case}: Triton loaded it ({body}); check must not reject what Triton serves"
        else:
            assert status == 200, f"{case}: marked as a platform-only rule, yet Triton rejects it: {body}"

    for model in accepted:
        status, body = load(server, admin_key, model)
        assert status == 200, f"{model}: check accepts it, Triton does not: {body}"
        answer = http_status(
            f"{server.http}/v2/models/{model}/infer",
            method="POST",
            body=json.dumps(
                {
                    "inputs": [
                        {
                            "name": "IN" if model.startswith("ensemble") else "INPUT0",
                            "datatype": "FP32",
                            "shape": [1, 4],
                            "data": [1, 2, 3, 4],
                        }
                    ]
                }
            ).encode(),
        )
        assert answer[0] == 200, f"{model}: {answer}"


def test_check_agrees_with_triton_on_the_generated_corpus(rendered, start_triton, tmp_path: Path):
    """Every case through ``model check`` and through a plain load on the rendered Triton.

    Zero models accepted by check that Triton refuses; every rejection of a model Triton loads is a
    rule of this platform whose message says so. The fast checks alone (the fallback) hold to the
    same: they may miss what Triton refuses, never refuse what it loads unless the rule is ours.
    The only load Triton refuses that check must not fail: KIND_GPU on this machine without a GPU.
    """
    cases = triton_corpus.cases()
    repository = tmp_path / "repository"
    triton_corpus.write(repository, cases)

    started = time.monotonic()
    report = check_repository(repository)
    check_seconds = time.monotonic() - started
    assert report.partial is None, report.lines()
    fast = check_model_repository(repository)

    servers = [start_triton(rendered("staging", "text"), str(repository))]
    loads, crashes, hung = {}, [], []
    for case in cases:
        server, admin_key = servers[-1]
        status, body = load(server, admin_key, case.name, timeout=CORPUS_LOAD_SECONDS)
        if status == 0 and not server.process.alive():
            # Triton 2.51 can crash unloading a sequence-batching model; the case in flight gets a fresh server.
            crashes.append((case.name, server.process.output()[-300:]))
            servers.append(start_triton(rendered("staging", "text"), str(repository)))
            server, admin_key = servers[-1]
            status, body = load(server, admin_key, case.name, timeout=CORPUS_LOAD_SECONDS)
        if status == 0:
            # A load that never finishes is a model no pod serves; the hung server holds later loads.
            hung.append(case.name)
            body = f"no answer within {CORPUS_LOAD_SECONDS} s"
            servers.append(start_triton(rendered("staging", "text"), str(repository)))
        loads[case.name] = (status == 200, body)
        if status == 200:
            unload(server, admin_key, case.name)
    assert len(crashes) <= 2, crashes
    assert len(hung) <= 2, hung

    def found(problems, case):
        return [p for p in problems if p.model == case.name]

    disagreements = []
    for case in cases:
        loaded, body = loads[case.name]
        mine, quick = found(report.problems, case), found(fast, case)
        if not loaded and not mine:
            disagreements.append(f"{case.name}: check accepts it, Triton refuses it: {body}")
        if loaded and any(p.rule != OURS for p in mine):
            disagreements.append(f"{case.name}: Triton loads it, check refuses it: {[str(p) for p in mine]}")
        if loaded and any(p.rule != OURS for p in quick):
            disagreements.append(f"{case.name}: Triton loads it, the fast checks refuse it: {[str(p) for p in quick]}")
        if any(p.rule == OURS and OURS_NOTE not in str(p) for p in mine):
            disagreements.append(f"{case.name}: a rule of ours does not say so: {[str(p) for p in mine]}")
    assert disagreements == [], "\n".join(disagreements)

    areas = {case.area for case in cases}
    for area in areas:
        outcomes = {loads[c.name][0] for c in cases if c.area == area}
        # A loadable execution environment is a conda-pack archive of a whole Python, too big for the corpus;
        # shape tensors are TensorRT's only, and the lab's Triton has the Python backend alone.
        wanted = {False} if area in ("execution environments", "shape tensors") else {True, False}
        assert outcomes == wanted, f"{area}: the corpus must hold models Triton loads and models it refuses"
    assert len(cases) >= 100
    print(
        f"corpus: {len(cases)} cases over {len(areas)} areas; check took {check_seconds:.1f} s "
        f"(Triton start {report.triton_start_seconds:.1f} s); "
        f"Triton loads {sum(v[0] for v in loads.values())}, refuses {sum(not v[0] for v in loads.values())}; "
        f"hung loads {hung}, crashes {[c[0] for c in crashes]}"
    )


def test_first_time_users_reshape_gets_tritons_own_message_in_one_line(tmp_path: Path, capsys):
    from triton_platform.cli import main

    model = corpus.write_broken(tmp_path, "reshape_other_size")
    started = time.monotonic()
    assert main(["model", "check", str(model)]) == 1
    seconds = time.monotonic() - started
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [f"checks run: {FAST_CHECKS}; {TRITON_CHECK}"]
    assert captured.err.splitlines() == [
        f"{model}/config.pbtxt: input[0] 'INPUT0'.reshape: shape [3] holds a different number of elements than dims [4]; "
        "Triton refuses it ('has different size for dims and reshape')",
        f"{model}/config.pbtxt: Triton 2.51.0 refuses it: model input 'INPUT0' has different size for dims and reshape",
        f"triton-platform: 2 problem(s) in {model}",
    ]
    # A few seconds here; the bound leaves room for a busy machine.
    assert seconds < 30, f"one model's check took {seconds:.1f} s"


def test_no_backend_library_and_no_gpu_are_not_failures_and_say_what_was_not_verified(tmp_path: Path, capsys):
    from triton_platform.cli import main

    corpus.write_model(tmp_path, "on_gpu", config_text=corpus.config("on_gpu").replace("KIND_CPU", "KIND_GPU"))
    onnx = tmp_path / "onnx_model"
    (onnx / "1").mkdir(parents=True)
    (onnx / "1" / "model.onnx").write_bytes(b"not checked: no onnxruntime backend here")
    (onnx / "config.pbtxt").write_text(
        corpus.config("onnx_model").replace('backend: "python"', 'backend: "onnxruntime"')
    )
    broken_onnx = tmp_path / "onnx_broken"
    (broken_onnx / "1").mkdir(parents=True)
    (broken_onnx / "1" / "model.onnx").write_bytes(b"")
    (broken_onnx / "config.pbtxt").write_text(
        corpus.config("onnx_broken", "dynamic_batching { priority_levels: 2 default_priority_level: 3 }\n").replace(
            'backend: "python"', 'backend: "onnxruntime"'
        )
    )

    assert main(["model", "check", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines()[1:] == [
        f"not verified: {tmp_path}/on_gpu/config.pbtxt: KIND_GPU instance groups (this machine has no GPU); Triton "
        "checked the rest with CPU instances",
        f"not verified: {onnx}/config.pbtxt: what Triton checks once the backend loads (instance groups on devices, "
        "model warmup, the backend's own checks): this Triton has no 'onnxruntime' backend library; its configuration "
        "checks ran",
    ]
    assert captured.err.splitlines() == [
        f"{broken_onnx}/config.pbtxt: Triton 2.51.0 refuses it: default priority level must be in range [1, 2]",
        f"triton-platform: 1 problem(s) in {tmp_path}",
    ], "the configuration of a model whose backend is absent is still checked by Triton"


def test_a_check_killed_outright_takes_its_private_tritonserver_with_it(tmp_path: Path) -> None:
    """A CI timeout or an OOM kill sends SIGKILL, which runs no cleanup: the private server must
    still exit, not linger holding its ports and memory."""
    import os
    import signal
    import subprocess
    import sys

    pid_file = tmp_path / "server.pid"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time\n"
                "from pathlib import Path\n"
                "from triton_platform.delivery.triton_server import TritonValidator\n"
                "with TritonValidator() as server:\n"
                f"    Path({str(pid_file)!r}).write_text(str(server.process.pid))\n"
                "    time.sleep(600)\n"
            ),
        ]
    )
    try:
        deadline = time.monotonic() + 120
        while not pid_file.exists() and holder.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pid_file.exists(), f"the holder never started its server (exit code {holder.poll()})"
        server_pid = int(pid_file.read_text())
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)

        def gone() -> bool:
            try:
                os.kill(server_pid, 0)
            except ProcessLookupError:
                return True
            # A zombie has exited; only its entry waits for a parent that no longer reaps it.
            return Path(f"/proc/{server_pid}/stat").read_text().split(") ", 1)[1].startswith("Z")

        deadline = time.monotonic() + 60
        while not gone() and time.monotonic() < deadline:
            time.sleep(0.1)
        alive = not gone()
        if alive:
            os.kill(server_pid, signal.SIGKILL)
        assert not alive, "tritonserver outlived the check that started it"
    finally:
        if holder.poll() is None:
            holder.kill()
