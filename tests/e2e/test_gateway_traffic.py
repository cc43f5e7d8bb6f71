"""Real requests through the gateway: upstream Envoy configured by istiod from what `pulumi up` applied.

The local stack is deployed by the real engine to a LocalCluster running the real istiod; a gateway
Envoy takes its configuration from istiod over ADS and forwards real HTTP and gRPC requests to real
``tritonserver`` processes standing for the Triton pods (e2e_gateway.py says how, and what stands
in). Tests run in order, as one story: each builds on the stack state the previous one left.

Turned off, and only this: mTLS on the gateway -> pod hop. ``ISTIO_MUTUAL`` (and auto mTLS) make
the gateway present a workload certificate that pilot-agent fetches over SDS in a real pod; no
pilot-agent runs here, and istiod gives SDS no initial-fetch timeout, so Envoy would keep every
such cluster warming and never take a listener. So the DestinationRules' ``trafficPolicy.tls.mode``
is patched from ``ISTIO_MUTUAL`` to ``DISABLE`` after `pulumi up`, and istiod runs with the mesh
config ``enableAutoMtls: false`` on top of our installation's values. Everything else of the
DestinationRules (subsets, load balancer, outlier detection) stays as rendered. istiod also runs
with ``telemetry.v2.prometheus.enabled: false``: the ``istio.stats`` filter it would add to every
listener is built into istio-proxy, and upstream Envoy refuses a listener that names it (the
gateway's own request metrics are not what these tests read). The pods' inbound side (PeerAuthentication
STRICT, the AuthorizationPolicies) is enforced by the pods' sidecars, which do not run here.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from e2e_cluster import LocalCluster, wait_for
from e2e_gateway import GATEWAY_NAMESPACE, GatewayEnvoy, NetNamespace, PodBackends
from e2e_istiod import Istiod, installation_values, merge
from e2e_jwt import JwksServer, SigningKey
from e2e_pulumi import STACK, PulumiCli, copy_project
from e2e_toolchain import ROOT, cache_dir, require_toolchain
from support import lab as harness  # the lab's Triton machinery, reused as is
from test_local_stack import (
    CRD_SCHEMAS,
    NAMESPACE,
    OTHER_IMAGE_TAG,
    TRITON_POD_SELECTOR,
    _add_nodes,
    _settings,
    render_text,
    triton_pods,
    wait_rolled_out,
)
from triton_components.common import versions

pytestmark = pytest.mark.e2e

#: Bound of every proportion check: |observed - n p| <= Z * sqrt(n p (1 - p)). Z = 4.4 leaves a
#: false failure of about 1 in 100,000 per check, while a 90/10 split read as 80/20 over 1,000
#: requests is 10.5 standard deviations away.
Z = 4.4
#: On top of our installation's istiod values (see the module docstring): no auto mTLS, and no
#: ``istio.stats`` filter (istio-proxy's Prometheus stats, an extension upstream Envoy lacks).
UPSTREAM_ENVOY_VALUES = {
    "meshConfig": {"enableAutoMtls": False},
    "telemetry": {"v2": {"prometheus": {"enabled": False}}},
}
SPLIT_REQUESTS = 1000
CONCURRENCY = 4


@dataclass
class Gateway:
    cluster: LocalCluster
    cli: PulumiCli
    istiod: Istiod
    envoy: GatewayEnvoy
    pods: PodBackends
    host: str
    backends: dict[tuple[str, str], harness.Running]
    storage: harness.Storage
    install: harness.TritonInstall
    workdir: Path
    #: The token issuer's key (in the JWKS) and JWKS server, for the stack with ``mesh.jwt``.
    issuer_key: SigningKey
    jwks: JwksServer
    done: set[str] = field(default_factory=set)

    def needs(self, *steps: str) -> None:
        missing = [s for s in steps if s not in self.done]
        if missing:
            pytest.fail(f"needs {', '.join(missing)}, which did not pass earlier in this run")

    def backend(self, deployment: str, image_tag: str | None = None) -> harness.Running:
        found = [
            r
            for (name, image), r in self.backends.items()
            if name == deployment and (image_tag is None or image.endswith(":" + image_tag))
        ]
        assert len(found) == 1, f"{len(found)} backends for {deployment} {image_tag}: {list(self.backends)}"
        return found[0]


# ------------------------------------------------------------------------------------- requests


def infer_body(value: float) -> bytes:
    return json.dumps({"inputs": [{"name": "INPUT0", "shape": [1], "datatype": "FP32", "data": [value]}]}).encode()


class HttpClient:
    """One keep-alive HTTP/1.1 connection to the gateway listener, with the Gateway's host."""

    def __init__(self, gw: Gateway) -> None:
        self.port, self.host = gw.envoy.gateway_port, gw.host
        self.conn: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """One request; a connection the gateway closed or cut is a failure (no resend)."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            self.conn.request(
                method,
                path,
                body=body,
                headers={"Host": self.host, "Content-Type": "application/json", **(headers or {})},
            )
            response = self.conn.getresponse()
            return response.status, response.read()
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def grpc_client(gw: Gateway) -> Any:
    import tritonclient.grpc as grpcclient

    # The Gateway matches on the :authority the client sends, as it would on a DNS name.
    return grpcclient.InferenceServerClient(gw.envoy.grpc, channel_args=[("grpc.default_authority", gw.host)])


def grpc_infer(client: Any, model: str, value: float, header: str | None, token: str | None = None) -> float:
    import numpy as np
    import tritonclient.grpc as grpcclient

    tensor = grpcclient.InferInput("INPUT0", [1], "FP32")
    tensor.set_data_from_numpy(np.array([value], dtype=np.float32))
    headers = {"triton-model": header} if header else {}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    result = client.infer(model, [tensor], client_timeout=30, headers=headers)
    return float(result.as_numpy("OUTPUT0")[0])


def served(running: harness.Running, model: str) -> int:
    """Successful inferences this tritonserver ran for ``model`` (its statistics API, admin key)."""
    groups = [g for g in running.rt.restricted("http") if "statistics" in g.apis]
    headers = {groups[0].header: running.admin_key} if groups else {}
    status, body = harness.http_status(f"{running.server.http}/v2/models/{model}/stats", headers=headers)
    assert status == 200, (status, body[:300])
    return sum(s["inference_stats"]["success"]["count"] for s in json.loads(body)["model_stats"])


def wait_served(running: harness.Running, model: str, expected: int, what: str) -> None:
    """Triton counts a request in its statistics just after answering it: wait for the count."""
    wait_for(f"{what}: {expected} {model} inferences counted", lambda: served(running, model) == expected, 30, 0.1)
    assert served(running, model) == expected, f"{what}: more than {expected} {model} inferences"


@dataclass
class LoadResult:
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


def bounded_load(
    send: Callable[[Any, int], None],
    make_client: Callable[[], Any],
    close: Callable[[Any], None],
    *,
    threads: int,
    max_requests: int,
    deadline_seconds: float,
    stop: threading.Event | None = None,
) -> tuple[LoadResult, Callable[[], LoadResult]]:
    """``threads`` closed-loop clients; stops at ``max_requests`` in all, at the deadline, or on ``stop``.
    Returns the live result and a join() that waits for the clients."""
    result = LoadResult()
    lock = threading.Lock()
    counter = iter(range(max_requests))
    started = time.monotonic()
    deadline = started + deadline_seconds
    stop = stop or threading.Event()

    def client() -> None:
        conn = make_client()
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                try:
                    send(conn, index)
                    with lock:
                        result.ok += 1
                except Exception as error:  # noqa: BLE001 - every failure is recorded and fails the test
                    with lock:
                        result.failures.append(f"{type(error).__name__}: {str(error)[:200]}")
        finally:
            close(conn)

    workers = [threading.Thread(target=client, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()

    def join() -> LoadResult:
        for worker in workers:
            worker.join(deadline_seconds + 60)
        assert not any(w.is_alive() for w in workers), "a load client did not stop"
        result.seconds = time.monotonic() - started
        return result

    return result, join


def http_infer(model: str) -> Callable[[HttpClient, int], None]:
    def send(client: HttpClient, index: int) -> None:
        status, body = client.request("POST", f"/triton/v2/models/{model}/infer", infer_body(float(index % 7)))
        if status != 200:
            raise AssertionError(f"HTTP {status}: {body[:200]!r}")
        if json.loads(body)["outputs"][0]["data"] != [2.0 * (index % 7)]:
            raise AssertionError(f"wrong answer {body[:200]!r}")

    return send


def run_http(gw: Gateway, model: str, requests: int, deadline_seconds: float = 240) -> LoadResult:
    _, join = bounded_load(
        http_infer(model),
        lambda: HttpClient(gw),
        lambda c: c.close(),
        threads=CONCURRENCY,
        max_requests=requests,
        deadline_seconds=deadline_seconds,
    )
    return join()


def within(observed: int, n: int, p: float) -> tuple[bool, float]:
    bound = Z * math.sqrt(n * p * (1 - p))
    return abs(observed - n * p) <= bound, bound


def split_counts(gw: Gateway, requests: int) -> dict[str, int]:
    """Requests each vision Deployment's tritonserver served out of ``requests`` sent to resnet50."""
    tracks = {"stable": "triton-vision", "canary": "triton-vision-canary"}
    before = {t: served(gw.backend(d), "resnet50") for t, d in tracks.items()}
    result = run_http(gw, "resnet50", requests)
    assert not result.failures and result.ok == requests, (result.ok, result.failures[:5])

    def counts() -> dict[str, int]:
        return {t: served(gw.backend(d), "resnet50") - before[t] for t, d in tracks.items()}

    wait_for(f"{requests} resnet50 inferences counted", lambda: sum(counts().values()) >= requests, 30, 0.2)
    return counts()


