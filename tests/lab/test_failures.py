"""Graceful shutdown under the rendered flags, and a broken model failing fast."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from support.lab.emulators import Storage
from support.lab.load import Load
from support.lab.processes import http_status, wait_until
from support.lab.renders import rendered_stacks, triton_deployments
from support.lab.triton import TritonInstall, TritonServer, start_rendered

#: One Deployment per committed stack: each stack renders its own exit timeout and control mode.
FIRST_TRITON = {stack: triton_deployments(render)[0] for stack, render in rendered_stacks().items()}


@pytest.mark.parametrize("stack", sorted(FIRST_TRITON))
def test_broken_model_fails_the_start_fast_with_tritons_error_visible(
    stack: str, storage: Storage, lab_dir: Path, triton_install: TritonInstall
) -> None:
    """A bad config.pbtxt under --exit-on-error: the container exits (crash loop), the error names the model."""
    rt = FIRST_TRITON[stack]
    models = rt.models or ["standin"]
    broken = models[-1]
    run = start_rendered(
        rt,
        storage=storage,
        workdir=lab_dir / "broken" / stack,
        install=triton_install,
        models=models,
        broken=[broken],
        wait=False,
        bucket_suffix="-broken",
    )
    try:
        started = time.monotonic()
        code = run.server.wait_exit(rt.startup_budget_seconds())
        elapsed = time.monotonic() - started
        log = run.server.process.output()
        assert code != 0, log[-2000:]
        assert not run.server.ready()
        # Triton's own words: the model and the parse failure, then the server refusing to start.
        assert f"'{broken}'" in log or f"{broken}/config.pbtxt" in log, log[-2000:]
        assert "TYPE_NOT_A_TYPE" in log or "failed to read text proto" in log, log[-2000:]
        assert "error: creating server" in log, log[-2000:]
        # Fast: long before the startup probe's budget would have noticed.
        assert elapsed < min(60, rt.startup_budget_seconds()), f"exited after {elapsed:.1f} s"
        print(f"{stack}/{rt.name}: exited {code} after {elapsed:.1f} s")
    finally:
        run.server.stop()


@pytest.mark.parametrize("stack", sorted(FIRST_TRITON))
def test_sigterm_drains_in_flight_requests_within_the_rendered_exit_timeout(
    stack: str, storage: Storage, lab_dir: Path, triton_install: TritonInstall
) -> None:
    rt = FIRST_TRITON[stack]
    exit_timeout = rt.exit_timeout_seconds
    model = (rt.models or ["standin"])[0]
    # In-flight work that needs a good part of the exit timeout: 4 requests, one instance, serialized.
    in_flight, service_ms = 4, min(1000.0, 1000 * exit_timeout / 12)
    run = start_rendered(
        rt,
        storage=storage,
        workdir=lab_dir / "shutdown" / stack,
        install=triton_install,
        models=rt.models or ["standin"],
        service_time_ms=service_ms,
        bucket_suffix="-slow",
    )
    server = run.server
    load = Load(
        server.grpc, model, concurrency=in_flight, deadline_seconds=exit_timeout + 30, max_requests_per_client=1
    )
    try:
        wait_until(lambda: _pending(server) >= in_flight - 1, 10, what="requests in flight")
        sent = time.monotonic()
        server.process.signal(signal.SIGTERM)
        readiness: list[tuple[float, int]] = []
        while server.process.alive() and time.monotonic() - sent < exit_timeout + 15:
            readiness.append((time.monotonic() - sent, http_status(f"{server.http}/v2/health/ready", timeout=1)[0]))
            time.sleep(0.1)
        code = server.wait_exit(exit_timeout + 15)
        drained = time.monotonic() - sent
        load.stop()
        # Readiness turns false as soon as Triton handles the signal (a probe racing the signal may still
        # pass) and never comes back while the requests drain.
        first_false = next((i for i, (_, status) in enumerate(readiness) if status != 200), None)
        assert first_false is not None and readiness[first_false][0] < 1.0, f"readiness after SIGTERM: {readiness[:20]}"
        assert all(status != 200 for _, status in readiness[first_false:]), f"readiness came back: {readiness}"
        assert load.completed == in_flight and not load.errors, f"{load.completed} completed, errors {load.errors[:3]}"
        assert code == 0, server.process.output()[-2000:]
        assert drained <= exit_timeout + 2, (
            f"exited {drained:.1f} s after SIGTERM; --exit-timeout-secs={exit_timeout:g}"
        )
        spec = rt.pod_spec
        pre_stop = rt.container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        assert pre_stop + drained <= spec["terminationGracePeriodSeconds"], (
            f"preStop {pre_stop} s + drain {drained:.1f} s exceeds terminationGracePeriodSeconds {spec['terminationGracePeriodSeconds']}"
        )
        print(
            f"{stack}/{rt.name}: {in_flight} in-flight requests of {service_ms:g} ms drained, exit {code} "
            f"{drained:.1f} s after SIGTERM (exit timeout {exit_timeout:g} s)"
        )
    finally:
        load.stop()
        server.stop()


def _pending(server: TritonServer) -> float:
    status, body = http_status(server.metrics)
    if status != 200:
        return 0
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in body.decode().splitlines()
        if line.startswith("nv_inference_pending_request_count{")
    )
