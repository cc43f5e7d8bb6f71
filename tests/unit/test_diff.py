"""``triton-platform diff``: the merge-request comment names exactly the changed fields and flags
what a reviewer must look at hard (deletions of stateful or protected resources, renames without
an alias, secrets, IAM, stacks added or removed)."""

from __future__ import annotations

import copy
import json
import re
import runpy
from pathlib import Path
from typing import Any

import pytest

from triton_platform.cli import main
from triton_platform.diff import COMMENT_MARKER, Report, diff_renders, diff_stack
from triton_platform.diff_report import to_markdown
from triton_platform.render import record, render_stack, stack_config, write_render

ROOT = Path(__file__).resolve().parents[2]


def resource(type_: str, name: str, inputs: dict[str, Any], parent: str = "", **options: Any) -> dict[str, Any]:
    return {
        "id": f"{type_}::{name}", "type": type_, "name": name, "custom": True, "parent": parent,
        "provider": "", "dependsOn": [], "options": options, "inputs": inputs,
    }


def component(type_: str, name: str, parent: str = "") -> dict[str, Any]:
    return {**resource(type_, name, {}, parent), "custom": False}


BUCKET = resource("gcp:storage/bucket:Bucket", "model-bucket", {"name": "models-1a2b", "location": "US-CENTRAL1"},
                  protect=True)
POOL = resource("gcp:container/nodePool:NodePool", "gpu-pool", {"nodeConfig": {"machineType": "g2-standard-8"}})
DEPLOYMENT = resource(
    "kubernetes:apps/v1:Deployment",
    "triton-default",
    {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "triton-default", "namespace": "triton"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "triton"}},
                 "template": {"spec": {"containers": [
                     {"name": "tritonserver", "image": "nvcr.io/nvidia/tritonserver:26.10-py3",
                      "args": ["--model-repository=gs://m", "--exit-on-error=true"],
                      "env": [{"name": "HOME", "value": "/tmp"}, {"name": "TRITON_GCS_MOUNT_DIRECTORY", "value": "/c"}]}]}}},
    },
)
SECRET = resource("kubernetes:core/v1:Secret", "admin-key",
                  {"kind": "Secret", "metadata": {"name": "admin-key"}, "stringData": {"key": "[secret]"}},
                  additionalSecretOutputs=["data", "stringData"])


def stack(*resources: dict[str, Any], outputs: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"stack": "dev", "outputs": outputs or {}, "resources": [copy.deepcopy(r) for r in resources]}


def only(result, kind: str | None = None):
    changes = [r for r in result.resources if kind is None or r.kind == kind]
    assert len(changes) == 1, [(r.kind, r.id) for r in result.resources]
    return changes[0]


def test_identical_renders_have_no_change():
    result = diff_stack("dev", stack(BUCKET, DEPLOYMENT), stack(BUCKET, DEPLOYMENT))
    assert result.status == "unchanged" and result.unchanged == 2 and not result.flagged


def test_changed_fields_are_named_with_paths_and_values():
    head = stack(BUCKET, DEPLOYMENT)
    container = head["resources"][1]["inputs"]["spec"]["template"]["spec"]["containers"][0]
    container["image"] = "nvcr.io/nvidia/tritonserver:26.11-py3"
    container["args"].insert(1, "--log-verbose=1")
    container["env"].insert(1, {"name": "FOO", "value": "bar"})
    change = only(diff_stack("dev", stack(BUCKET, DEPLOYMENT), head))
    lines = [f.line() for f in change.fields]
    prefix = "inputs.spec.template.spec.containers[0]"
    assert lines == [
        f'+ {prefix}.args[1]: "--log-verbose=1"',
        f'+ {prefix}.env[1]: {{"name": "FOO", "value": "bar"}}',
        f'~ {prefix}.image: "nvcr.io/nvidia/tritonserver:26.10-py3" -> "nvcr.io/nvidia/tritonserver:26.11-py3"',
    ]
    assert change.flags == []


def test_protected_bucket_deletion_is_flagged():
    result = diff_stack("dev", stack(BUCKET, DEPLOYMENT), stack(DEPLOYMENT))
    removed = only(result, "removed")
    assert removed.id == "gcp:storage/bucket:Bucket::model-bucket"
    assert any("protected resource deleted" in f for f in removed.flags)


