"""A firing rule reaches the receiver: the real Prometheus evaluates a rendered alert rule and sends
it to the real Alertmanager, configured with the ``alertmanager.config`` the stack renders, which
routes it to a receiver on 127.0.0.1.

Inputs: the committed prod stack (PagerDuty, its routing key read from the mounted Secret's file)
and the same stack with a webhook receiver. What the lab changes, and only that:

- the credential file's path becomes a file of the lab holding the lab's value (the operator mounts
  the Secret at /etc/alertmanager/secrets/<name>/<key>);
- PagerDuty's endpoint (``url``, the public Events API by default) becomes the local receiver;
- Debian's Alertmanager 0.25 predates the webhook's ``url_file`` (0.26; the chart ships 0.34), so on
  0.25 the webhook gets the file's content as ``url``;
- the rule's ``for`` (minutes on a cluster) becomes 0s; its expression, labels and annotations are
  as rendered. The routing tree (group_wait 30 s included) is untouched.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.lab.processes import LOOPBACK, MissingPrerequisite, Process, http_status, wait_until
from support.lab.prometheus import Prometheus
from support.lab.renders import manifests_of, rendered_stacks, variant_render
from support.ports import free_port

#: The rendered alert the lab makes fire: on an empty Prometheus ``absent(...)`` is 1 at once.
ALERT = "TritonMetricsAbsent"
CREDENTIAL_PREFIX = "/etc/alertmanager/secrets/"
#: group_wait (30 s) + Prometheus's evaluation and send + a loaded 2-core machine.
DELIVERY_SECONDS = 180


class Receiver:
    """An HTTP server on 127.0.0.1 that records every JSON body posted to it and answers 202."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.append((self.path, json.loads(body)))
                self.send_response(202)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def _alertmanager_binary() -> str:
    found = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if not found:
        raise MissingPrerequisite("`prometheus-alertmanager` on PATH (Debian package prometheus-alertmanager)")
    return found


def _version(binary: str) -> tuple[int, int]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    match = re.search(r"version (\d+)\.(\d+)", out.stdout + out.stderr)
    assert match, out.stdout + out.stderr
    return int(match.group(1)), int(match.group(2))


class Alertmanager:
    """The real Alertmanager on loopback, clustering off, with the given configuration."""

    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        binary = _alertmanager_binary()
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        config_path = workdir / "alertmanager.yml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        check = subprocess.run(
            [shutil.which("amtool") or "amtool", "check-config", str(config_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert check.returncode == 0, f"amtool check-config refused the rendered config:\n{check.stdout}{check.stderr}"
        self.process = Process(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.path={workdir / 'data'}",
                f"--web.listen-address={LOOPBACK}:{self.port}",
                "--cluster.listen-address=",
            ],
            workdir / "alertmanager.log",
        )
        wait_until(
            lambda: http_status(f"{self.url}/-/ready")[0] == 200 or not self.process.alive(),
            60,
            what="alertmanager ready",
        )
        assert self.process.alive(), f"alertmanager exited:\n{self.process.output()[-3000:]}"

    def groups(self) -> list[dict[str, Any]]:
        status, body = http_status(f"{self.url}/api/v2/alerts/groups", timeout=10)
        assert status == 200, body[:500]
        return json.loads(body)

    def stop(self) -> None:
        self.process.stop()


def rendered_alertmanager_config(render: Any) -> dict[str, Any]:
    (release,) = [
        r for r in render.find("kubernetes:helm.sh/v3:Release") if r["inputs"]["chart"] == "kube-prometheus-stack"
    ]
    return release["inputs"]["values"]["alertmanager"]["config"]


def lab_config(
    rendered: dict[str, Any], receiver: Receiver, secrets_dir: Path, credential: str, version: tuple[int, int]
) -> dict[str, Any]:
    """The rendered config with only the lab's substitutions (module docstring)."""
    config = json.loads(json.dumps(rendered))
    config.pop("templates", None)  # the chart's template folder; none are rendered

    def local_file(path: str) -> str:
        assert path.startswith(CREDENTIAL_PREFIX), path
        local = secrets_dir / path.removeprefix(CREDENTIAL_PREFIX)
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(credential + "\n")
        return str(local)

    for entry in config["receivers"]:
        for pagerduty in entry.get("pagerduty_configs", []):
            pagerduty["routing_key_file"] = local_file(pagerduty["routing_key_file"])
            pagerduty["url"] = f"{receiver.url}/pagerduty/v2/enqueue"
        for webhook in entry.get("webhook_configs", []):
            path = local_file(webhook.pop("url_file"))
            if version >= (0, 26):
                webhook["url_file"] = path
            else:
                webhook["url"] = Path(path).read_text().strip()
    return config


def firing_rule_file(render: Any, where: Path) -> Path:
    """The rendered rule group holding ``ALERT`` (first model group), ``for`` shortened to 0s, and a
    Watchdog as kube-prometheus-stack ships it (always firing; the routing must silence it)."""
    (rule,) = manifests_of(render, "PrometheusRule")
    alert = next(r for g in rule["spec"]["groups"] for r in g["rules"] if r.get("alert") == ALERT)
    group = {
        "name": "lab",
        "rules": [
            {**alert, "for": "0s"},
            {"alert": "Watchdog", "expr": "vector(1)", "labels": {"severity": "none"}},
        ],
    }
    path = where / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [group]}, sort_keys=False))
    return path


