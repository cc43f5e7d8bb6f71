"""KEDA's operator and metrics adapter, run out of cluster against a ``LocalCluster``.

The real programs (``keda-operator``, ``keda-adapter``, built from ``github.com/kedacore/keda/v2`` by
``.ci/toolchain/build``) with KEDA's own CRDs (``config/crd/bases`` of the same module, labelled
with the version as KEDA's release manifests and chart label them). What a KEDA install would do
in the cluster is done here by hand, on 127.0.0.1:

- the ``kedaorg-certs`` Secret its cert rotation would create is a folder of files (``ca.crt``,
  ``tls.crt``, ``tls.key``) made with openssl; cert rotation and webhook/APIService patching are off;
- the operator's metrics gRPC service listens on 127.0.0.1 and the adapter dials it there;
- the ``v1beta1.external.metrics.k8s.io`` APIService names a Service of type ExternalName
  (``externalName: localhost``) and the adapter's port; kube-apiserver's aggregator resolves it
  to ``https://localhost:<port>`` and checks the adapter's certificate against the APIService's
  ``caBundle`` (the cluster must be started with ``aggregation=True``);
- both programs use the admin kubeconfig (KEDA's own RBAC is not what this proves).

Not loopback-only, and cannot be: the adapter's own ``/metrics`` listener binds ``:<port>`` on
every interface (KEDA has no flag for its address); it is started on port 0 (a free port the
kernel picks) and serves only KEDA's process metrics.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2e_cluster import ClusterError, LocalCluster, Process, free_ports, stop_processes, wait_for
from e2e_toolchain import Toolchain
from support import certs

NAMESPACE = "keda"
ADAPTER_SERVICE = "keda-metrics-apiserver"
OPERATOR_SERVICE = "keda-operator"
API_SERVICE = "v1beta1.external.metrics.k8s.io"
EXTERNAL_METRICS = "/apis/external.metrics.k8s.io/v1beta1"
#: The label KEDA's release manifests and Helm chart put on its CRDs (what preview's check reads).
VERSION_LABEL = "app.kubernetes.io/version"


def write_certs(where: Path) -> Path:
    """KEDA's ``kedaorg-certs``: one CA, one key pair both programs serve and dial with (mutual TLS)."""
    where.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = where / "ca.key", where / "ca.crt"
    certs.authority(ca_key, ca_cert, "/O=KEDAORG/CN=KEDA", days=2)
    names = [
        # The aggregator checks the adapter's certificate for <service>.<namespace>.svc.
        f"DNS:{ADAPTER_SERVICE}.{NAMESPACE}.svc",
        f"DNS:{ADAPTER_SERVICE}.{NAMESPACE}.svc.cluster.local",
        f"DNS:{OPERATOR_SERVICE}.{NAMESPACE}.svc.cluster.local",
        "DNS:localhost",
        "IP:127.0.0.1",
    ]
    certs.issue(
        where / "tls.key",
        where / "tls.crt",
        "/O=KEDAORG/CN=keda",
        ca_key=ca_key,
        ca_cert=ca_cert,
        extensions=(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
            f"extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName={','.join(names)}\n"
        ),
        days=2,
    )
    return where


def crds(toolchain: Toolchain) -> list[dict[str, Any]]:
    """KEDA's CRDs from its module, labelled with the built version as its release manifests are."""
    import yaml

    version = toolchain.versions["KEDA_VERSION"].removeprefix("v")
    found = []
    for path in sorted((toolchain.bin / "keda-crds").glob("*.yaml")):
        for document in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader):
            if document and document.get("kind") == "CustomResourceDefinition":
                document["metadata"].setdefault("labels", {})[VERSION_LABEL] = version
                found.append(document)
    if not found:
        raise ClusterError(f"no CRD in {toolchain.bin / 'keda-crds'}; rebuild with `bash .ci/toolchain/build`")
    return found


