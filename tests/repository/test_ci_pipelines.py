"""The CI definitions stay consistent with the repository: every stack is previewed, the Pulumi CLI
matches the locked SDK, actions are pinned, secrets are never echoed, the scan waivers are
justified, and the merge-request note helper talks to the GitLab API as documented.
(Linting proper is `.ci/lint-ci`: actionlint, GitLab's CI schema, shellcheck.)"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

import checkov_gate
import gitlab_mr_note
import gitlab_stacks
from triton_platform.review.render import stack_files

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
GITLAB = ROOT / ".gitlab-ci.yml"


def _locked(package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==(\S+)$", (ROOT / "requirements.lock").read_text(), re.MULTILINE)
    assert match, f"{package} is not in requirements.lock"
    return match.group(1)


def test_the_ci_files_exist_and_parse():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "deploy.yml", "drift.yml"}
    for path in [*WORKFLOWS, GITLAB]:
        assert isinstance(yaml.safe_load(path.read_text()), dict), path


def test_gitlab_matrix_lists_every_stack():
    """GitLab has no dynamic matrix: the list is static, written by `make golden`
    (.ci/gitlab_stacks.py) and checked here, in one line that names that command. Cloud-less
    stacks are left out (their cluster is the kubeconfig's), as the GitHub workflows' lists leave them out."""
    cloud_stacks = gitlab_stacks.cloud_stacks(ROOT)
    assert "local" not in cloud_stacks and 0 < len(cloud_stacks) < len(stack_files(ROOT))
    problem = gitlab_stacks.problem(ROOT)
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml", "drift.yml"])
def test_github_workflows_list_the_stacks_at_run_time_by_the_same_rule(name):
    """GitHub's matrices are computed from the Pulumi.<stack>.yaml files at run time, so a new stack
    needs no edit there; the rule is the one GitLab's list is checked against."""
    assert gitlab_stacks.PROVISIONS_A_CLOUD.pattern == "^  triton-platform:(gcp|aws):"
    text = (ROOT / ".github" / "workflows" / name).read_text()
    assert "grep -lE '^  triton-platform:(gcp|aws):' Pulumi.*.yaml" in text
    assert "fromJSON(needs.stacks.outputs.stacks)" in text


def test_pulumi_cli_version_matches_the_locked_sdk():
    sdk = _locked("pulumi")
    versions = {GITLAB.name: yaml.safe_load(GITLAB.read_text())["variables"]["PULUMI_VERSION"]}
    for path in WORKFLOWS:
        workflow_env = yaml.safe_load(path.read_text()).get("env", {})
        if "PULUMI_VERSION" in workflow_env:
            versions[path.name] = workflow_env["PULUMI_VERSION"]
    assert len(versions) >= 3 and set(versions.values()) == {sdk}, versions


_USES = re.compile(r"^\s*(?:-\s*)?uses:\s*(\S+)(.*)$", re.MULTILINE)


def unpinned_actions(text: str) -> list[str]:
    """Every `uses:` not pinned to a full commit SHA with its release as a comment: a tag can be moved
    to other code after review, a commit cannot."""
    return [
        f"{ref}{rest}".strip()
        for ref, rest in _USES.findall(text)
        if not (re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref) and re.fullmatch(r"\s+# v\d+(\.\d+){1,2}", rest))
    ]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_a_commit(path):
    assert _USES.search(path.read_text())
    assert unpinned_actions(path.read_text()) == [], f"{path.name}: pin these to a commit SHA with a '# vX.Y.Z' comment"


def test_the_pin_check_refuses_tags_and_bare_shas():
    assert unpinned_actions("      - uses: actions/checkout@v6\n") == ["actions/checkout@v6"]
    assert unpinned_actions("    - uses: a/b@" + "0" * 40 + "\n") == ["a/b@" + "0" * 40]
    assert unpinned_actions("      - uses: a/b@" + "0" * 40 + " # v1.2.3\n") == []


_PRINTS_A_SECRET = re.compile(r"\b(echo|printf|cat)\b[^>|;]*(\$\{?\w*(TOKEN|PASSWORD|SECRET|KEY)\b|secrets\.)")


