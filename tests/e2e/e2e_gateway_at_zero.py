"""A stand-in for the Istio ingress gateway's request metrics while a model group has no pods.

Scale to zero wakes a group on ``istio_requests_total`` as the ingress gateway reports it for the
group's Service. The real gateway cannot produce that series here: the Envoy the e2e suite runs is
upstream Envoy, which lacks istio-proxy's stats filter (the one that writes Istio's standard
metrics). So this stands for the gateway at the one moment the wake-up needs, the group at zero
endpoints, and does nothing else:

- a traffic listener on 127.0.0.1 answers every request ``503 no healthy upstream``, as Envoy does
  when the route's cluster has no endpoints (response flag ``UH``);
- ``/stats/prometheus`` on a second listener (the gateway pod's ``http-envoy-prom`` port) counts
  those requests in ``istio_requests_total`` with Istio's standard labels as the gateway reports
  them (``reporter="source"``, the gateway as source workload, the destination Service, response
  code and flags). The series appears with the first request, as Envoy creates a stat on first use.

The labels the wake-up query selects are given by the caller (read from the rendered query); the
others are Istio's standard label set with the values a gateway writes when no upstream host was
picked (destination workload labels ``unknown``).
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from e2e_cluster import ClusterError

LOOPBACK = "127.0.0.1"
METRIC = "istio_requests_total"
#: Istio's standard labels on istio_requests_total (istio.io/latest/docs/reference/config/metrics).
STANDARD_LABELS = (
    "reporter",
    "source_workload",
    "source_workload_namespace",
    "source_principal",
    "source_app",
    "source_version",
    "source_cluster",
    "source_canonical_service",
    "source_canonical_revision",
    "destination_workload",
    "destination_workload_namespace",
    "destination_principal",
    "destination_app",
    "destination_version",
    "destination_service",
    "destination_service_name",
    "destination_service_namespace",
    "destination_cluster",
    "destination_canonical_service",
    "destination_canonical_revision",
    "request_protocol",
    "response_code",
    "grpc_response_status",
    "response_flags",
    "connection_security_policy",
)
#: Envoy's local reply when the cluster has no healthy host.
NO_HEALTHY_UPSTREAM = b"no healthy upstream"


def labels_at_zero(selected: Mapping[str, str]) -> dict[str, str]:
    """The gateway's labels for one request to a Service with no endpoints; ``selected`` wins."""
    unknown = sorted(set(selected) - set(STANDARD_LABELS))
    if unknown:
        raise ClusterError(
            f"the wake-up query selects {unknown}, which are not Istio standard labels: no gateway reports them"
        )
    if selected.get("reporter", "source") != "source":
        raise ClusterError(
            f"the wake-up query selects reporter={selected['reporter']!r}; the ingress gateway reports as source"
        )
    workload = selected["source_workload"]
    gateway_namespace = selected["source_workload_namespace"]
    service = selected["destination_service_name"]
    namespace = selected["destination_service_namespace"]
    labels = {
        "reporter": "source",
        "source_workload": workload,
        "source_workload_namespace": gateway_namespace,
        "source_principal": f"spiffe://cluster.local/ns/{gateway_namespace}/sa/{workload}",
        "source_app": workload,
        "source_version": "unknown",
        "source_cluster": "Kubernetes",
        "source_canonical_service": workload,
        "source_canonical_revision": "latest",
        # No upstream host was picked: nothing is known about the destination workload.
        "destination_workload": "unknown",
        "destination_workload_namespace": "unknown",
        "destination_principal": "unknown",
        "destination_app": "unknown",
        "destination_version": "unknown",
        # The route's cluster is the Service's: its name and namespace come from the cluster metadata.
        "destination_service": f"{service}.{namespace}.svc.cluster.local",
        "destination_service_name": service,
        "destination_service_namespace": namespace,
        "destination_cluster": "unknown",
        "destination_canonical_service": "unknown",
        "destination_canonical_revision": "latest",
        "request_protocol": "http",
        "response_code": "503",
        "grpc_response_status": "",
        "response_flags": "UH",
        "connection_security_policy": "unknown",
    }
    return {**labels, **selected}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class GatewayAtZero:
    """The two listeners; ``stop()`` closes both."""

    def __init__(self, selected: Mapping[str, str]) -> None:
        self.labels = labels_at_zero(selected)
        self.count = 0
        self._lock = threading.Lock()
        gateway = self

        class Traffic(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with gateway._lock:
                    gateway.count += 1
                self.send_response(503)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(NO_HEALTHY_UPSTREAM)))
                self.end_headers()
                self.wfile.write(NO_HEALTHY_UPSTREAM)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        class Stats(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/stats/prometheus":
                    self.send_error(404)
                    return
                body = gateway.exposition().encode()
                self.send_response(200)
                self.send_header("content-type", "text/plain; version=0.0.4")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._servers = [ThreadingHTTPServer((LOOPBACK, 0), Traffic), ThreadingHTTPServer((LOOPBACK, 0), Stats)]
        for server in self._servers:
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
        self.url = f"http://{LOOPBACK}:{self._servers[0].server_address[1]}"
        self.stats_address = f"{LOOPBACK}:{self._servers[1].server_address[1]}"

    def exposition(self) -> str:
        with self._lock:
            count = self.count
        lines = [f"# TYPE {METRIC} counter"]
        if count:
            rendered = ",".join(f'{k}="{_escape(v)}"' for k, v in self.labels.items())
            lines.append(f"{METRIC}{{{rendered}}} {count}")
        return "\n".join(lines) + "\n"

    def request(self, path: str = "/", body: bytes | None = None) -> int:
        """One client request through the gateway; the HTTP status it got."""
        request = urllib.request.Request(f"{self.url}{path}", data=body, method="POST" if body is not None else "GET")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            error.read()
            return error.code

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
