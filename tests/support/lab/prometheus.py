"""A real Prometheus and promtool, configured from the rendered ServiceMonitors, PodMonitors and PrometheusRules."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from support.lab.processes import LOOPBACK, Process, http_status, require_executable, wait_until
from support.ports import free_port

# --------------------------------------------------------------------------------------------------
# Scrape configuration derived from a rendered ServiceMonitor / PodMonitor


def _sanitize(label: str) -> str:
    """Kubernetes SD's label-name sanitising: every character outside [a-zA-Z0-9_] becomes ``_``."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", label)


def _relabel(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A prometheus-operator RelabelConfig (camelCase) as Prometheus config (snake_case)."""
    names = {
        "sourceLabels": "source_labels",
        "targetLabel": "target_label",
        "separator": "separator",
        "regex": "regex",
        "replacement": "replacement",
        "action": "action",
        "modulus": "modulus",
    }
    out = {names[k]: v for k, v in rule.items() if k in names}
    if "action" in out:
        out["action"] = out["action"].lower()
    return out


@dataclass
class ScrapeTarget:
    """One running Triton as the Kubernetes SD would describe it to Prometheus."""

    address: str
    namespace: str
    pod_name: str
    pod_labels: Mapping[str, str]
    service_name: str
    service_labels: Mapping[str, str]
    port_name: str = "metrics"
    container: str = "tritonserver"

    def meta(self, role: str) -> dict[str, str]:
        labels = {
            "__address__": self.address,
            "__meta_kubernetes_namespace": self.namespace,
            "__meta_kubernetes_pod_name": self.pod_name,
            "__meta_kubernetes_pod_container_name": self.container,
            "__meta_kubernetes_pod_phase": "Running",
            "__meta_kubernetes_pod_ready": "true",
        }
        for key, value in self.pod_labels.items():
            labels[f"__meta_kubernetes_pod_label_{_sanitize(key)}"] = value
            labels[f"__meta_kubernetes_pod_labelpresent_{_sanitize(key)}"] = "true"
        if role == "endpoints":
            labels.update(
                {
                    "__meta_kubernetes_service_name": self.service_name,
                    "__meta_kubernetes_endpoint_port_name": self.port_name,
                    "__meta_kubernetes_endpoint_address_target_kind": "Pod",
                    "__meta_kubernetes_endpoint_address_target_name": self.pod_name,
                    "__meta_kubernetes_endpoint_ready": "true",
                }
            )
            for key, value in self.service_labels.items():
                labels[f"__meta_kubernetes_service_label_{_sanitize(key)}"] = value
                labels[f"__meta_kubernetes_service_labelpresent_{_sanitize(key)}"] = "true"
        else:
            labels["__meta_kubernetes_pod_container_port_name"] = self.port_name
        return labels


def scrape_job(monitor: Mapping[str, Any], targets: list[ScrapeTarget], sd_file: Path) -> dict[str, Any]:
    """The scrape job prometheus-operator generates for ``monitor``, with Kubernetes SD replaced by a file.

    The operator's own relabelings (selector ``keep``s, ``namespace``/``service``/``pod``/``container``/
    ``job``/``endpoint`` targets; as in its golden test configurations under
    ``pkg/prometheus/testdata`` of prometheus-operator) come first, then the monitor's relabelings
    exactly as rendered. The file SD carries the ``__meta_kubernetes_*`` labels the Kubernetes SD
    would, built from the rendered pod and Service labels.
    """
    kind = monitor["kind"]
    meta, spec = monitor["metadata"], monitor["spec"]
    endpoints = spec.get("endpoints") if kind == "ServiceMonitor" else spec.get("podMetricsEndpoints")
    assert endpoints and len(endpoints) == 1, f"{kind} {meta['name']}: the lab handles one endpoint, found {endpoints}"
    endpoint = endpoints[0]
    role = "endpoints" if kind == "ServiceMonitor" else "pod"
    selector = spec.get("selector", {}).get("matchLabels", {})
    assert not spec.get("selector", {}).get("matchExpressions"), "matchExpressions are not emulated"
    namespaces = spec.get("namespaceSelector", {}).get("matchNames", [meta["namespace"]])
    prefix = "__meta_kubernetes_service_label_" if role == "endpoints" else "__meta_kubernetes_pod_label_"
    present = (
        "__meta_kubernetes_service_labelpresent_" if role == "endpoints" else "__meta_kubernetes_pod_labelpresent_"
    )
    relabel: list[dict[str, Any]] = [{"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"}]
    relabel.append({"action": "keep", "source_labels": ["__meta_kubernetes_namespace"], "regex": "|".join(namespaces)})
    for key, value in sorted(selector.items()):
        relabel.append(
            {
                "action": "keep",
                "source_labels": [f"{prefix}{_sanitize(key)}", f"{present}{_sanitize(key)}"],
                "regex": f"({value});true",
            }
        )
    port_label = (
        "__meta_kubernetes_endpoint_port_name" if role == "endpoints" else "__meta_kubernetes_pod_container_port_name"
    )
    relabel.append({"action": "keep", "source_labels": [port_label], "regex": endpoint["port"]})
    if role == "endpoints":
        relabel += [
            {
                "source_labels": [
                    "__meta_kubernetes_endpoint_address_target_kind",
                    "__meta_kubernetes_endpoint_address_target_name",
                ],
                "separator": ";",
                "regex": "Node;(.*)",
                "replacement": "${1}",
                "target_label": "node",
            },
            {
                "source_labels": [
                    "__meta_kubernetes_endpoint_address_target_kind",
                    "__meta_kubernetes_endpoint_address_target_name",
                ],
                "separator": ";",
                "regex": "Pod;(.*)",
                "replacement": "${1}",
                "target_label": "pod",
            },
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
            {"action": "drop", "source_labels": ["__meta_kubernetes_pod_phase"], "regex": "(Failed|Succeeded)"},
            {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job", "replacement": "${1}"},
        ]
    else:
        relabel += [
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"action": "drop", "source_labels": ["__meta_kubernetes_pod_phase"], "regex": "(Failed|Succeeded)"},
            {"target_label": "job", "replacement": f"{meta['namespace']}/{meta['name']}"},
        ]
    relabel.append({"target_label": "endpoint", "replacement": endpoint["port"]})
    relabel += [_relabel(r) for r in endpoint.get("relabelings", [])]
    sd_file.write_text(yaml.safe_dump([{"targets": [t.address], "labels": t.meta(role)} for t in targets]))
    job: dict[str, Any] = {
        "job_name": f"{kind.lower()}/{meta['namespace']}/{meta['name']}/0",
        "honor_labels": bool(endpoint.get("honorLabels", False)),
        "file_sd_configs": [{"files": [str(sd_file)], "refresh_interval": "1s"}],
        "metrics_path": endpoint.get("path", "/metrics"),
        "scheme": endpoint.get("scheme", "http"),
        "relabel_configs": relabel,
    }
    if "interval" in endpoint:
        job["scrape_interval"] = endpoint["interval"]
    if "scrapeTimeout" in endpoint:
        job["scrape_timeout"] = endpoint["scrapeTimeout"]
    if endpoint.get("metricRelabelings"):
        job["metric_relabel_configs"] = [_relabel(r) for r in endpoint["metricRelabelings"]]
    return job


def rule_file(rule: Mapping[str, Any], where: Path) -> Path:
    """A rendered PrometheusRule's ``spec`` as the rule file prometheus-operator would mount."""
    path = where / f"{rule['metadata']['namespace']}-{rule['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    return path