@pytest.mark.parametrize("path", [*WORKFLOWS, GITLAB], ids=lambda p: p.name)
def test_secrets_are_never_printed_or_inlined_in_scripts(path):
    text = path.read_text()
    for line in text.splitlines():
        match = _PRINTS_A_SECRET.search(line)
        # Writing a token to a file (the OIDC token for workload identity) is not printing it.
        assert not match or ">" in line[match.end() :], f"{path.name}: prints a secret: {line.strip()}"
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
        "results": {
            "failed_checks": [
                {
                    "check_id": check,
                    "check_name": "name",
                    "resource": resource,
                    "file_path": f"/r/{stack}/manifests.yaml",
                }
                for check, resource, stack in findings
            ]
        },
    }


def test_checkov_gate_fails_only_on_findings_not_waived(tmp_path, capsys):
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        yaml.safe_dump(
            {
                "waivers": [
                    {"id": "CKV_K8S_40", "reason": "uid 1000", "resources": ["Deployment.*.triton-*"]},
                    {"id": "CKV_K8S_15", "reason": "big image", "stacks": ["dev"]},
                    {"id": "CKV_K8S_99", "reason": "stale"},
                ]
            }
        )
    )
    report = tmp_path / "report.json"

    report.write_text(
        json.dumps(
            _checkov_report(
                ("CKV_K8S_40", "Deployment.triton.triton-a", "prod"),
                ("CKV_K8S_15", "Deployment.triton.triton-a", "dev"),
            )
        )
    )
    assert checkov_gate.main(str(waivers), str(report)) == 0
    out = capsys.readouterr().out
    assert "2 waived" in out and "-> ok" in out and "stale waiver CKV_K8S_99" in out

    report.write_text(
        json.dumps(
            _checkov_report(
                ("CKV_K8S_40", "Deployment.kube-system.coredns", "prod"),
                ("CKV_K8S_15", "Deployment.triton.triton-a", "prod"),
            )
        )
    )
    assert checkov_gate.main(str(waivers), str(report)) == 1
    out = capsys.readouterr().out
    assert out.count("NOT WAIVED") == 2 and "-> FAIL" in out


