"""Fixtures of the delivery tests: the real Triton and the storage emulators of the lab's machinery.

Tests that run real programs (Triton, moto, fake-gcs-server) are marked ``lab`` in their module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support import ROOT
from support.delivery.corpus import ADMIN_KEY
from support.lab.emulators import Storage
from support.lab.renders import triton_deployments
from support.lab.triton import TritonServer, admin_key_ref, launch_for
from support.lab.triton import triton_install as find_triton_install


@pytest.fixture(scope="session")
def emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """moto (S3) and fake-gcs-server on loopback, started on first use, stopped at the end."""
    storage = Storage(tmp_path_factory.mktemp("delivery-storage"))
    try:
        yield storage
    finally:
        storage.stop()


@pytest.fixture(scope="session")
def triton_install():
    return find_triton_install()


@pytest.fixture(scope="session")
def rendered():
    """``rendered(stack, group)``: that group's stable Triton Deployment as the stack renders it."""
    from triton_platform.review.render import render_stack

    renders: dict[str, object] = {}

    def deployment(stack: str, group: str, track: str = "stable"):
        if stack not in renders:
            renders[stack] = render_stack(ROOT, stack)
        name = f"triton-{group}" + ("-canary" if track == "canary" else "")
        [rt] = [rt for rt in triton_deployments(renders[stack]) if rt.name == name]
        return rt

    return deployment


@pytest.fixture
def start_triton(triton_install, tmp_path: Path):
    """``start_triton(rt, repository_url, env)``: the rendered container running here; stopped after the test.

    Returns ``(server, admin_key)``. Only the lab's substitutions apply (binary, ports, paths).
    """
    servers = []

    def start(
        rt, repository_url: str, env: dict[str, str] | None = None, wait: bool = True, extra_args: tuple[str, ...] = ()
    ):
        workdir = tmp_path / f"triton-{len(servers)}"
        admin_key = ADMIN_KEY
        _, secret, key = admin_key_ref(rt)
        launch = launch_for(
            rt,
            workdir=workdir,
            install=triton_install,
            repository_url=repository_url,
            secrets={(secret, key): admin_key},
            extra_env=env or {},
            extra_args=extra_args,
        )
        server = TritonServer(launch, workdir / "tritonserver.log")
        servers.append(server)
        if wait:
            server.wait_ready(rt.startup_budget_seconds())
        return server, admin_key

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