def route_weights(gw: Gateway, route_name: str) -> dict[str, int]:
    """The weights Envoy now has for one VirtualService route, by subset."""
    for dynamic in gw.envoy.config_dump("dynamic_route_configs"):
        for vhost in dynamic["route_config"].get("virtual_hosts", []):
            for route in vhost.get("routes", []):
                if route.get("name") == route_name:
                    clusters = route["route"].get("weighted_clusters", {}).get("clusters")
                    if clusters is None:
                        return {route["route"]["cluster"].split("|")[2]: 100}
                    return {c["name"].split("|")[2]: c.get("weight", 0) for c in clusters}
    return {}


def _prerequisites(cluster: LocalCluster, istiod: Istiod) -> None:
    """What a cluster the local stack deploys to already has: Istio (istiod from the real charts, its
    CRDs from the base chart), the KEDA and Prometheus Operator CRDs, and the monitoring namespace."""
    istiod.install()
    for crd in sorted(CRD_SCHEMAS.glob("*/*.yaml")):
        if crd.parent.name != "istio":
            cluster.kubectl("apply", "--server-side", "--field-manager=e2e", "-f", str(crd))
    cluster.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    cluster.kubectl("create", "namespace", "monitoring")
    cluster.kubectl("create", "namespace", GATEWAY_NAMESPACE)
    cluster.kubectl(
        "label",
        "--overwrite",
        "crd",
        "scaledobjects.keda.sh",
        f"app.kubernetes.io/version={versions.KEDA_CHART_VERSION}",
    )


