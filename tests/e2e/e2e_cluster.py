"""A real Kubernetes control plane on 127.0.0.1, with kwok simulating the nodes.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are the real programs (built by
``.ci/toolchain/build``); only the kubelets are simulated: kwok marks nodes Ready, keeps their
leases, and moves pods bound to its nodes to Running/Ready without starting containers. Admission
(Pod Security ``restricted`` by default, RBAC, CRD schema validation), scheduling (resources,
taints, node selectors), Deployments, ReplicaSets, PodDisruptionBudgets, evictions and pod
garbage collection are Kubernetes' own.

Every listener binds 127.0.0.1 on a free port; pod and node addresses kwok writes into status are
data only (no kube-proxy, no CNI: nothing ever connects to them).

``LocalCluster(..., aggregation=True)`` also turns on the API aggregation layer's front proxy (a
front-proxy CA and the client certificate kube-apiserver presents to extension API servers), so
an APIService can send a group such as ``external.metrics.k8s.io`` to a server on 127.0.0.1
through a Service of type ExternalName (``externalName: localhost``).
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2e_toolchain import Toolchain
from support import certs
from support.ports import free_ports

HERE = Path(__file__).resolve().parent
KWOK_STAGES = HERE / "kwok-stages.yaml"
#: Annotation kwok's ``--manage-nodes-with-annotation-selector`` selects: nodes it simulates.
KWOK_NODE_ANNOTATION = {"kwok.x-k8s.io/node": "fake"}
SERVICE_CIDR = "10.96.0.0/16"
#: Pod IPs kwok writes into pod status (never routed; Endpoints reject loopback addresses).
POD_CIDR = "10.244.0.0/16"
NODE_IP = "10.240.0.1"
#: The HorizontalPodAutoscaler's sync period: kube-controller-manager's default, and what GKE and EKS
#: run (neither lets a user change it), so HPA timings measured here are the managed clusters'.
HPA_SYNC_PERIOD_SECONDS = 15
#: The common name kube-apiserver's front-proxy client certificate carries; extension API servers
#: accept forwarded requests only from the names in ``--requestheader-allowed-names``.
FRONT_PROXY_CLIENT = "front-proxy-client"

ADMISSION_CONFIG = """\
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    # Every namespace enforces `restricted` unless it says otherwise; only kube-system is exempt.
    defaults:
      enforce: restricted
      enforce-version: latest
      audit: restricted
      audit-version: latest
      warn: restricted
      warn-version: latest
    exemptions:
      usernames: []
      runtimeClasses: []
      namespaces: [kube-system]
