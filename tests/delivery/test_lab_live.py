"""``model load`` through kubectl: every pod of the group, by name, each through its own port-forward.

kubectl is replaced by a stand-in that answers ``get pods``, ``get secret`` and ``port-forward``
for two real Tritons running here (the staging stack's rendered ``triton-text``), and records what
it was asked: the namespace, the rendered pod selector, one port-forward per pod.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from support import ROOT
from support.delivery import corpus
from support.delivery.corpus import ADMIN_KEY
from triton_platform.cli import main
from triton_platform.delivery import open_store, parse_location, publish
from triton_platform.delivery.live import pod_selector, ready_versions

pytestmark = pytest.mark.lab

FAKE_KUBECTL = r"""#!{python}
import base64, json, os, signal, sys, time
pods = json.loads(os.environ["FAKE_PODS"])
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\n")
args = sys.argv[1:]
if args[:2] == ["get", "pods"]:
    print(json.dumps({{"items": [{{"metadata": {{"name": n}}, "status": {{"phase": "Running"}}}} for n in pods]}}))
elif args[:2] == ["get", "secret"]:
    key = base64.b64encode(os.environ["FAKE_ADMIN_KEY"].encode()).decode()
    print(json.dumps({{"data": {{"admin-key": key}}}}))
elif args[0] == "port-forward":
    pod = [a for a in args if a.startswith("pod/")][0][4:]
    print(f"Forwarding from 127.0.0.1:{{pods[pod]}} -> 8000", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    time.sleep(300)
else:
    sys.exit(f"unexpected kubectl {{args}}")
"""


def test_load_reaches_every_pod_of_the_group_through_kubectl(
    rendered, start_triton, tmp_path: Path, monkeypatch, capsys
):
    repository = tmp_path / "repository"
    repository.mkdir()
    location = parse_location(str(repository))
    publish(corpus.write_model(tmp_path / "v1", "bert-base"), location, open_store(location))
    rt = rendered("staging", "text")
    pods = {f"triton-text-5d8c7-{i}": start_triton(rt, str(repository))[0] for i in "ab"}

    publish(corpus.write_model(tmp_path / "v2", "bert-base"), location, open_store(location), version="next")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(FAKE_KUBECTL.format(python=sys.executable))
    kubectl.chmod(0o755)
    log = tmp_path / "kubectl.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_PODS", json.dumps({name: server.ports["http"] for name, server in pods.items()}))
    monkeypatch.setenv("FAKE_ADMIN_KEY", ADMIN_KEY)
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.delenv("TRITON_ADMIN_KEY", raising=False)
    monkeypatch.chdir(ROOT)

    assert main(["model", "load", "bert-base", "--stack", "staging", "--version", "2"]) == 0
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines()] == sorted(pods)
    assert all(ready_versions(server.http, "bert-base") == ["2"] for server in pods.values())
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls[0] == ["get", "pods", "-n", "triton", "-l", pod_selector("text", "stable"), "-o", "json"]
    assert calls[1] == ["get", "secret", "triton-admin-key", "-n", "triton", "-o", "json"]
    assert [c for c in calls if c[0] == "port-forward"] == [
        ["port-forward", "-n", "triton", f"pod/{name}", ":8000"] for name in sorted(pods)
    ]
