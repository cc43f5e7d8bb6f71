"""The CI definitions stay consistent with the repository: every stack is previewed, the Pulumi CLI
matches the locked SDK, actions are pinned, secrets are never echoed, the scan waivers are
justified, and the merge-request note helper talks to the GitLab API as documented.
(Linting proper is `.ci/lint-ci`: actionlint, GitLab's CI schema, shellcheck.)"""

from __future__ import annotations

import importlib.util
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from triton_platform.render import stack_files

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
GITLAB = ROOT / ".gitlab-ci.yml"


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _locked(package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==(\S+)$", (ROOT / "requirements.lock").read_text(), re.MULTILINE)
    assert match, f"{package} is not in requirements.lock"
    return match.group(1)


def test_the_ci_files_exist_and_parse():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "deploy.yml", "drift.yml"}
    for path in [*WORKFLOWS, GITLAB]:
        assert isinstance(yaml.safe_load(path.read_text()), dict), path


def test_gitlab_matrix_lists_every_stack():
    """GitLab has no dynamic matrix: the list is static, so this test keeps it complete. Cloud-less
    stacks are left out (their cluster is the kubeconfig's), as the GitHub workflows' lists leave them out."""
    pulumi_job = yaml.safe_load(GITLAB.read_text())[".pulumi"]
    (entry,) = pulumi_job["parallel"]["matrix"]
    provisions_a_cloud = re.compile(r"^  triton-platform:(gcp|aws):", re.MULTILINE)
    cloud_stacks = [s for s in stack_files(ROOT) if provisions_a_cloud.search((ROOT / f"Pulumi.{s}.yaml").read_text())]
    assert "local" not in cloud_stacks and len(cloud_stacks) < len(stack_files(ROOT))
    assert sorted(entry["STACK"]) == sorted(cloud_stacks)


def test_pulumi_cli_version_matches_the_locked_sdk():
    sdk = _locked("pulumi")
    versions = {GITLAB.name: yaml.safe_load(GITLAB.read_text())["variables"]["PULUMI_VERSION"]}
    for path in WORKFLOWS:
        workflow_env = yaml.safe_load(path.read_text()).get("env", {})
        if "PULUMI_VERSION" in workflow_env:
            versions[path.name] = workflow_env["PULUMI_VERSION"]
    assert len(versions) >= 3 and set(versions.values()) == {sdk}, versions


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_a_release(path):
    uses = re.findall(r"uses:\s*([^\s#]+)", path.read_text())
    assert uses
    for ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})", ref), f"{path.name}: unpinned {ref}"


_PRINTS_A_SECRET = re.compile(r"\b(echo|printf|cat)\b[^>|;]*(\$\{?\w*(TOKEN|PASSWORD|SECRET|KEY)\b|secrets\.)")


@pytest.mark.parametrize("path", [*WORKFLOWS, GITLAB], ids=lambda p: p.name)
def test_secrets_are_never_printed_or_inlined_in_scripts(path):
    text = path.read_text()
    for line in text.splitlines():
        match = _PRINTS_A_SECRET.search(line)
        # Writing a token to a file (the OIDC token for workload identity) is not printing it.
        assert not match or ">" in line[match.end():], f"{path.name}: prints a secret: {line.strip()}"
    if path.parent.name == "workflows":
        for job in yaml.safe_load(text)["jobs"].values():
            for step in job.get("steps", []):
                assert "secrets." not in str(step.get("run", "")), f"{path.name}: secret inlined in a script: {step}"


def test_every_checkov_waiver_has_a_reason():
    waivers = yaml.safe_load((ROOT / ".ci" / "checkov-waivers.yaml").read_text())["waivers"]
    assert 0 < len(waivers) <= 8, "keep the waiver list short (reliability-security 4.7)"
    for waiver in waivers:
        assert re.fullmatch(r"CKV2?_K8S_\d+", waiver["id"]) and len(waiver["reason"].split()) >= 12, waiver


def _checkov_report(*findings: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "summary": {"passed": 10, "failed": len(findings), "parsing_errors": 0, "checkov_version": "3.3.30"},
        "results": {"failed_checks": [
            {"check_id": check, "check_name": "name", "resource": resource, "file_path": f"/r/{stack}/manifests.yaml"}
            for check, resource, stack in findings
        ]},
    }