"""


class ClusterError(Exception):
    pass


def wait_for(what: str, check: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as error:  # noqa: BLE001 - keep polling, report the last error
            last = error
        else:
            if last:
                return last
        time.sleep(interval)
    raise ClusterError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def stop_processes(processes: list[Process]) -> None:
    """SIGTERM to each, last started first; SIGKILL to any still running 15 s later. Empties the list."""
    for process in reversed(processes):
        if process.popen.poll() is None:
            process.popen.send_signal(signal.SIGTERM)
    for process in reversed(processes):
        try:
            process.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait(timeout=5)
    processes.clear()


@dataclass
class LocalCluster:
    toolchain: Toolchain
    workdir: Path
    processes: list[Process] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)
    token: str = ""
    #: Serve the aggregation layer (front-proxy flags); off keeps the plain control plane.
    aggregation: bool = False

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "admin.kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    @property
    def ca_file(self) -> Path:
        # kube-apiserver writes a self-signed CA and a serving certificate it signed here (--cert-dir).
        return self.workdir / "pki" / "apiserver.crt"

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        names = ("etcd-client", "etcd-peer", "apiserver", "controller-manager", "scheduler")
        self.ports.update(zip(names, free_ports(len(names)), strict=True))
        self._keys()
        try:
            self._start_etcd()
            self._start_apiserver()
            self._write_kubeconfigs()
            self._start_controller_manager()
            self._start_scheduler()
            self._start_kwok()
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        stop_processes(self.processes)

    def _spawn(self, name: str, args: list[str]) -> Process:
        log = self.workdir / "logs" / f"{name}.log"
        handle = log.open("wb")
        popen = subprocess.Popen(
            args,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
            start_new_session=True,
        )
        handle.close()
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def _alive(self, process: Process) -> None:
        if process.popen.poll() is not None:
            raise ClusterError(f"{process.name} exited with {process.popen.returncode}:\n{process.tail()}")

    def _keys(self) -> None:
        pki = self.workdir / "pki"
        pki.mkdir(exist_ok=True)
        # The service-account signing key pair (kube-apiserver signs tokens, controllers use them).
        certs.rsa_key_pair(pki / "sa.key", pki / "sa.pub")
        self.token = os.urandom(24).hex()
        users = {
            self.token: ("admin", "system:masters"),
            # Components authenticate as themselves, so RBAC's bootstrap roles are what they can do.
            f"{self.token}-kcm": ("system:kube-controller-manager", ""),
            f"{self.token}-scheduler": ("system:kube-scheduler", ""),
            # kwok plays every kubelet: it writes node and pod status, leases and deletions.
            f"{self.token}-kwok": ("kwok", "system:masters"),
        }
        lines = [
            f'{token},{user},{user},"{groups}"' if groups else f"{token},{user},{user}"
            for token, (user, groups) in users.items()
        ]
        (pki / "tokens.csv").write_text("\n".join(lines) + "\n")
        (self.workdir / "admission.yaml").write_text(ADMISSION_CONFIG)
        if self.aggregation:
            self._front_proxy_keys(pki)

    @property
    def front_proxy_ca_file(self) -> Path:
        return self.workdir / "pki" / "front-proxy-ca.crt"

    def _front_proxy_keys(self, pki: Path) -> None:
        """The front-proxy CA and the client certificate the aggregator presents (as kubeadm makes them)."""

        certs.authority(pki / "front-proxy-ca.key", self.front_proxy_ca_file, "/CN=front-proxy-ca", days=2)
        certs.issue(
            pki / "front-proxy-client.key",
            pki / "front-proxy-client.crt",
            f"/CN={FRONT_PROXY_CLIENT}",
            ca_key=pki / "front-proxy-ca.key",
            ca_cert=self.front_proxy_ca_file,
            extensions="keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
            days=2,
        )

    def _aggregation_flags(self) -> list[str]:
        if not self.aggregation:
            return []
        pki = self.workdir / "pki"
        return [
            f"--requestheader-client-ca-file={self.front_proxy_ca_file}",
            f"--requestheader-allowed-names={FRONT_PROXY_CLIENT}",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-username-headers=X-Remote-User",
            f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
            f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
            # Off (the default): an APIService's Service is resolved as a Service, so an ExternalName
            # Service reaches a server on loopback; routing to endpoints would need pod IPs that answer.
            "--enable-aggregator-routing=false",
        ]

    def _start_etcd(self) -> None:
        client, peer = self.ports["etcd-client"], self.ports["etcd-peer"]
        process = self._spawn(
            "etcd",
            [
                self.toolchain["etcd"],
                "--name=e2e",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{client}",
                f"--advertise-client-urls=http://127.0.0.1:{client}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=e2e=http://127.0.0.1:{peer}",
                "--listen-metrics-urls=",
                # A throw-away cluster: no fsync keeps 2 cores from waiting on the disk.
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )

        def healthy() -> bool:
            self._alive(process)
            with urllib.request.urlopen(f"http://127.0.0.1:{client}/health", timeout=2) as response:
                return json.load(response).get("health") == "true"

        wait_for("etcd /health", healthy, 60)

    def _start_apiserver(self) -> None:
        pki = self.workdir / "pki"
        port = self.ports["apiserver"]
        process = self._spawn(
            "kube-apiserver",
            [
                self.toolchain["kube-apiserver"],
                f"--etcd-servers=http://127.0.0.1:{self.ports['etcd-client']}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={pki}",  # no --tls-cert-file: it generates a self-signed CA and serving cert
                f"--token-auth-file={pki / 'tokens.csv'}",
                "--authorization-mode=Node,RBAC",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                f"--admission-control-config-file={self.workdir / 'admission.yaml'}",
                "--allow-privileged=false",
                # The `kubernetes` Service's endpoint would be 127.0.0.1, which Endpoints reject.
                "--endpoint-reconciler-type=none",
                *self._aggregation_flags(),
                "--profiling=false",
                "--v=1",
            ],
        )

        def ready() -> bool:
            self._alive(process)
            if not self.ca_file.exists():
                return False
            return self._get("/readyz", port) == "ok"

        wait_for("kube-apiserver /readyz", ready, 120)

    def _get(self, path: str, port: int, token: str | None = None, verify: bool = True) -> str:
        context = (
            ssl.create_default_context(cafile=str(self.ca_file)) if verify else ssl._create_unverified_context()
        )  # unverified only for the loopback health probe of a self-signed component
        request = urllib.request.Request(f"https://127.0.0.1:{port}{path}")
        request.add_header("Authorization", f"Bearer {token or self.token}")
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return response.read().decode()

    def _kubeconfig(self, path: Path, token: str, user: str) -> Path:
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {"name": "e2e", "cluster": {"server": self.server, "certificate-authority": str(self.ca_file)}}
                    ],
                    "users": [{"name": user, "user": {"token": token}}],
                    "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": user}}],
                    "current-context": "e2e",
                },
                indent=2,
            )
        )
        path.chmod(0o600)
        return path

    def _write_kubeconfigs(self) -> None:
        self._kubeconfig(self.kubeconfig, self.token, "admin")
        self._kubeconfig(self.workdir / "kcm.kubeconfig", f"{self.token}-kcm", "kcm")
        self._kubeconfig(self.workdir / "scheduler.kubeconfig", f"{self.token}-scheduler", "scheduler")
        self._kubeconfig(self.workdir / "kwok.kubeconfig", f"{self.token}-kwok", "kwok")

    def _start_controller_manager(self) -> None:
        pki = self.workdir / "pki"
        port = self.ports["controller-manager"]
        process = self._spawn(
            "kube-controller-manager",
            [
                self.toolchain["kube-controller-manager"],
                f"--kubeconfig={self.workdir / 'kcm.kubeconfig'}",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={self.workdir / 'kcm-certs'}",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={self.ca_file}",
                "--use-service-account-credentials=true",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                f"--horizontal-pod-autoscaler-sync-period={HPA_SYNC_PERIOD_SECONDS}s",
                "--leader-elect=false",
                "--profiling=false",
                "--v=1",
            ],
        )

        def serving_accounts() -> bool:
            self._alive(process)
            # The service-account controller creates `default` in every namespace.
            result = self.kubectl("get", "serviceaccount", "default", "-n", "default", check=False)
            return result.returncode == 0

        wait_for("kube-controller-manager (the default ServiceAccount)", serving_accounts, 90)

    def _start_scheduler(self) -> None:
        port = self.ports["scheduler"]
        process = self._spawn(
            "kube-scheduler",
            [
                self.toolchain["kube-scheduler"],
                f"--kubeconfig={self.workdir / 'scheduler.kubeconfig'}",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={self.workdir / 'scheduler-certs'}",
                "--leader-elect=false",
                "--profiling=false",
                "--v=1",
            ],
        )

        def healthy() -> bool:
            self._alive(process)
            return self._get("/healthz", port, verify=False) == "ok"

        wait_for("kube-scheduler /healthz", healthy, 60)

    def _start_kwok(self) -> None:
        selector = ",".join(f"{k}={v}" for k, v in KWOK_NODE_ANNOTATION.items())
        process = self._spawn(
            "kwok",
            [
                self.toolchain["kwok"],
                f"--kubeconfig={self.workdir / 'kwok.kubeconfig'}",
                f"--config={KWOK_STAGES}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={selector}",
                f"--cidr={POD_CIDR}",
                f"--node-ip={NODE_IP}",
                "--node-lease-duration-seconds=40",
            ],
        )
        time.sleep(1)
        self._alive(process)
        self._kwok = process

    # ---------------------------------------------------------------- kubectl

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.toolchain["kubectl"], f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr.strip()}")
        return result

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def items(self, *args: str) -> list[dict[str, Any]]:
        return list(self.get(*args)["items"])

    def apply_objects(self, objects: list[dict[str, Any]], *extra: str) -> str:
        document = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
        return self.kubectl("apply", "--server-side", "--field-manager=e2e", "-f", "-", *extra, input=document).stdout

    # ---------------------------------------------------------------- nodes

    def add_node(
        self, name: str, labels: dict[str, str], taints: list[dict[str, str]], allocatable: dict[str, str]
    ) -> None:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {**KWOK_NODE_ANNOTATION, "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "type": "kwok",
                    **labels,
                },
            },
            "spec": {"taints": taints},
            "status": {"allocatable": allocatable, "capacity": allocatable},
        }
        self.kubectl("create", "-f", "-", input=json.dumps(node))

    def wait_nodes_ready(self, names: list[str], timeout: float = 60) -> None:
        def ready() -> bool:
            self._alive(self._kwok)
            nodes = {n["metadata"]["name"]: n for n in self.items("nodes")}
            return all(
                name in nodes
                and any(
                    c["type"] == "Ready" and c["status"] == "True" for c in nodes[name]["status"].get("conditions", [])
                )
                for name in names
            )

        wait_for(f"nodes {', '.join(names)} Ready (kwok)", ready, timeout)

    def logs_tail(self) -> str:
        return "\n\n".join(f"== {p.name} ({p.log})\n{p.tail(10)}" for p in self.processes)
