"""Fixtures of the delivery tests: the lab's harness, the real Triton and the storage emulators.

Imported by each test module that uses them (``from delivery_fixtures import ...``) instead of a
``conftest.py``: test modules elsewhere import helpers with ``from conftest import``, which a
second ``conftest`` module in this folder would shadow. Tests that run real programs (Triton,
moto, fake-gcs-server) are marked ``lab`` in their module.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from corpus import ADMIN_KEY, ROOT


@pytest.fixture(scope="session")
def harness():
    """``tests/lab/harness.py``, loaded by path: no sys.path entry that could shadow another conftest."""
    if "harness" not in sys.modules:
        spec = importlib.util.spec_from_file_location("harness", ROOT / "tests" / "lab" / "harness.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["harness"] = module
        spec.loader.exec_module(module)
    return sys.modules["harness"]


@pytest.fixture(scope="session")
def emulators(harness, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """moto (S3) and fake-gcs-server on loopback, started on first use, stopped at the end."""
    storage = harness.Storage(tmp_path_factory.mktemp("delivery-storage"))
    try:
        yield storage
    finally:
        storage.stop()


@pytest.fixture(scope="session")
def triton_install(harness):
    return harness.triton_install()


@pytest.fixture(scope="session")
def rendered(harness):
    """``rendered(stack, group)``: that group's stable Triton Deployment as the stack renders it."""
    from triton_platform.review.render import render_stack

    renders: dict[str, object] = {}

    def deployment(stack: str, group: str, track: str = "stable"):
        if stack not in renders:
            renders[stack] = render_stack(ROOT, stack)
        name = f"triton-{group}" + ("-canary" if track == "canary" else "")
        [rt] = [rt for rt in harness.triton_deployments(renders[stack]) if rt.name == name]
        return rt

    return deployment


@pytest.fixture
def start_triton(harness, triton_install, tmp_path: Path):
    """``start_triton(rt, repository_url, env)``: the rendered container running here; stopped after the test.

    Returns ``(server, admin_key)``. Only the lab's substitutions apply (binary, ports, paths).
    """
    servers = []

    def start(
        rt, repository_url: str, env: dict[str, str] | None = None, wait: bool = True, extra_args: tuple[str, ...] = ()
    ):
        workdir = tmp_path / f"triton-{len(servers)}"
        admin_key = ADMIN_KEY
        _, secret, key = harness.admin_key_ref(rt)
        launch = harness.launch_for(
            rt,
            workdir=workdir,
            install=triton_install,
            repository_url=repository_url,
            secrets={(secret, key): admin_key},
            extra_env=env or {},
            extra_args=extra_args,
        )
        server = harness.TritonServer(launch, workdir / "tritonserver.log")
        servers.append(server)
        if wait:
            server.wait_ready(rt.startup_budget_seconds())
        return server, admin_key

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