def _disable_upstream_tls(cluster: LocalCluster) -> None:
    for rule in cluster.items("destinationrules.networking.istio.io", "-n", NAMESPACE):
        assert rule["spec"]["trafficPolicy"]["tls"]["mode"] == "ISTIO_MUTUAL", rule["spec"]
        cluster.kubectl(
            "patch",
            "destinationrules.networking.istio.io",
            rule["metadata"]["name"],
            "-n",
            NAMESPACE,
            "--type=merge",
            "--field-manager=e2e-no-workload-certs",
            "-p",
            json.dumps({"spec": {"trafficPolicy": {"tls": {"mode": "DISABLE"}}}}),
        )


def _backend_key(pod: dict[str, Any]) -> tuple[str, str]:
    owner = pod["metadata"]["ownerReferences"][0]["name"]
    deployment = owner[: -len(pod["metadata"]["labels"]["pod-template-hash"]) - 1]
    image = next(c["image"] for c in pod["spec"]["containers"] if c["name"] == "tritonserver")
    return deployment, image


def start_backends(
    gw_backends: dict[tuple[str, str], harness.Running],
    render: Any,
    storage: harness.Storage,
    install: harness.TritonInstall,
    workdir: Path,
) -> None:
    """One real tritonserver per rendered Triton Deployment (and its image), Ready before returning."""
    for rt in harness.triton_deployments(render):
        image = rt.container["image"]
        if (rt.name, image) in gw_backends:
            continue
        tag = image.rsplit(":", 1)[1]
        gw_backends[(rt.name, image)] = harness.start_rendered(
            rt, storage=storage, workdir=workdir / f"{rt.name}-{tag}", install=install
        )


