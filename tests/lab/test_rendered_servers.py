"""Every rendered Triton Deployment of every committed stack
starts for real, answers its probes, serves every model of its group, and keeps its management APIs
behind the admin key over HTTP and gRPC."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.lab.emulators import Storage
from support.lab.load import infer_grpc, infer_http
from support.lab.processes import LOOPBACK, http_status
from support.lab.renders import rendered_tritons
from support.lab.triton import Running, TritonInstall, start_rendered

TRITONS = {f"{rt.stack}/{rt.name}": rt for rt in rendered_tritons()}


def test_every_committed_stack_has_a_triton_in_the_lab(renders) -> None:
    """The parametrisation below covers every stack discovered in the repository."""
    assert {rt.stack for rt in TRITONS.values()} == set(renders)


@pytest.fixture(scope="module", params=sorted(TRITONS))
def running(
    request: pytest.FixtureRequest, storage: Storage, lab_dir: Path, triton_install: TritonInstall
) -> Iterator[Running]:
    rt = TRITONS[request.param]
    run = start_rendered(rt, storage=storage, workdir=lab_dir / "servers" / rt.stack / rt.name, install=triton_install)
    try:
        yield run
    finally:
        run.server.stop()


def test_ready_within_the_rendered_startup_budget(running: Running) -> None:
    budget = running.rt.startup_budget_seconds()
    assert running.ready_seconds is not None and running.ready_seconds < budget
    print(
        f"{running.rt.stack}/{running.rt.name}: ready after {running.ready_seconds:.1f} s (startup probe budget {budget:g} s)"
    )


@pytest.mark.parametrize("kind", ["startup", "readiness", "liveness"])
def test_probe_answers_as_the_probe_expects(running: Running, kind: str) -> None:
    probe = running.rt.probe(kind)["httpGet"]
    port = probe["port"]
    name = port if isinstance(port, str) else next(n for n, p in running.rt.ports.items() if p == port)
    status, body = http_status(f"http://{LOOPBACK}:{running.launch.ports[name]}{probe['path']}")
    # The kubelet counts 200-399 as success.
    assert 200 <= status < 400, f"{kind} probe GET {probe['path']} on port {port}: {status} {body[:200]!r}"


def test_inference_on_every_model_over_http_and_grpc(running: Running) -> None:
    for model in running.models:
        assert infer_http(running.server.http, model, 1.5) == 3.0
        assert infer_grpc(running.server.grpc, model, 2.5) == 5.0


# One request per Triton API group (server/docs/customization_guide/inference_protocols.md).
def _http_request(api: str, model: str) -> tuple[str, str, bytes | None]:
    return {
        "health": ("GET", "/v2/health/ready", None),
        "metadata": ("GET", f"/v2/models/{model}", None),
        "inference": (
            "POST",
            f"/v2/models/{model}/infer",
            b'{"inputs":[{"name":"INPUT0","shape":[1],"datatype":"FP32","data":[1.0]}]}',
        ),
        "shared-memory": ("GET", "/v2/systemsharedmemory/status", None),
        "model-config": ("GET", f"/v2/models/{model}/config", None),
        "model-repository": ("POST", "/v2/repository/index", b"{}"),
        "statistics": ("GET", f"/v2/models/{model}/stats", None),
        "trace": ("GET", "/v2/trace/setting", None),
        "logging": ("GET", "/v2/logging", None),
    }[api]


def _grpc_call(client, api: str, model: str, headers: dict[str, str] | None):
    import numpy as np
    import tritonclient.grpc as grpcclient

    if api == "inference":
        tensor = grpcclient.InferInput("INPUT0", [1], "FP32")
        tensor.set_data_from_numpy(np.array([1.0], dtype=np.float32))
        return client.infer(model, [tensor], headers=headers)
    calls = {
        "health": lambda: client.is_server_ready(headers=headers),
        "metadata": lambda: client.get_model_metadata(model, headers=headers),
        "shared-memory": lambda: client.get_system_shared_memory_status(headers=headers),
        "model-config": lambda: client.get_model_config(model, headers=headers),
        "model-repository": lambda: client.get_model_repository_index(headers=headers),
        "statistics": lambda: client.get_inference_statistics(model, headers=headers),
        "trace": lambda: client.get_trace_settings(headers=headers),
        "logging": lambda: client.get_log_settings(headers=headers),
    }
    return calls[api]()


UNRESTRICTED = ("health", "metadata", "inference")


def test_restricted_http_apis_need_the_admin_key(running: Running) -> None:
    groups = running.rt.restricted("http")
    assert groups, "the render restricts no HTTP API"
    model = running.models[0]
    for group in groups:
        header = {group.header: running.admin_key}
        for api in group.apis:
            method, path, body = _http_request(api, model)
            status, text = http_status(running.server.http + path, method, body=body)
            assert status == 403 and b"restricted" in text, (
                f"{api}: {method} {path} without the key gave {status} {text[:200]!r}"
            )
            status, text = http_status(running.server.http + path, method, headers={group.header: "wrong"}, body=body)
            assert status == 403, f"{api}: {method} {path} with a wrong key gave {status}"
            status, text = http_status(running.server.http + path, method, headers=header, body=body)
            assert status == 200, f"{api}: {method} {path} with the key gave {status} {text[:200]!r}"


def test_restricted_grpc_apis_need_the_admin_key(running: Running) -> None:
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    groups = running.rt.restricted("grpc")
    assert groups, "the render restricts no gRPC protocol"
    model = running.models[0]
    client = grpcclient.InferenceServerClient(running.server.grpc)
    try:
        for group in groups:
            # Triton reads the key from the metadata "triton-grpc-protocol-<key>" (docs/deploy.md: Calling Triton).
            header = f"triton-grpc-protocol-{group.header}"
            for api in group.apis:
                for headers in (None, {header: "wrong"}, {group.header: running.admin_key}):
                    with pytest.raises(InferenceServerException, match="restricted") as denied:
                        _grpc_call(client, api, model, headers)
                    assert header in str(denied.value), f"{api}: {denied.value}"
                _grpc_call(client, api, model, {header: running.admin_key})
    finally:
        client.close()


def test_health_metadata_and_inference_need_no_key(running: Running) -> None:
    import tritonclient.grpc as grpcclient

    restricted = {api for g in running.rt.restricted("http") + running.rt.restricted("grpc") for api in g.apis}
    assert not restricted & set(UNRESTRICTED), f"the render restricts {restricted & set(UNRESTRICTED)}"
    model = running.models[0]
    for api in UNRESTRICTED:
        method, path, body = _http_request(api, model)
        status, text = http_status(running.server.http + path, method, body=body)
        assert status == 200, f"{api}: {method} {path} without a key gave {status} {text[:200]!r}"
    client = grpcclient.InferenceServerClient(running.server.grpc)
    try:
        for api in UNRESTRICTED:
            _grpc_call(client, api, model, None)
    finally:
        client.close()


def test_every_rendered_restricted_api_is_exercised(running: Running) -> None:
    """A new API group in the render must get a request above, or this fails."""
    for protocol in ("http", "grpc"):
        for group in running.rt.restricted(protocol):
            for api in group.apis:
                _http_request(api, "m")  # KeyError names an API the lab does not know