def test_stateful_deletion_and_replacement_are_flagged_but_a_deployment_replacement_is_a_note():
    assert any("stateful NodePool deleted" in f for f in only(diff_stack("dev", stack(POOL), stack())).flags)

    bigger = stack(POOL)
    bigger["resources"][0]["inputs"]["nodeConfig"]["machineType"] = "g2-standard-24"
    change = only(diff_stack("dev", stack(POOL), bigger))
    assert change.flags == ["stateful NodePool may be replaced: `inputs.nodeConfig.machineType` cannot be changed in place"]

    moved = stack(BUCKET)
    moved["resources"][0]["inputs"]["location"] = "EU"
    assert "protected may be replaced (delete first: it has an explicit name)" in only(diff_stack("dev", stack(BUCKET), moved)).flags[0]

    selector = stack(DEPLOYMENT)
    selector["resources"][0]["inputs"]["spec"]["selector"]["matchLabels"]["tier"] = "gpu"
    change = only(diff_stack("dev", stack(DEPLOYMENT), selector))
    assert change.flags == [] and "may be replaced" in change.notes[0]


def test_config_map_and_secret_content_changes_are_replacements_as_the_kubernetes_provider_decides():
    """The real engine replaced the dashboard ConfigMap when only its data changed (tests/e2e): the
    Kubernetes provider treats ConfigMap and Secret contents as immutable by default."""
    dashboard = resource("kubernetes:core/v1:ConfigMap", "dashboard",
                         {"kind": "ConfigMap", "metadata": {"name": "triton-dashboard"}, "data": {"d.json": "{}"}})
    edited = stack(dashboard)
    edited["resources"][0]["inputs"]["data"]["d.json"] = '{"panels": []}'
    change = only(diff_stack("dev", stack(dashboard), edited))
    assert change.notes == [
        "may be replaced (delete first: it has an explicit name): `inputs.data[\"d.json\"]` cannot be changed in place"
    ]

    rotated = stack(SECRET)
    rotated["resources"][0]["inputs"]["stringData"]["key"] = "[secret] "
    change = only(diff_stack("dev", stack(SECRET), rotated))
    assert "may be replaced" in change.notes[0] and "secret-bearing resource changed" in change.flags

    labelled = stack(dashboard)
    labelled["resources"][0]["inputs"]["metadata"]["labels"] = {"team": "ml"}
    assert only(diff_stack("dev", stack(dashboard), labelled)).notes == []


def test_rename_without_alias_is_flagged_and_with_alias_is_not():
    renamed = copy.deepcopy(BUCKET)
    renamed.update(id="gcp:storage/bucket:Bucket::models", name="models")
    result = diff_stack("dev", stack(BUCKET), stack(renamed))
    removed = only(result, "removed")
    assert any("without an alias" in f and 'pulumi.Alias(name="model-bucket")' in f for f in removed.flags)
    assert "replaces" in only(result, "added").notes[0]

    renamed["options"]["aliases"] = [{"spec": {"name": "model-bucket", "parentUrn": ""}}]
    result = diff_stack("dev", stack(BUCKET), stack(renamed))
    change = only(result)
    assert change.kind == "renamed" and change.flags == [] and change.previous_id == BUCKET["id"]


def test_reparent_to_another_component_type_without_alias_is_flagged():
    old_parent = component("tritonplatform:index:TritonServer", "triton")
    new_parent = component("tritonplatform:index:TritonModelGroup", "triton-default")
    before = copy.deepcopy(DEPLOYMENT)
    before["parent"] = old_parent["id"]
    after = copy.deepcopy(DEPLOYMENT)
    after["parent"] = new_parent["id"]
    result = diff_stack("dev", stack(old_parent, new_parent, before), stack(old_parent, new_parent, after))
    change = only(result)
    assert any("parent changed" in f and "without an alias" in f for f in change.flags)

    after["options"]["aliases"] = [{"spec": {"parentUrn": "urn:pulumi:dev::triton-platform::x::triton"}}]
    result = diff_stack("dev", stack(old_parent, new_parent, before), stack(old_parent, new_parent, after))
    assert only(result).flags == []