class _FakeGitLab(BaseHTTPRequestHandler):
    notes: ClassVar[list[dict[str, Any]]] = []
    tokens: ClassVar[list[str]] = []

    def _reply(self, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # http.server's naming
        self.tokens.append(self.headers["PRIVATE-TOKEN"])
        page = int(re.search(r"[?&]page=(\d+)", self.path).group(1))
        self._reply(self.notes if page == 1 else [])

    def _body(self) -> dict[str, Any]:
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def do_POST(self) -> None:
        assert self.path == "/api/v4/projects/group%2Fproject/merge_requests/7/notes"
        self.notes.append({"id": len(self.notes) + 1, **self._body()})
        self._reply(self.notes[-1])

    def do_PUT(self) -> None:
        note_id = int(self.path.rsplit("/", 1)[1])
        self.notes[note_id - 1].update(self._body())
        self._reply(self.notes[note_id - 1])

    def log_message(self, *args: Any) -> None:
        pass


def test_gitlab_note_is_created_once_then_updated(tmp_path, monkeypatch, capsys):
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
        assert gitlab_mr_note.main(["x", str(comment)]) == 0
        comment.write_text("<!-- triton-platform:offline-diff -->\nsecond\n")
        assert gitlab_mr_note.main(["x", str(comment)]) == 0
    finally:
        server.shutdown()
        thread.join(timeout=5)
    assert [n["body"] for n in _FakeGitLab.notes] == [
        "an unrelated review comment",
        "<!-- triton-platform:offline-diff -->\nsecond\n",
    ]
    assert set(_FakeGitLab.tokens) == {"glpat-test-token"}
    assert "glpat-test-token" not in capsys.readouterr().out


def test_gitlab_note_is_skipped_without_a_token(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GITLAB_NOTE_TOKEN", raising=False)
    comment = tmp_path / "diff.md"
    comment.write_text("x\n")
    assert gitlab_mr_note.main(["x", str(comment)]) == 0
    assert "not posted" in capsys.readouterr().err


def test_policy_pack_runs_in_its_own_environment():
    """pulumi-policy pins protobuf/grpcio below the project's lock, so it must not be a project dependency."""
    assert "pulumi-policy" not in (ROOT / "requirements.lock").read_text()
    assert "pulumi-policy" in (ROOT / "policy" / "requirements.txt").read_text()
    assert "import pulumi_policy" not in (ROOT / "policy" / "triton_policy_rules.py").read_text()
    assert "from pulumi_policy" not in (ROOT / "policy" / "triton_policy_rules.py").read_text()
    pack = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert pack["runtime"]["name"] == "python"


# --- Who can change what: a pull/merge request runs its branch's own code, so none of its jobs may
# hold a credential that can change a stack. Previews run in per-stack `preview-` environments whose
# credentials are read-only; credentials that can write live only in the stack's own environment,
# reachable from main alone. (The cloud side of the boundary, roles trusting only their environment's
# OIDC subject, is configuration outside this repository: docs/operations.md, "CI/CD: who can change what".)

_OIDC_CONSUMERS = (
    "google-github-actions/auth@",
    "aws-actions/configure-aws-credentials@",
    "pypa/gh-action-pypi-publish@",
)
_WRITES = re.compile(r"\bpulumi\s+(up|destroy|refresh|import|cancel|state|config\s+set|stack\s+rm)\b")


def _triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as true
    if isinstance(on, str):
        return {on: None}
    return dict.fromkeys(on) if isinstance(on, list) else dict(on)


def _environment(job: dict[str, Any]) -> str | None:
    env = job.get("environment")
    return env.get("name") if isinstance(env, dict) else env


def github_threats(name: str, workflow: dict[str, Any]) -> list[str]:
    """What lets unmerged code near a credential that can change a stack, in one workflow."""
    found: list[str] = []
    triggers = _triggers(workflow)
    for unsafe in ("pull_request_target", "workflow_run"):
        if unsafe in triggers:
            found.append(f"{name}: triggered by {unsafe}, which runs with the base repository's secrets")
    if "id-token" in (workflow.get("permissions") or {}):
        found.append(f"{name}: id-token at workflow level; grant it to the jobs that log in, only")
    on_pr = "pull_request" in triggers
    for job_id, job in workflow["jobs"].items():
        where = f"{name}: job {job_id}"
        environment = _environment(job)
        text = yaml.safe_dump(job)
        uses = [str(step.get("uses", "")) for step in job.get("steps", [])]
        oidc = (job.get("permissions") or {}).get("id-token") == "write"
        commands = [str((step.get("with") or {}).get("command", "")) for step in job.get("steps", [])]
        if oidc and not any(u.startswith(_OIDC_CONSUMERS) for u in uses):
            found.append(f"{where}: id-token: write without a step that logs in with it")
        preview = environment is not None and environment.startswith("preview-")
        if on_pr:
            if (oidc or "secrets." in text) and not preview:
                found.append(f"{where}: holds credentials outside a preview- environment in a pull-request workflow")
            if environment is not None and not preview:
                found.append(f"{where}: runs in environment {environment!r} in a pull-request workflow")
            if preview and "github.event_name == 'pull_request'" not in str(job.get("if", "")):
                found.append(f"{where}: a preview job that does not require github.event_name == 'pull_request'")
            if any(c and c != "preview" for c in commands) or _WRITES.search(text):
                found.append(f"{where}: changes a stack in a pull-request workflow")
        elif environment is not None and not preview and oidc and "pypa/gh-action-pypi-publish@" not in " ".join(uses):
            if "workflow_dispatch" in triggers and "github.ref == 'refs/heads/main'" not in str(job.get("if", "")):
                found.append(f"{where}: workflow_dispatch can run any branch with {environment!r}; require main")
            if set(triggers) - {"push", "schedule", "workflow_dispatch"} or any(
                b != "main" for b in ((triggers.get("push") or {}).get("branches") or ["main"])
            ):
                found.append(f"{where}: {environment!r} reachable from a trigger other than main")
    return found


def gitlab_threats(pipeline: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for job_id, raw in pipeline.items():
        if job_id.startswith(".") or not isinstance(raw, dict) or ("script" not in raw and "extends" not in raw):
            continue
        job = {**pipeline.get(raw.get("extends", ""), {}), **raw} if isinstance(raw.get("extends"), str) else raw
        where = f".gitlab-ci.yml: job {job_id}"
        env = job.get("environment") or {}
        name = env.get("name") if isinstance(env, dict) else env
        action = env.get("action") if isinstance(env, dict) else None
        rules = " ".join(str(rule.get("if", "")) for rule in job.get("rules", []))
        script = "\n".join(str(line) for key in ("before_script", "script") for line in job.get(key, []))
        preview = name is not None and name.startswith("preview/")
        if "id_tokens" in job and name is None:
            found.append(f"{where}: an ID token without an environment whose variables and trust bound it")
        if "merge_request_event" in rules or not job.get("rules"):
            if name is not None and not (preview and action == "prepare"):
                found.append(f"{where}: environment {name!r} ({action}) in merge-request pipelines")
            if _WRITES.search(script):
                found.append(f"{where}: changes a stack in merge-request pipelines")
        elif name is not None and not preview and name != "pypi":
            if any("$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" not in str(rule.get("if", "")) for rule in job["rules"]):
                found.append(f"{where}: environment {name!r} reachable from a branch other than the default")
    return found


def test_pull_requests_never_hold_credentials_that_can_change_a_stack():
    found = [t for path in WORKFLOWS for t in github_threats(path.name, yaml.safe_load(path.read_text()))]
    found += gitlab_threats(yaml.safe_load(GITLAB.read_text()))
    assert found == []
    ci = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    assert ci["jobs"]["preview"]["environment"] == "preview-${{ matrix.stack }}"
    assert yaml.safe_load(GITLAB.read_text())["preview"]["environment"] == {
        "name": "preview/$STACK",
        "action": "prepare",
    }


def _mutated(path: str, edit: Any) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / path).read_text())
    edit(data)
    return data


@pytest.mark.parametrize(
    ("path", "edit", "expected"),
    [
        (
            ".github/workflows/ci.yml",
            lambda w: w["jobs"]["preview"].pop("environment"),
            "ci.yml: job preview: holds credentials outside a preview- environment in a pull-request workflow",
        ),
        (
            ".github/workflows/ci.yml",
            lambda w: w["jobs"]["preview"].update(environment="${{ matrix.stack }}"),
            "ci.yml: job preview: runs in environment '${{ matrix.stack }}' in a pull-request workflow",
        ),
        (
            ".github/workflows/ci.yml",
            lambda w: w["jobs"]["preview"]["steps"][-1]["with"].update(command="up"),
            "ci.yml: job preview: changes a stack in a pull-request workflow",
        ),
        (
            ".github/workflows/ci.yml",
            lambda w: w["jobs"]["test"].update(permissions={"id-token": "write"}),
            "ci.yml: job test: id-token: write without a step that logs in with it",
        ),
        (
            ".github/workflows/ci.yml",
            lambda w: w.update({True: {"pull_request_target": None}}),
            "ci.yml: triggered by pull_request_target, which runs with the base repository's secrets",
        ),
        (
            ".github/workflows/deploy.yml",
            lambda w: w["jobs"]["up"].pop("if"),
            "deploy.yml: job up: workflow_dispatch can run any branch with '${{ matrix.stack }}'; require main",
        ),
        (
            ".github/workflows/deploy.yml",
            lambda w: w[True].update(pull_request=None),
            "deploy.yml: job up: runs in environment '${{ matrix.stack }}' in a pull-request workflow",
        ),
        (
            ".gitlab-ci.yml",
            lambda g: g["preview"].update(environment={"name": "$STACK"}),
            ".gitlab-ci.yml: job preview: environment '$STACK' (None) in merge-request pipelines",
        ),
        (
            ".gitlab-ci.yml",
            lambda g: g["deploy"]["rules"].append({"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}),
            ".gitlab-ci.yml: job deploy: environment '$STACK' (start) in merge-request pipelines",
        ),
        (
            ".gitlab-ci.yml",
            lambda g: g["preview"].update(script=["pulumi up --yes"]),
            ".gitlab-ci.yml: job preview: changes a stack in merge-request pipelines",
        ),
    ],
    ids=[
        "gh-preview-without-environment",
        "gh-preview-in-stack-environment",
        "gh-up-from-pr",
        "gh-needless-id-token",
        "gh-pull-request-target",
        "gh-dispatch-from-branch",
        "gh-deploy-on-pr",
        "gl-preview-in-stack-environment",
        "gl-deploy-on-mr",
        "gl-up-from-mr",
    ],
)
def test_the_threat_check_finds_a_prod_capable_pull_request_job(path, edit, expected):
    data = _mutated(path, edit)
    found = gitlab_threats(data) if path == ".gitlab-ci.yml" else github_threats(Path(path).name, data)
    assert expected in found