def _cases() -> Iterator[Any]:
    yield pytest.param("prod", None, id="prod-pagerduty")
    yield pytest.param("prod", {"kind": "webhook"}, id="prod-webhook")


@pytest.mark.parametrize(("stack", "receiver_override"), list(_cases()))
def test_a_firing_rule_reaches_the_rendered_receiver_and_the_watchdog_does_not(lab_dir, stack, receiver_override):
    workdir = lab_dir / f"alerting-{stack}-{(receiver_override or {}).get('kind', 'committed')}"
    if receiver_override is None:
        render = rendered_stacks()[stack]
    else:

        def edit(config: dict[str, Any]) -> None:
            config["triton-platform:observability"]["alerts"]["receiver"] = receiver_override

        render = variant_render(stack, edit, receiver_override["kind"], workdir / "render")
    rendered = rendered_alertmanager_config(render)
    kind = next(k.removesuffix("_configs") for e in rendered["receivers"] for k in e if k.endswith("_configs"))
    assert kind == (receiver_override or {"kind": "pagerduty"})["kind"]

    credential = "lab-routing-key-0123456789abcdef" if kind == "pagerduty" else ""
    receiver = Receiver()
    alertmanager = prometheus = None
    try:
        if kind == "webhook":
            credential = f"{receiver.url}/webhook"
        binary = _alertmanager_binary()
        alertmanager = Alertmanager(
            workdir / "alertmanager", lab_config(rendered, receiver, workdir / "secrets", credential, _version(binary))
        )
        prometheus = Prometheus(workdir / "prometheus", [], [firing_rule_file(render, workdir)])
        # Prometheus sends its alerts to this Alertmanager (the operator wires the same in a cluster).
        config = yaml.safe_load(prometheus.config_path.read_text())
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [f"{LOOPBACK}:{alertmanager.port}"]}]}]}
        prometheus.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        status, body = http_status(f"{prometheus.url}/-/reload", method="POST", timeout=30)
        assert status == 200, body[:500]

        def delivered() -> list[dict[str, Any]]:
            return [b for _, b in receiver.bodies if ALERT in json.dumps(b)]

        bodies = wait_until(
            delivered,
            DELIVERY_SECONDS,
            interval=0.5,
            what=f"{ALERT} delivered to the {kind} receiver on {receiver.url}",
        )
        groups = {g["labels"].get("alertname"): g["receiver"]["name"] for g in alertmanager.groups()}
        assert groups == {ALERT: "platform", "Watchdog": "null"}, groups
        assert not [b for _, b in receiver.bodies if "Watchdog" in json.dumps(b)]
        if kind == "pagerduty":
            (path,) = {p for p, _ in receiver.bodies}
            assert path == "/pagerduty/v2/enqueue"
            event = bodies[0]
            # The key came from the mounted file, the event is a v2 trigger for the rendered alert.
            assert (event["routing_key"], event["event_action"]) == (credential, "trigger")
            assert event["payload"]["summary"].startswith(f"[FIRING:1] {ALERT} ")
        else:
            (path,) = {p for p, _ in receiver.bodies}
            assert path == "/webhook"
            message = bodies[0]
            assert (message["receiver"], message["status"]) == ("platform", "firing")
            (alert,) = message["alerts"]
            labels = alert["labels"]
            assert labels["alertname"] == ALERT and labels["severity"] == "critical"
            assert labels["namespace"] == "triton" and labels["environment"] == stack
    finally:
        for process in (prometheus, alertmanager):
            if process is not None:
                process.stop()
        receiver.stop()
