"""The real istiod (``pilot-discovery``) against a ``LocalCluster``, out of cluster on 127.0.0.1.

What a cluster's Istio installation puts into the API server comes from the real charts of the
istio module the binary is built from (``helm template``, values schema enforced), with the values
our ``IstioInstallation`` gives them in a committed stack: the base chart's CRDs and default
validator, and the istiod chart's ``istio`` (mesh config) and ``istio-sidecar-injector`` ConfigMaps
and its mutating and validating webhook configurations. Only the Deployment is replaced: its
command line and literal environment run here as a process, with every listener moved to a free
loopback port. The webhook configurations call istiod at ``https://127.0.0.1:<port>/inject`` and
``/validate`` (the charts' ``istiodRemote.injectionURL`` and ``base.validationURL``); istiod signs its
own serving certificate for 127.0.0.1 (``ISTIOD_CUSTOM_HOST``) and patches its CA into those
configurations itself, as it does in a cluster, and switches validation to fail-closed once it has
seen its own webhook reject a bad object.

Stand-ins: istiod is a pseudo-version of istio.io/istio master (``ISTIO_MODULE_VERSION``), not the
Istio release our stacks install; the injected image names (``global.hub``/``global.tag``) are the
release's, and nothing ever pulls them (kwok runs no containers). istiod talks to the API server as
the cluster admin (no RBAC of its own), and is told to leave out the istio-proxy-only Envoy
extensions (``UPSTREAM_ENVOY_ENV``) so the upstream Envoy of the e2e suite accepts its xDS.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from e2e_cluster import ClusterError, LocalCluster, Process, wait_for
from e2e_toolchain import ROOT, Toolchain
from support.ports import free_ports
from triton_components.common import versions

ISTIO_NAMESPACE = "istio-system"
#: The image registry the release charts default to; the module's charts name none of their own.
ISTIO_HUB = "docker.io/istio"
#: The committed stack whose ``IstioInstallation`` values the cluster's istiod is installed with:
#: the one without a ``global.platform`` (``gke`` would have istiod look for GCP's metadata server).
INSTALLATION_STACK = "dev-aws"
INSTALLATION_RELEASE = "istio-istiod"
#: istiod's xDS without the istio-proxy-only extensions (metadata exchange, peer metadata, ALPN
#: filter) that upstream Envoy rejects; nothing else of the routes and clusters changes.
UPSTREAM_ENVOY_ENV = {
    "PILOT_ENABLE_METADATA_EXCHANGE": "false",
    "PILOT_DISABLE_MX_ALPN": "true",
    "PILOT_ENABLE_ALPN_FILTER": "false",
}
INJECTOR_CONFIG_MAP = "istio-sidecar-injector"
MESH_CONFIG_MAP = "istio"
#: The webhook configurations the charts name for the default revision in istio-system.
MUTATING_WEBHOOK = "istio-sidecar-injector"
VALIDATING_WEBHOOKS = ("istio-validator-istio-system", "istiod-default-validator")
#: What of the charts configures the API server, besides the CRDs and istiod's ConfigMaps (the rest
#: runs istiod as a pod or authorises it).
WEBHOOK_KINDS = {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}
LISTENERS = ("http", "grpc", "secure-grpc", "webhook", "monitoring", "ctrlz")


def installation_values(stack: str = INSTALLATION_STACK) -> dict[str, Any]:
    """The istiod chart's values exactly as our ``IstioInstallation`` passes them in ``stack``'s render."""
    from triton_platform.review.render import render_stack

    releases = [
        r
        for r in render_stack(ROOT, stack).resources
        if r["type"] == "kubernetes:helm.sh/v3:Release" and r["name"] == INSTALLATION_RELEASE
    ]
    assert len(releases) == 1, f"{stack} renders no single {INSTALLATION_RELEASE} Release"
    return dict(releases[0]["inputs"]["values"])


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = (
            merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


def helm_template(
    toolchain: Toolchain,
    chart: str,
    release: str,
    values: dict[str, Any],
    workdir: Path,
    namespace: str = ISTIO_NAMESPACE,
) -> list[dict[str, Any]]:
    """``helm template`` of one of the module's Istio charts (``<bin>/istio-charts/<chart>``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    values_file = workdir / f"{release}-values.json"
    values_file.write_text(json.dumps(values, indent=2))
    chart_dir = toolchain.bin / "istio-charts" / chart
    result = subprocess.run(
        [
            toolchain["helm"],
            "template",
            release,
            str(chart_dir),
            "--namespace",
            namespace,
            "--values",
            str(values_file),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise ClusterError(f"helm template {release} {chart_dir} failed:\n{result.stderr.strip()}")
    # libyaml: the base chart's CRDs take the pure-Python parser seconds on 2 cores.
    return [d for d in yaml.load_all(result.stdout, Loader=yaml.CSafeLoader) if d]


def release_values(values: dict[str, Any]) -> dict[str, Any]:
    """The module's charts say 1.0.0 and name no registry: give them the release our stacks install."""
    return merge(values, {"global": {"hub": ISTIO_HUB, "tag": versions.ISTIO_VERSION}})


@dataclass
class Istiod:
    """One istiod for one cluster. ``values``: the istiod chart's values (default: our installation's)."""

    toolchain: Toolchain
    cluster: LocalCluster
    workdir: Path
    values: dict[str, Any] | None = None
    #: Extra environment (after the chart's and ``UPSTREAM_ENVOY_ENV``).
    env: dict[str, str] = field(default_factory=dict)
    #: Extra command-line flags of ``pilot-discovery discovery``.
    args: list[str] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)
    process: Process | None = None
    #: What the charts rendered, as applied (istiod chart, then base chart).
    manifests: list[dict[str, Any]] = field(default_factory=list)
    base_manifests: list[dict[str, Any]] = field(default_factory=list)
    _installed: bool = False

    # ---------------------------------------------------------------- addresses

    @property
    def xds_address(self) -> str:
        """Plain-text xDS (gRPC), as a sidecar or gateway without workload certificates reaches it."""
        return f"127.0.0.1:{self.ports['grpc']}"

    def webhook_url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.ports['webhook']}{path}"

    @property
    def injector_values(self) -> dict[str, Any]:
        """The ``values`` of the injector ConfigMap this istiod injects with."""
        return json.loads(self.rendered("ConfigMap", INJECTOR_CONFIG_MAP)["data"]["values"])

    def rendered(self, kind: str, name: str) -> dict[str, Any]:
        found = [
            m for m in [*self.manifests, *self.base_manifests] if m["kind"] == kind and m["metadata"]["name"] == name
        ]
        assert len(found) == 1, f"the charts render {len(found)} {kind} {name}"
        return found[0]

    # ---------------------------------------------------------------- lifecycle

    def install(self, values: dict[str, Any] | None = None) -> None:
        """Render the charts and apply what configures the API server (no process yet). A second
        call with other values replaces istiod's ConfigMaps, as ``helm upgrade`` does; a running
        istiod picks them up by itself (it watches them)."""
        if values is not None:
            self.values = values
        if self.values is None:
            self.values = installation_values()
        if not self.ports:
            self.ports.update(zip(LISTENERS, free_ports(len(LISTENERS)), strict=True))
        charts = self.workdir / "charts"
        self.manifests = helm_template(
            self.toolchain,
            "istio-control/istio-discovery",
            "istiod",
            merge(
                release_values(self.values),
                {
                    "istiodRemote": {"injectionURL": self.webhook_url("/inject")},
                    "base": {"validationURL": self.webhook_url("/validate")},
                },
            ),
            charts,
        )
        # The base chart gets no values from our installation beyond the platform (EKS: none).
        self.base_manifests = helm_template(
            self.toolchain,
            "base",
            "istio-base",
            release_values({"base": {"validationURL": self.webhook_url("/validate")}}),
            charts,
        )
        if self.cluster.kubectl("get", "namespace", ISTIO_NAMESPACE, check=False).returncode != 0:
            self.cluster.kubectl("create", "namespace", ISTIO_NAMESPACE)
        config_maps = [m for m in self.manifests if m["kind"] == "ConfigMap"]
        if self._installed:
            # The webhooks' URLs do not change with values, and once istiod runs it owns their
            # caBundle and failurePolicy: re-applying them would reopen validation for a while.
            self.cluster.apply_objects(config_maps, "--force-conflicts")
            return
        crds = [m for m in self.base_manifests if m["kind"] == "CustomResourceDefinition"]
        self.cluster.apply_objects(crds, "--force-conflicts")
        self.cluster.kubectl(
            "wait", "--for=condition=Established", "--timeout=60s", *[f"crd/{m['metadata']['name']}" for m in crds]
        )
        webhooks = [m for m in [*self.base_manifests, *self.manifests] if m["kind"] in WEBHOOK_KINDS]
        self.cluster.apply_objects([*config_maps, *webhooks], "--force-conflicts")
        self._installed = True

    def start(self, timeout: float = 240) -> None:
        """Install (if not yet), run istiod and wait until it serves, its CA is in the webhook
        configurations and validation is fail-closed."""
        if not self.manifests:
            self.install()
        deployment = self.rendered("Deployment", "istiod")
        container = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "discovery")
        p = self.ports
        args = [a for a in container["args"] if not a.startswith("--monitoringAddr")]
        args += [
            f"--kubeconfig={self.cluster.kubeconfig}",
            f"--httpAddr=127.0.0.1:{p['http']}",
            f"--grpcAddr=127.0.0.1:{p['grpc']}",
            f"--secureGRPCAddr=127.0.0.1:{p['secure-grpc']}",
            f"--httpsAddr=127.0.0.1:{p['webhook']}",
            f"--monitoringAddr=127.0.0.1:{p['monitoring']}",
            "--ctrlz_address=127.0.0.1",
            f"--ctrlz_port={p['ctrlz']}",
            *self.args,
        ]
        # The chart's literal environment (REVISION, PILOT_CERT_PROVIDER, CLUSTER_ID, its values' env);
        # what the kubelet would fill from the pod is filled here.
        env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e and e["name"] != "KUBECONFIG"}
        env.update(
            PATH=os.environ.get("PATH", "/usr/bin:/bin"),
            HOME=str(self.workdir),
            POD_NAME="istiod-e2e",
            POD_NAMESPACE=ISTIO_NAMESPACE,
            SERVICE_ACCOUNT="istiod",
            # The serving certificate istiod signs with its own CA names the address the API server calls.
            ISTIOD_CUSTOM_HOST="127.0.0.1",
            **UPSTREAM_ENVOY_ENV,
            **self.env,
        )
        run_dir = self.workdir / "run"  # istiod writes ./var/run/secrets/istio-dns and ./etc/cacerts here
        run_dir.mkdir(parents=True, exist_ok=True)
        log = self.workdir / "istiod.log"
        handle = log.open("wb")
        popen = subprocess.Popen(
            [self.toolchain["pilot-discovery"], *args],
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=run_dir,
            env=env,
            start_new_session=True,
        )
        handle.close()
        self.process = Process("istiod", popen, log)
        try:
            wait_for("istiod /ready", self._ready, timeout, interval=1)
            wait_for("istiod's CA in the injection webhook", self._injector_patched, timeout, interval=1)
            wait_for(
                "istiod's validation webhooks fail-closed with its CA", self._validation_closed, timeout, interval=1
            )
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is None:
            return
        popen = self.process.popen
        if popen.poll() is None:
            popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(timeout=10)
        self.process = None

    # ---------------------------------------------------------------- conditions

    def alive(self) -> None:
        if self.process is None or self.process.popen.poll() is not None:
            code = None if self.process is None else self.process.popen.returncode
            raise ClusterError(f"istiod is not running (exit {code}):\n{self.tail()}")

    def _ready(self) -> bool:
        self.alive()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ports['http']}/ready", timeout=3) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _injector_patched(self) -> bool:
        self.alive()
        config = self.cluster.get("mutatingwebhookconfiguration", MUTATING_WEBHOOK)
        return all(w["clientConfig"].get("caBundle") for w in config["webhooks"])

    def _validation_closed(self) -> bool:
        self.alive()
        for name in VALIDATING_WEBHOOKS:
            config = self.cluster.get("validatingwebhookconfiguration", name)
            if not all(
                w["clientConfig"].get("caBundle") and w.get("failurePolicy") == "Fail" for w in config["webhooks"]
            ):
                return False
        return True

    def tail(self, lines: int = 40) -> str:
        return "" if self.process is None else self.process.tail(lines)