def test_checkov_gate_fails_only_on_findings_not_waived(tmp_path, capsys):
    gate = _load(ROOT / ".ci" / "checkov_gate.py")
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(yaml.safe_dump({"waivers": [
        {"id": "CKV_K8S_40", "reason": "uid 1000", "resources": ["Deployment.*.triton-*"]},
        {"id": "CKV_K8S_15", "reason": "big image", "stacks": ["dev"]},
        {"id": "CKV_K8S_99", "reason": "stale"},
    ]}))
    report = tmp_path / "report.json"

    report.write_text(json.dumps(_checkov_report(("CKV_K8S_40", "Deployment.triton.triton-a", "prod"),
                                                 ("CKV_K8S_15", "Deployment.triton.triton-a", "dev"))))
    assert gate.main(str(waivers), str(report)) == 0
    out = capsys.readouterr().out
    assert "2 waived" in out and "-> ok" in out and "stale waiver CKV_K8S_99" in out

    report.write_text(json.dumps(_checkov_report(("CKV_K8S_40", "Deployment.kube-system.coredns", "prod"),
                                                 ("CKV_K8S_15", "Deployment.triton.triton-a", "prod"))))
    assert gate.main(str(waivers), str(report)) == 1
    out = capsys.readouterr().out
    assert out.count("NOT WAIVED") == 2 and "-> FAIL" in out


class _FakeGitLab(BaseHTTPRequestHandler):
    notes: list[dict[str, Any]] = []
    tokens: list[str] = []

    def _reply(self, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        self.tokens.append(self.headers["PRIVATE-TOKEN"])
        page = int(re.search(r"[?&]page=(\d+)", self.path).group(1))
        self._reply(self.notes if page == 1 else [])

    def _body(self) -> dict[str, Any]:
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def do_POST(self) -> None:  # noqa: N802
        assert self.path == "/api/v4/projects/group%2Fproject/merge_requests/7/notes"
        self.notes.append({"id": len(self.notes) + 1, **self._body()})
        self._reply(self.notes[-1])

    def do_PUT(self) -> None:  # noqa: N802
        note_id = int(self.path.rsplit("/", 1)[1])
        self.notes[note_id - 1].update(self._body())
        self._reply(self.notes[note_id - 1])

    def log_message(self, *args: Any) -> None:
        pass


def test_gitlab_note_is_created_once_then_updated(tmp_path, monkeypatch, capsys):
    note = _load(ROOT / ".ci" / "gitlab_mr_note.py")
    server = HTTPServer(("127.0.0.1", 0), _FakeGitLab)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _FakeGitLab.notes = [{"id": 1, "body": "an unrelated review comment"}]
        monkeypatch.setenv("CI_API_V4_URL", f"http://127.0.0.1:{server.server_port}/api/v4")
        monkeypatch.setenv("CI_PROJECT_ID", "group/project")
        monkeypatch.setenv("CI_MERGE_REQUEST_IID", "7")
        monkeypatch.setenv("GITLAB_NOTE_TOKEN", "glpat-test-token")
        comment = tmp_path / "diff.md"
        comment.write_text("<!-- triton-platform:offline-diff -->\nfirst\n")
        assert note.main(["x", str(comment)]) == 0
        comment.write_text("<!-- triton-platform:offline-diff -->\nsecond\n")
        assert note.main(["x", str(comment)]) == 0
    finally:
        server.shutdown()
        thread.join(timeout=5)
    assert [n["body"] for n in _FakeGitLab.notes] == [
        "an unrelated review comment", "<!-- triton-platform:offline-diff -->\nsecond\n"
    ]
    assert set(_FakeGitLab.tokens) == {"glpat-test-token"}
    assert "glpat-test-token" not in capsys.readouterr().out


def test_gitlab_note_is_skipped_without_a_token(tmp_path, monkeypatch, capsys):
    note = _load(ROOT / ".ci" / "gitlab_mr_note.py")
    monkeypatch.delenv("GITLAB_NOTE_TOKEN", raising=False)
    comment = tmp_path / "diff.md"
    comment.write_text("x\n")
    assert note.main(["x", str(comment)]) == 0
    assert "not posted" in capsys.readouterr().err


def test_policy_pack_runs_in_its_own_environment():
    """pulumi-policy pins protobuf/grpcio below the project's lock, so it must not be a project dependency."""
    assert "pulumi-policy" not in (ROOT / "requirements.lock").read_text()
    assert "pulumi-policy" in (ROOT / "policy" / "requirements.txt").read_text()
    assert "import pulumi_policy" not in (ROOT / "policy" / "triton_policy_rules.py").read_text()
    assert "from pulumi_policy" not in (ROOT / "policy" / "triton_policy_rules.py").read_text()
    pack = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert pack["runtime"]["name"] == "python"