def test_secret_values_never_appear_in_the_comment():
    plaintext = copy.deepcopy(SECRET)
    plaintext["inputs"]["stringData"] = {"key": "hunter2-old"}
    changed = copy.deepcopy(SECRET)
    changed["inputs"]["stringData"] = {"key": "hunter2-new", "extra": "s3cr3t"}
    result = diff_stack("dev", stack(plaintext), stack(changed))
    change = only(result)
    assert "secret-bearing resource changed" in change.flags
    markdown = to_markdown(Report("a", "b", [result]))
    assert "hunter2" not in markdown and "s3cr3t" not in markdown
    assert "inputs.stringData.key: (secret changed; value not shown)" in markdown


def test_iam_changes_are_flagged():
    grant = resource("gcp:projects/iAMMember:IAMMember", "nodes-logwriter",
                     {"role": "roles/logging.logWriter", "member": "serviceAccount:n@p.iam.gserviceaccount.com"})
    added = only(diff_stack("dev", stack(), stack(grant)))
    assert added.kind == "added" and any("IAM" in f for f in added.flags)
    assert '+ inputs.role: "roles/logging.logWriter"' in [f.line() for f in added.fields]
    wider = copy.deepcopy(grant)
    wider["inputs"]["role"] = "roles/editor"
    assert any("IAM" in f for f in only(diff_stack("dev", stack(grant), stack(wider))).flags)


def test_stacks_added_or_removed_are_flagged():
    results = {s.stack: s for s in diff_renders({"dev": stack(BUCKET)}, {"prod": {**stack(BUCKET), "stack": "prod"}})}
    assert results["dev"].status == "removed" and results["prod"].status == "added"
    assert all(s.flags for s in results.values())


def test_markdown_has_summary_flags_and_details_and_fits_a_comment():
    head = stack(DEPLOYMENT, outputs={"endpoint": "b"})
    head["resources"][0]["inputs"]["spec"]["replicas"] = 2
    report = Report("base", "head", [diff_stack("dev", stack(BUCKET, DEPLOYMENT, outputs={"endpoint": "a"}), head)])
    markdown = to_markdown(report)
    assert markdown.startswith(COMMENT_MARKER)
    assert "| dev | changed (+ outputs) | 0 | 1 | 1 | 0 | ⚠️ 1 |" in markdown
    assert "### ⚠️ Needs careful review" in markdown and "`gcp:storage/bucket:Bucket::model-bucket`" in markdown
    assert "~ inputs.spec.replicas: 1 -> 2" in markdown and '~ endpoint: "a" -> "b"' in markdown
    short = to_markdown(report, max_chars=len(markdown) - 1)
    assert len(short) < len(markdown) and "left out to fit" in short and "⚠️ Needs careful review" in short and "inputs.spec.replicas" not in short


def test_a_config_change_yields_exactly_the_changed_field(tmp_path):
    """End to end on a committed stack: one model group's CPU changes, only its CPU fields show."""
    stack_name = "staging" if (ROOT / "Pulumi.staging.yaml").exists() else "dev"
    config, secret_keys = stack_config(ROOT / f"Pulumi.{stack_name}.yaml")
    groups = json.loads(config["triton-platform:modelGroups"])
    before = str(groups[0].get("cpu", "4"))
    after = str(int(before) - 1)
    groups[0]["cpu"] = after
    config["triton-platform:modelGroups"] = json.dumps(groups)
    head = record(lambda: runpy.run_path(str(ROOT / "stacks"), run_name="__main__"), stack_name, config, secret_keys)
    write_render(render_stack(ROOT, stack_name), tmp_path / "base")
    write_render(head, tmp_path / "head")

    out = tmp_path / "diff.md"
    assert main(["diff", str(tmp_path / "base"), str(tmp_path / "head"), "--fail-on-flagged", "--output", str(out)]) == 0
    markdown = out.read_text()
    changed = [line for line in markdown.splitlines() if line.startswith(("~ ", "+ ", "- "))]
    expected = re.compile(
        rf'^~ inputs\.spec\.template\.spec\.containers\[\d+\]\.resources\.(limits|requests)\.cpu: "{before}" -> "{after}"$'
    )
    assert changed and all(expected.match(line) for line in changed), changed
    assert f"| {stack_name} | changed |" in markdown and "Needs careful review" not in markdown