@pytest.fixture(scope="module")
def gw() -> Iterator[Gateway]:
    workdir = Path(tempfile.mkdtemp(prefix="triton-gateway-"))
    toolchain = require_toolchain(workdir / "toolchain-build.log")
    install = harness.triton_install()
    stops: list[Callable[[], None]] = []
    cluster = LocalCluster(toolchain, workdir / "cluster")
    stops.append(cluster.stop)
    try:
        issuer_key = SigningKey("e2e-issuer")
        jwks = JwksServer(workdir / "jwks", [issuer_key])
        stops.append(jwks.stop)
        cluster.start()
        settings = _settings(ROOT / f"Pulumi.{STACK}.yaml")
        _add_nodes(cluster, settings)
        # istiod fetches the JWKS itself: it trusts the test's CA, and only istiod does.
        istiod = Istiod(
            toolchain,
            cluster,
            workdir / "istiod",
            values=merge(installation_values(), UPSTREAM_ENVOY_VALUES),
            env={"SSL_CERT_FILE": str(jwks.ca_file)},
        )
        stops.append(istiod.stop)
        _prerequisites(cluster, istiod)
        istiod.start()

        project = cache_dir() / "project-gateway"
        copy_project(ROOT, project)
        cli = PulumiCli(toolchain, workdir / "pulumi", project, cluster.kubeconfig)
        cli.setup()
        cli.up(label="up (gateway stack)")
        wait_rolled_out(cluster)
        _disable_upstream_tls(cluster)

        storage = harness.Storage(workdir / "storage")
        stops.append(storage.stop)
        backends: dict[tuple[str, str], harness.Running] = {}
        stops.append(lambda: [r.server.stop() for r in backends.values()])
        start_backends(
            backends,
            render_text((ROOT / f"Pulumi.{STACK}.yaml").read_text(), workdir),
            storage,
            install,
            workdir / "triton",
        )

        netns = NetNamespace(workdir / "netns")
        stops.append(netns.stop)
        gateway = next(g for g in cluster.items("gateways.networking.istio.io", "-n", NAMESPACE))
        envoy = GatewayEnvoy(
            netns,
            workdir / "envoy",
            int(istiod.xds_address.rsplit(":", 1)[1]),
            dict(gateway["spec"]["selector"]),
            versions.ISTIO_VERSION,
        )
        stops.append(envoy.stop)
        pods = PodBackends(
            cluster,
            netns,
            NAMESPACE,
            TRITON_POD_SELECTOR,
            lambda pod: _backend_key(pod) if _backend_key(pod) in backends else None,
            lambda key: {"http": backends[key].launch.ports["http"], "grpc": backends[key].launch.ports["grpc"]},
        )
        stops.append(pods.stop)
        envoy.start()
        envoy.wait_listening()
        state = Gateway(
            cluster,
            cli,
            istiod,
            envoy,
            pods,
            gateway["spec"]["servers"][0]["hosts"][0],
            backends,
            storage,
            install,
            workdir,
            issuer_key,
            jwks,
        )
        wait_for("Envoy to hold every Ready Triton pod as an endpoint", lambda: _endpoints_match(state), 120)
        yield state
    except Exception:
        print(cluster.logs_tail())
        raise
    finally:
        for stop in reversed(stops):
            try:
                stop()
            except Exception as error:  # noqa: BLE001 - every process still gets its stop
                print(f"teardown: {error!r}")
        if os.environ.get("TRITON_E2E_KEEP") != "1":
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"gateway work folder kept: {workdir}")


def _endpoints_match(gw: Gateway) -> bool:
    gw.pods.check()
    ready = {
        p["status"]["podIP"]
        for p in triton_pods(gw.cluster)
        if p.get("status", {}).get("podIP") and not p["metadata"].get("deletionTimestamp")
    }
    seen = {h.rsplit(":", 1)[0] for hosts in gw.envoy.endpoints("|8000|").values() for h in hosts}
    return bool(ready) and ready == seen


# ------------------------------------------------------------------------------------- tests


def test_01_the_triton_prefix_is_rewritten_to_tritons_v2_api(gw: Gateway) -> None:
    """`/triton/v2/models/<m>` through the gateway reaches Triton's `/v2/models/<m>` (the rendered
    regex rewrite) on the group that serves the model, and inference over HTTP returns Triton's
    answer; the unprefixed path has no route at the gateway."""
    client = HttpClient(gw)
    try:
        for model, deployment in (("resnet50", "triton-vision"), ("bert-base", "triton-text")):
            status, body = client.request("GET", f"/triton/v2/models/{model}")
            assert status == 200, (model, status, body[:300])
            assert json.loads(body)["name"] == model
            before = served(gw.backend(deployment), model)
            status, body = client.request("POST", f"/triton/v2/models/{model}/infer", infer_body(1.5))
            assert status == 200, (model, status, body[:300])
            assert json.loads(body)["outputs"][0]["data"] == [3.0]
            wait_served(gw.backend(deployment), model, before + 1, f"{model} served by {deployment}")
        status, _ = client.request("GET", "/v2/models/resnet50")
        assert status == 404, "only the /triton/ prefix is routed"
    finally:
        client.close()
    gw.done.add("rewrite")