@dataclass
class Keda:
    """The operator and the adapter, started against ``cluster``; ``stop()`` ends both."""

    cluster: LocalCluster
    toolchain: Toolchain
    workdir: Path
    ports: dict[str, int] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)

    def start(self, timeout: float = 180) -> None:
        if not self.cluster.aggregation:
            raise ClusterError(
                "KEDA's adapter needs the aggregation layer: start the LocalCluster with aggregation=True"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        certs = write_certs(self.workdir / "certs")
        names = ("grpc", "health", "metrics", "adapter")
        self.ports.update(zip(names, free_ports(len(names)), strict=True))
        self.cluster.apply_objects(crds(self.toolchain))

        def established() -> bool:
            crd = self.cluster.get("crd", "scaledobjects.keda.sh")
            return any(
                c["type"] == "Established" and c["status"] == "True"
                for c in crd.get("status", {}).get("conditions", [])
            )

        wait_for("KEDA's ScaledObject CRD Established", established, 60)
        self.cluster.apply_objects(self._objects(certs))
        try:
            self._spawn(
                "keda-operator",
                [
                    self.toolchain["keda-operator"],
                    f"--kubeconfig={self.cluster.kubeconfig}",
                    "--leader-elect=false",
                    f"--cert-dir={certs}",
                    "--enable-cert-rotation=false",
                    "--enable-webhook-patching=false",
                    "--enable-apiservice-patching=false",
                    f"--metrics-bind-address=127.0.0.1:{self.ports['metrics']}",
                    f"--health-probe-bind-address=127.0.0.1:{self.ports['health']}",
                    f"--metrics-service-bind-address=127.0.0.1:{self.ports['grpc']}",
                    f"--ca-dir={certs}",
                    "--zap-log-level=info",
                    "--zap-encoder=console",
                ],
            )
            kubeconfig = str(self.cluster.kubeconfig)
            self._spawn(
                "keda-adapter",
                [
                    self.toolchain["keda-adapter"],
                    f"--kubeconfig={kubeconfig}",
                    f"--lister-kubeconfig={kubeconfig}",
                    f"--authentication-kubeconfig={kubeconfig}",
                    f"--authorization-kubeconfig={kubeconfig}",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={self.ports['adapter']}",
                    f"--cert-dir={certs}",
                    f"--tls-cert-file={certs / 'tls.crt'}",
                    f"--tls-private-key-file={certs / 'tls.key'}",
                    f"--metrics-service-address=127.0.0.1:{self.ports['grpc']}",
                    "--port=0",
                    "--zap-log-level=info",
                    "--zap-encoder=console",
                ],
            )
            wait_for(
                f"APIService {API_SERVICE} Available (adapter log {self.processes[-1].log})",
                self._available,
                timeout,
                interval=1,
            )
        except Exception:
            self.stop()
            raise

    def _spawn(self, name: str, args: list[str]) -> None:
        log = self.workdir / f"{name}.log"
        handle = log.open("wb")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.workdir),
            "KUBECONFIG": str(self.cluster.kubeconfig),
            # What KEDA's Deployments set: watch every namespace, live in `keda`.
            "WATCH_NAMESPACE": "",
            "POD_NAMESPACE": NAMESPACE,
            "KEDA_CLUSTER_OBJECT_NAMESPACE": NAMESPACE,
        }
        popen = subprocess.Popen(
            args,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
            env=env,
            start_new_session=True,
        )
        handle.close()
        self.processes.append(Process(name, popen, log))

    def _objects(self, certs: Path) -> list[dict[str, Any]]:
        ca_bundle = base64.b64encode((certs / "ca.crt").read_bytes()).decode()
        port = self.ports["adapter"]
        return [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": ADAPTER_SERVICE, "namespace": NAMESPACE},
                "spec": {
                    "type": "ExternalName",
                    "externalName": "localhost",
                    "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
                },
            },
            {
                "apiVersion": "apiregistration.k8s.io/v1",
                "kind": "APIService",
                "metadata": {"name": API_SERVICE},
                "spec": {
                    "service": {"name": ADAPTER_SERVICE, "namespace": NAMESPACE, "port": port},
                    "group": "external.metrics.k8s.io",
                    "version": "v1beta1",
                    "caBundle": ca_bundle,
                    "groupPriorityMinimum": 100,
                    "versionPriority": 100,
                },
            },
        ]

    def _available(self) -> bool:
        for process in self.processes:
            if process.popen.poll() is not None:
                raise ClusterError(f"{process.name} exited with {process.popen.returncode}:\n{process.tail(40)}")
        service = self.cluster.get("apiservice", API_SERVICE)
        conditions = {c["type"]: c for c in service.get("status", {}).get("conditions", [])}
        if conditions.get("Available", {}).get("status") != "True":
            return False
        return self.cluster.kubectl("get", "--raw", EXTERNAL_METRICS, check=False).returncode == 0

    def external_metric(self, namespace: str, metric: str, scaled_object: str) -> list[dict[str, Any]]:
        """What the HPA reads: the adapter's value for one ScaledObject's metric, through the aggregator."""
        path = (
            f"{EXTERNAL_METRICS}/namespaces/{namespace}/{metric}"
            f"?labelSelector=scaledobject.keda.sh%2Fname%3D{scaled_object}"
        )
        return list(json.loads(self.cluster.kubectl("get", "--raw", path).stdout)["items"])

    def alive(self) -> bool:
        return all(p.popen.poll() is None for p in self.processes)

    def logs_tail(self, lines: int = 20) -> str:
        return "\n\n".join(f"== {p.name} ({p.log})\n{p.tail(lines)}" for p in self.processes)

    def stop(self) -> None:
        stop_processes(self.processes)