class Prometheus:
    """A real Prometheus on loopback with a generated configuration."""

    def __init__(
        self,
        workdir: Path,
        jobs: list[dict[str, Any]],
        rule_files: Iterable[Path] = (),
        evaluation_interval: str = "1s",
    ) -> None:
        binary = require_executable("prometheus")
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        config = {
            "global": {"scrape_interval": "30s", "evaluation_interval": evaluation_interval},
            "scrape_configs": jobs,
            "rule_files": [str(p) for p in rule_files],
        }
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.process = Process(
            [
                binary,
                f"--config.file={self.config_path}",
                f"--web.listen-address={LOOPBACK}:{self.port}",
                f"--storage.tsdb.path={workdir / 'data'}",
                "--storage.tsdb.retention.time=1h",
                "--web.enable-lifecycle",
            ],
            workdir / "prometheus.log",
        )
        wait_until(
            lambda: http_status(f"{self.url}/-/ready")[0] == 200 or not self.process.alive(),
            60,
            what="prometheus ready",
        )
        assert self.process.alive(), f"prometheus exited:\n{self.process.output()[-3000:]}"

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        status, body = http_status(f"{self.url}/api/v1/{path}?{query}", timeout=10)
        assert status == 200, f"{path} {params}: HTTP {status} {body[:500]!r}"
        data = json.loads(body)
        assert data["status"] == "success", data
        return data["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", f"{expr} is a {data['resultType']}, not an instant vector"
        return data["result"]

    def value(self, expr: str) -> float | None:
        """The single value of ``expr`` now; None for an empty result."""
        result = self.query(expr)
        assert len(result) <= 1, f"{expr} returned {len(result)} series: {result}"
        return float(result[0]["value"][1]) if result else None

    def targets(self) -> list[dict[str, Any]]:
        return self.api("targets")["activeTargets"]

    def wait_targets_up(self, count: int, timeout: float = 60) -> list[dict[str, Any]]:
        def up() -> list[dict[str, Any]] | None:
            targets = self.targets()
            healthy = [t for t in targets if t["health"] == "up"]
            return healthy if len(healthy) >= count else None

        return wait_until(up, timeout, interval=0.5, what=f"{count} targets up in {self.url}/targets")

    def stop(self) -> None:
        self.process.stop()


def promtool(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    binary = require_executable("promtool")
    return subprocess.run([binary, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def parse_seconds(text: str) -> float:
    """A Prometheus duration of one unit (``5s``, ``1m``, ``500ms``) in seconds."""
    match = re.fullmatch(r"([0-9.]+)(ms|s|m|h)", text)
    assert match, f"unsupported duration {text!r}"
    return float(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match.group(2)]