def test_02_canary_weights_split_live_traffic_within_binomial_bounds(gw: Gateway) -> None:
    """With the stack's committed weights (stable 100 / canary 0) the canary Deployment serves none
    of 1,000 requests; after `pulumi up` sets 90/10 it serves 10 % of the next 1,000 within
    ±4.4 standard deviations."""
    gw.needs("rewrite")
    counts = split_counts(gw, SPLIT_REQUESTS)
    assert counts == {"stable": SPLIT_REQUESTS, "canary": 0}, counts

    gw.cli.config_set("modelGroups[0].canary.trafficPercent.stable", "90")
    gw.cli.config_set("modelGroups[0].canary.trafficPercent.canary", "10")
    gw.cli.up(label="up (canary 90/10)")
    wait_for(
        "Envoy to route vision-http 90/10", lambda: route_weights(gw, "vision-http") == {"stable": 90, "canary": 10}, 60
    )
    counts = split_counts(gw, SPLIT_REQUESTS)
    ok, bound = within(counts["canary"], SPLIT_REQUESTS, 0.10)
    assert ok and counts["stable"] + counts["canary"] == SPLIT_REQUESTS, (
        f"canary served {counts['canary']} of {SPLIT_REQUESTS}; 10 % ± {bound:.0f} expected ({counts})"
    )
    gw.done.add("split")


def test_03_the_triton_model_header_routes_grpc_to_the_models_group(gw: Gateway) -> None:
    """gRPC inference with `triton-model: bert-base` reaches the text group's tritonserver; the same
    call without the header falls to the default gRPC route (the vision group), which does not
    serve bert-base and says so."""
    gw.needs("rewrite")
    client = grpc_client(gw)
    try:
        text, vision = gw.backend("triton-text"), gw.backend("triton-vision")
        before = served(text, "bert-base")
        for i in range(20):
            assert grpc_infer(client, "bert-base", float(i), header="bert-base") == 2.0 * i
        wait_served(text, "bert-base", before + 20, "header bert-base")
        vision_before = served(vision, "resnet50") + served(gw.backend("triton-vision-canary"), "resnet50")
        for i in range(20):
            assert grpc_infer(client, "resnet50", float(i), header="resnet50") == 2.0 * i
        wait_for(
            "20 resnet50 inferences counted by the vision group",
            lambda: (
                served(vision, "resnet50") + served(gw.backend("triton-vision-canary"), "resnet50")
                == vision_before + 20
            ),
            30,
            0.1,
        )
        from tritonclient.utils import InferenceServerException

        with pytest.raises(InferenceServerException, match=r"unknown model.*bert-base|bert-base.*(not found|unknown)"):
            grpc_infer(client, "bert-base", 1.0, header=None)
        wait_served(text, "bert-base", before + 20, "no header")
    finally:
        client.close()
    gw.done.add("grpc")


def _vision_loads(
    gw: Gateway, stop: threading.Event, max_requests: int, deadline_seconds: float
) -> list[tuple[str, LoadResult, Callable[[], LoadResult]]]:
    """HTTP and gRPC load on the vision group (``resnet50``), each bounded in count and time."""
    http_result, http_join = bounded_load(
        http_infer("resnet50"),
        lambda: HttpClient(gw),
        lambda c: c.close(),
        threads=2,
        max_requests=max_requests,
        deadline_seconds=deadline_seconds,
        stop=stop,
    )

    def send_grpc(client: Any, index: int) -> None:
        value = float(index % 7)
        answer = grpc_infer(client, "resnet50", value, header="resnet50")
        if answer != 2.0 * value:
            raise AssertionError(f"wrong answer {answer} for {value}")

    grpc_result, grpc_join = bounded_load(
        send_grpc,
        lambda: grpc_client(gw),
        lambda c: c.close(),
        threads=2,
        max_requests=max_requests,
        deadline_seconds=deadline_seconds,
        stop=stop,
    )
    return [("http", http_result, http_join), ("grpc", grpc_result, grpc_join)]


def _finish(
    loads: list[tuple[str, LoadResult, Callable[[], LoadResult]]], stop: threading.Event
) -> dict[str, LoadResult]:
    stop.set()
    return {name: join() for name, _, join in loads}