def test_cli_fails_on_flagged_only_when_asked(tmp_path, capsys):
    for side, resources in (("base", [BUCKET, DEPLOYMENT]), ("head", [DEPLOYMENT])):
        (tmp_path / side / "dev").mkdir(parents=True)
        (tmp_path / side / "dev" / "resources.json").write_text(json.dumps(stack(*resources)))
    base, head = str(tmp_path / "base"), str(tmp_path / "head")
    assert main(["diff", base, head]) == 0
    assert "protected resource deleted" in capsys.readouterr().out
    assert main(["diff", base, head, "--fail-on-flagged"]) == 1
    assert main(["diff", str(tmp_path / "missing"), head]) == 2


@pytest.mark.parametrize("stack_name", ["dev"])
def test_golden_render_against_itself_is_unchanged(stack_name):
    golden = ROOT / "tests" / "golden"
    if not (golden / stack_name / "resources.json").exists():
        pytest.skip("no golden render yet")
    payload = json.loads((golden / stack_name / "resources.json").read_text())
    assert diff_stack(stack_name, payload, payload).status == "unchanged"


def test_sdk_secret_outputs_alone_do_not_make_a_bucket_edit_secret_bearing():
    """The GCP SDK marks effectiveLabels/pulumiLabels as secret *outputs* on every bucket; only a
    secret input (a ``[secret]`` value, or a type that holds one) makes a change secret-bearing."""
    labelled = resource("gcp:storage/bucket:Bucket", "model-bucket",
                        {"name": "models-1a2b", "labels": {"team": "ml"}},
                        protect=True, additionalSecretOutputs=["effectiveLabels", "pulumiLabels"])
    relabelled = copy.deepcopy(labelled)
    relabelled["inputs"]["labels"]["team"] = "platform"
    change = only(diff_stack("dev", stack(labelled), stack(relabelled)))
    assert change.flags == []
    assert [f.line() for f in change.fields] == ['~ inputs.labels.team: "ml" -> "platform"']
    assert only(diff_stack("dev", stack(), stack(labelled))).flags == []

    with_secret = copy.deepcopy(labelled)
    with_secret["inputs"]["encryption"] = {"defaultKmsKeyName": "[secret]"}
    changed_secret = copy.deepcopy(with_secret)
    changed_secret["inputs"]["labels"]["team"] = "platform"
    assert "secret-bearing resource changed" in only(diff_stack("dev", stack(with_secret), stack(changed_secret))).flags


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\xff\x00", "is not UTF-8 JSON (byte 0xff at offset 0)"),
        (b'{"resources": [', "is not JSON: Expecting value: line 1 column 16 (char 15)"),
        (b"[]", "holds a list, not a render (an object with stack, outputs and resources)"),
        (b'{"stack": "dev"}', "has no resources list"),
        (b'{"resources": [{"id": "a::b", "type": "t"}]}', "resources[0] has no text name"),
        (b'{"resources": [{"id": "a::b", "type": "t", "name": "b", "options": []}]}',
         "resources[0].options is a list, not an object"),
    ],
)
def test_a_damaged_render_is_one_message_naming_the_file(tmp_path, capsys, content, problem):
    for side in ("base", "head"):
        (tmp_path / side / "dev").mkdir(parents=True)
        (tmp_path / side / "dev" / "resources.json").write_text(json.dumps(stack(BUCKET)))
    damaged = tmp_path / "head" / "dev" / "resources.json"
    damaged.write_bytes(content)
    assert main(["diff", str(tmp_path / "base"), str(tmp_path / "head")]) == 2
    assert capsys.readouterr().err == f"triton-platform diff: {damaged}: {problem}\n"


def test_a_render_file_that_is_a_directory_is_named(tmp_path, capsys):
    (tmp_path / "base").mkdir()
    (tmp_path / "head" / "dev" / "resources.json").mkdir(parents=True)
    assert main(["diff", str(tmp_path / "base"), str(tmp_path / "head")]) == 2
    assert capsys.readouterr().err == (
        f"triton-platform diff: {tmp_path / 'head' / 'dev' / 'resources.json'}: cannot be read: is a directory\n"
    )