def test_04_a_weight_change_by_pulumi_up_shifts_live_traffic_without_a_failed_request(gw: Gateway) -> None:
    """`pulumi up` moving the canary from 10 % to 50 % while HTTP and gRPC clients keep sending:
    not one request fails, Envoy's route takes the new weights, and the next 1,000 requests split
    50/50 within the bound."""
    gw.needs("split")
    stop = threading.Event()
    loads = _vision_loads(gw, stop, max_requests=20_000, deadline_seconds=300)
    try:
        wait_for("load flowing before the change", lambda: all(r.ok >= 20 for _, r, _ in loads), 60)
        gw.cli.config_set("modelGroups[0].canary.trafficPercent.stable", "50")
        gw.cli.config_set("modelGroups[0].canary.trafficPercent.canary", "50")
        gw.cli.up(label="up (canary 50/50 under load)")
        wait_for(
            "Envoy to route vision-http and vision-grpc 50/50",
            lambda: all(
                route_weights(gw, name) == {"stable": 50, "canary": 50} for name in ("vision-http", "vision-grpc")
            ),
            60,
        )
        marks = {name: r.ok for name, r, _ in loads}
        wait_for("load flowing after the change", lambda: all(r.ok >= marks[n] + 20 for n, r, _ in loads), 60)
    finally:
        results = _finish(loads, stop)
    for name, result in results.items():
        print(f"{name}: {result.ok} requests, {len(result.failures)} failed, in {result.seconds:.0f} s")
        assert not result.failures, (
            f"{name}: {len(result.failures)} failed of {result.ok + len(result.failures)}: {result.failures[:5]}"
        )
    counts = split_counts(gw, SPLIT_REQUESTS)
    ok, bound = within(counts["canary"], SPLIT_REQUESTS, 0.50)
    assert ok, f"canary served {counts['canary']} of {SPLIT_REQUESTS}; 50 % ± {bound:.0f} expected"
    gw.done.add("weights")


def _rollout_under_load(gw: Gateway, image_tag: str) -> dict[str, LoadResult]:
    """`pulumi up` of ``triton.imageTag: image_tag`` while HTTP and gRPC clients send to the vision
    group. The new image's tritonservers are up and Ready before the pods that use them exist (the
    image pulled and the server started); the old image's are stopped once no pod uses them."""
    head = gw.cli.project / f"Pulumi.{STACK}.yaml"
    gw.cli.config_set("triton.imageTag", image_tag)
    start_backends(
        gw.backends, render_text(head.read_text(), gw.workdir), gw.storage, gw.install, gw.workdir / "triton"
    )
    old_pods = {p["metadata"]["name"] for p in triton_pods(gw.cluster)}
    stop = threading.Event()
    loads = _vision_loads(gw, stop, max_requests=40_000, deadline_seconds=480)
    try:
        wait_for("load flowing before the rollout", lambda: all(r.ok >= 20 for _, r, _ in loads), 60)
        gw.cli.up(label=f"up (image {image_tag} under load)")
        wait_rolled_out(gw.cluster, timeout=240)
        wait_for("every deleted pod's preStop window over", lambda: gw.pods.check() or not gw.pods.retired, 120)
        wait_for("Envoy to hold exactly the new pods", lambda: _endpoints_match(gw), 60)
        marks = {name: r.ok for name, r, _ in loads}
        wait_for("load flowing after the rollout", lambda: all(r.ok >= marks[n] + 20 for n, r, _ in loads), 60)
    finally:
        results = _finish(loads, stop)
    gw.pods.check()
    assert not gw.pods.takeovers, f"a deleted pod's IP went to a new pod while it served: {gw.pods.takeovers}"
    pods = triton_pods(gw.cluster)
    assert not old_pods & {p["metadata"]["name"] for p in pods}, "every pod was replaced"
    assert {_backend_key(p)[1].rsplit(":", 1)[1] for p in pods} == {image_tag}
    for (deployment, image), running in list(gw.backends.items()):
        if not image.endswith(":" + image_tag):
            running.server.stop()  # the old image's servers: every pod using them is gone
            del gw.backends[(deployment, image)]
    for name, result in results.items():
        print(
            f"rollout to {image_tag}, {name}: {result.ok} requests, {len(result.failures)} failed, in {result.seconds:.0f} s"
            + (f"; failures: {sorted(set(result.failures))[:3]}" if result.failures else "")
        )
    return results


def _assert_no_failures(results: dict[str, LoadResult]) -> None:
    for name, result in results.items():
        assert not result.failures, (
            f"{name}: {len(result.failures)} failed of {result.ok + len(result.failures)}: {result.failures[:5]}"
        )


def test_05_an_image_rollout_behind_the_gateway_loses_no_request(gw: Gateway) -> None:
    """With the canary dark again (stable 100 / canary 0), `pulumi up` with a new Triton image rolls
    every pod (maxSurge 0 / maxUnavailable 1) while HTTP and gRPC clients keep sending to the
    vision group (two stable replicas): not one request fails. Each deleted pod keeps serving for
    its rendered preStop sleep, then its connections are cut; afterwards only the new image's
    servers take traffic."""
    gw.needs("rewrite")
    gw.cli.config_set("modelGroups[0].canary.trafficPercent.stable", "100")
    gw.cli.config_set("modelGroups[0].canary.trafficPercent.canary", "0")
    gw.cli.up(label="up (canary dark)")
    wait_for(
        "Envoy to route vision-http to stable only", lambda: route_weights(gw, "vision-http") == {"stable": 100}, 60
    )
    _assert_no_failures(_rollout_under_load(gw, OTHER_IMAGE_TAG))
    vision = [(key, r) for key, r in gw.backends.items() if key[0].startswith("triton-vision")]
    before = {key: served(r, "resnet50") for key, r in vision}
    result = run_http(gw, "resnet50", 200)
    assert not result.failures and result.ok == 200, result.failures[:5]
    wait_for(
        "200 resnet50 inferences counted by the new image's servers",
        lambda: sum(served(r, "resnet50") - before[key] for key, r in vision) == 200,
        30,
        0.2,
    )
    gw.done.add("rollout")


@pytest.mark.xfail(
    strict=True,
    reason=(
        "known defect: a canary Deployment of one replica rolls with maxSurge 0 / maxUnavailable 1, so its "
        "subset has no endpoint between the old pod's deletion and the new pod's readiness, and the share "
        "of traffic weighted to it gets 503 no healthy upstream"
    ),
)
def test_06_an_image_rollout_with_a_weighted_single_replica_canary_loses_no_request(gw: Gateway) -> None:
    """The same rollout (back to the pinned image) with the canary taking 50 %: not one request may
    fail. The canary Deployment has one replica; while it is replaced its subset is empty."""
    gw.needs("rollout")
    gw.cli.config_set("modelGroups[0].canary.trafficPercent.stable", "50")
    gw.cli.config_set("modelGroups[0].canary.trafficPercent.canary", "50")
    gw.cli.up(label="up (canary 50/50)")
    wait_for(
        "Envoy to route vision-http 50/50", lambda: route_weights(gw, "vision-http") == {"stable": 50, "canary": 50}, 60
    )
    _assert_no_failures(_rollout_under_load(gw, versions.TRITON_IMAGE_TAG))


JWT_ISSUER = "https://issuer.e2e.example.com/realms/triton"
JWT_AUDIENCE = "triton-e2e"
JWT_FILTER = "envoy.filters.http.jwt_authn"


def _jwt_providers(gw: Gateway) -> list[dict[str, Any]]:
    """The JWT providers of the gateway's listeners, as Envoy holds them."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("name") == JWT_FILTER:
                found.extend(node["typed_config"].get("providers", {}).values())
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(gw.envoy.config_dump("dynamic_listeners"))
    return found


def _holds_our_keys(gw: Gateway) -> bool:
    providers = [p for p in _jwt_providers(gw) if p.get("issuer") == JWT_ISSUER]
    return bool(providers) and all(
        f'"kid":"{gw.issuer_key.kid}"' in p.get("local_jwks", {}).get("inline_string", "").replace(" ", "")
        for p in providers
    )


def test_07_with_mesh_jwt_the_gateway_refuses_requests_without_a_valid_token(gw: Gateway) -> None:
    """`pulumi up` with `mesh.jwt` (JWKS on https://127.0.0.1, fetched and inlined by istiod): through
    the gateway, HTTP and gRPC without a token are refused by the RBAC filter (403 / PERMISSION_DENIED),
    a forged or expired token by the JWT filter (401 / UNAUTHENTICATED), and a valid RS256 token reaches
    Triton, its Authorization header forwarded to the pod (which checks it again, the audience included:
    a token of our issuer for another audience passes the gateway, so other applications of the issuer
    keep working on a shared gateway; the pods' check does not run here).
    Token-less requests to other hosts and unrouted paths of a shared gateway are not refused; a token
    of an issuer the gateway does not know is, on every host."""
    gw.needs("rewrite", "grpc")
    gw.cli.config_set("mesh.jwt.issuer", JWT_ISSUER)
    gw.cli.config_set("mesh.jwt.jwksUri", gw.jwks.url)
    gw.cli.config_set("mesh.jwt.audiences[0]", JWT_AUDIENCE)
    gw.cli.up(label="up (mesh.jwt)")
    kinds = {
        (o["kind"], o["metadata"]["name"])
        for kind in ("requestauthentications.security.istio.io", "authorizationpolicies.security.istio.io")
        for o in gw.cluster.items(kind, "-n", GATEWAY_NAMESPACE)
    }
    assert kinds == {("RequestAuthentication", f"{NAMESPACE}-jwt"), ("AuthorizationPolicy", f"{NAMESPACE}-require-jwt")}
    wait_for("Envoy to hold the issuer's keys in its JWT filter", lambda: _holds_our_keys(gw), 120)
    assert gw.jwks.fetches >= 1, "istiod fetched the JWKS"

    key = gw.issuer_key
    valid = key.token(JWT_ISSUER, JWT_AUDIENCE)
    forged = SigningKey(key.kid).token(JWT_ISSUER, JWT_AUDIENCE)  # same kid, another key
    expired = key.token(JWT_ISSUER, JWT_AUDIENCE, lifetime_seconds=60, issued_seconds_ago=3600)
    other_audience = key.token(JWT_ISSUER, "someone-else")
    other_issuer = SigningKey("other").token("https://other.example.com", JWT_AUDIENCE)
    infer = "/triton/v2/models/resnet50/infer"

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    client = HttpClient(gw)
    try:
        wait_for(
            "the gateway to refuse a token-less request",
            lambda: client.request("POST", infer, infer_body(1.0))[0] == 403,
            60,
            0.5,
        )
        status, body = client.request("POST", infer, infer_body(1.0))
        assert (status, body) == (403, b"RBAC: access denied")
        # Envoy's JWT filter answers a token it cannot verify with 401.
        for name, token, expected in (
            ("forged", forged, (401, b"Jwt verification fails")),
            ("expired", expired, (401, b"Jwt is expired")),
        ):
            status, body = client.request("POST", infer, infer_body(1.0), headers=bearer(token))
            assert (status, body) == expected, (name, status, body)
        # The audience is the pods' to check: the gateway lets a valid token of our issuer through.
        status, body = client.request("POST", infer, infer_body(1.0), headers=bearer(other_audience))
        assert status == 200, ("other audience", status, body[:300])
        # A token of an issuer no RequestAuthentication at the gateway names is refused on every host:
        # istiod's rule lets only a missing token through. On a shared gateway, another application's
        # issuer needs a RequestAuthentication there too (the README says so).
        for host in (gw.host, "shop.example.com"):
            client.host = host
            status, body = client.request("POST", infer, infer_body(1.0), headers=bearer(other_issuer))
            assert (status, body) == (401, b"Jwt issuer is not configured"), (host, status, body)
        # The hosts are matched with any port, as the gateway routes them.
        client.host = f"{gw.host}:80"
        assert client.request("POST", infer, infer_body(1.0))[0] == 403
        # The shared gateway: another host, and a path Triton does not own, are not refused (no route: 404).
        client.host = "shop.example.com"
        assert client.request("POST", infer, infer_body(1.0))[0] == 404
        client.host = gw.host
        assert client.request("GET", "/v2/models/resnet50")[0] == 404

        seen: list[bytes] = []
        gw.pods.tap = lambda port, data: seen.append(data) if port == "http" else None
        try:
            status, body = client.request("POST", infer, infer_body(2.5), headers=bearer(valid))
            assert status == 200, (status, body[:300])
            assert json.loads(body)["outputs"][0]["data"] == [5.0]
            wait_for(
                "the token in what the gateway sent the pod",
                lambda: f"authorization: Bearer {valid}".lower() in b"".join(seen).decode("latin-1").lower(),
                10,
                0.1,
            )
        finally:
            gw.pods.tap = None
    finally:
        client.close()
    assert all(p.get("forward") is True for p in _jwt_providers(gw)), _jwt_providers(gw)

    from tritonclient.utils import InferenceServerException

    grpc = grpc_client(gw)
    try:
        with pytest.raises(InferenceServerException, match=r"PERMISSION_DENIED.*RBAC: access denied"):
            grpc_infer(grpc, "resnet50", 1.0, header="resnet50")
        with pytest.raises(InferenceServerException, match=r"UNAUTHENTICATED.*Jwt verification fails"):
            grpc_infer(grpc, "resnet50", 1.0, header="resnet50", token=forged)
        with pytest.raises(InferenceServerException, match=r"UNAUTHENTICATED.*Jwt is expired"):
            grpc_infer(grpc, "resnet50", 1.0, header="resnet50", token=expired)
        for i in range(5):
            assert grpc_infer(grpc, "resnet50", float(i), header="resnet50", token=valid) == 2.0 * i
    finally:
        grpc.close()
