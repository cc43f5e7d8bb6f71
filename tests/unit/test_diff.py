"""``triton-platform diff``: the merge-request comment names exactly the changed fields and flags
what a reviewer must look at hard (deletions of stateful or protected resources, renames without
an alias, secrets, IAM, stacks added or removed)."""

from __future__ import annotations

import copy
import functools
import json
import re
import runpy
from pathlib import Path
from typing import Any

import pytest

from triton_platform.cli import main
from triton_platform.review.diff import COMMENT_MARKER, Report, diff_renders, diff_stack, has_replacement_rule
from triton_platform.review.diff_report import to_markdown
from triton_platform.review.render import record, render_stack, stack_config, write_render

ROOT = Path(__file__).resolve().parents[2]


def resource(type_: str, name: str, inputs: dict[str, Any], parent: str = "", **options: Any) -> dict[str, Any]:
    return {
        "id": f"{type_}::{name}",
        "type": type_,
        "name": name,
        "custom": True,
        "parent": parent,
        "provider": "",
        "dependsOn": [],
        "options": options,
        "inputs": inputs,
    }


def component(type_: str, name: str, parent: str = "") -> dict[str, Any]:
    return {**resource(type_, name, {}, parent), "custom": False}


BUCKET = resource(
    "gcp:storage/bucket:Bucket", "model-bucket", {"name": "models-1a2b", "location": "US-CENTRAL1"}, protect=True
)
POOL = resource("gcp:container/nodePool:NodePool", "gpu-pool", {"nodeConfig": {"machineType": "g2-standard-8"}})
DEPLOYMENT = resource(
    "kubernetes:apps/v1:Deployment",
    "triton-default",
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "triton-default", "namespace": "triton"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "triton"}},
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "tritonserver",
                            "image": "nvcr.io/nvidia/tritonserver:26.10-py3",
                            "args": ["--model-repository=gs://m", "--exit-on-error=true"],
                            "env": [
                                {"name": "HOME", "value": "/tmp"},
                                {"name": "TRITON_GCS_MOUNT_DIRECTORY", "value": "/c"},
                            ],
                        }
                    ]
                }
            },
        },
    },
)
SECRET = resource(
    "kubernetes:core/v1:Secret",
    "admin-key",
    {"kind": "Secret", "metadata": {"name": "admin-key"}, "stringData": {"key": "[secret]"}},
    additionalSecretOutputs=["data", "stringData"],
)


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

    spot = stack(POOL)
    spot["resources"][0]["inputs"]["nodeConfig"]["spot"] = True
    change = only(diff_stack("dev", stack(POOL), spot))
    assert change.flags == ["stateful NodePool may be replaced: `inputs.nodeConfig.spot` cannot be changed in place"]
    # A GKE node pool resizes its machines in place (node_config.go ``nodePoolNodeConfigUpdate``).
    bigger = stack(POOL)
    bigger["resources"][0]["inputs"]["nodeConfig"]["machineType"] = "g2-standard-24"
    assert only(diff_stack("dev", stack(POOL), bigger)).flags == []

    moved = stack(BUCKET)
    moved["resources"][0]["inputs"]["location"] = "EU"
    assert (
        "protected may be replaced (delete first: it has an explicit name)"
        in only(diff_stack("dev", stack(BUCKET), moved)).flags[0]
    )

    selector = stack(DEPLOYMENT)
    selector["resources"][0]["inputs"]["spec"]["selector"]["matchLabels"]["tier"] = "gpu"
    change = only(diff_stack("dev", stack(DEPLOYMENT), selector))
    assert change.flags == [] and "may be replaced" in change.notes[0]


def test_config_map_and_secret_content_changes_are_replacements_as_the_kubernetes_provider_decides():
    """The real engine replaced the dashboard ConfigMap when only its data changed (tests/e2e): the
    Kubernetes provider treats ConfigMap and Secret contents as immutable by default."""
    dashboard = resource(
        "kubernetes:core/v1:ConfigMap",
        "dashboard",
        {"kind": "ConfigMap", "metadata": {"name": "triton-dashboard"}, "data": {"d.json": "{}"}},
    )
    edited = stack(dashboard)
    edited["resources"][0]["inputs"]["data"]["d.json"] = '{"panels": []}'
    change = only(diff_stack("dev", stack(dashboard), edited))
    assert change.notes == [
        'may be replaced (delete first: it has an explicit name): `inputs.data["d.json"]` cannot be changed in place'
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
    grant = resource(
        "gcp:projects/iAMMember:IAMMember",
        "nodes-logwriter",
        {"role": "roles/logging.logWriter", "member": "serviceAccount:n@p.iam.gserviceaccount.com"},
    )
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
    assert (
        len(short) < len(markdown)
        and "left out to fit" in short
        and "⚠️ Needs careful review" in short
        and "inputs.spec.replicas" not in short
    )


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
    assert (
        main(["diff", str(tmp_path / "base"), str(tmp_path / "head"), "--fail-on-flagged", "--output", str(out)]) == 0
    )
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
    labelled = resource(
        "gcp:storage/bucket:Bucket",
        "model-bucket",
        {"name": "models-1a2b", "labels": {"team": "ml"}},
        protect=True,
        additionalSecretOutputs=["effectiveLabels", "pulumiLabels"],
    )
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
        (
            b'{"resources": [{"id": "a::b", "type": "t", "name": "b", "options": []}]}',
            "resources[0].options is a list, not an object",
        ),
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


# ---------------------------------------------------------------------------------------------
# On the committed renders: replacement rules per kind, every changed value shown, stacks compared
# across names, wrong folders refused, a new stack summarised.

GOLDEN = ROOT / "tests" / "golden"


def _golden(stack_name: str) -> dict[str, Any]:
    path = GOLDEN / stack_name / "resources.json"
    assert path.exists(), f"no golden render of {stack_name}; run `make golden`"
    return json.loads(path.read_text())


def _golden_kinds() -> dict[str, dict[str, Any]]:
    """The first resource of every Kubernetes type (custom resources and Helm releases included)
    in the committed renders."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(GOLDEN.glob("*/resources.json")):
        for r in json.loads(path.read_text())["resources"]:
            if r["custom"] and r["type"].startswith("kubernetes:"):
                found.setdefault(r["type"], r)
    return found


def _replaces(before: dict[str, Any], edit) -> list[str]:
    """The paths the diff says force a replacement after ``edit`` changed a copy of ``before``."""
    after = copy.deepcopy(before)
    edit(after["inputs"])
    change = only(diff_stack("dev", stack(before), stack(after)))
    assert change.fields, "the edit changed nothing"
    text = " ".join(change.notes + change.flags)
    return (
        re.findall(r"`(inputs\.[^`]+)`", text.split("cannot be changed in place")[0])
        if "may be replaced" in text
        else []
    )


def test_a_helm_release_whose_name_or_namespace_changes_is_replaced_but_its_values_update():
    """helm_release.go Diff: ``forceNewFields := []string{".name", ".namespace"}``, never delete-first."""
    release = _golden_kinds()["kubernetes:helm.sh/v3:Release"]
    assert _replaces(release, lambda i: i.update(name=i["name"] + "-2")) == ["inputs.name"]
    assert _replaces(release, lambda i: i.update(namespace="elsewhere")) == ["inputs.namespace"]
    renamed = copy.deepcopy(release)
    renamed["inputs"]["name"] += "-2"
    change = only(diff_stack("dev", stack(release), stack(renamed)))
    assert "delete first" not in " ".join(change.notes + change.flags)
    assert _replaces(release, lambda i: i.update(version="0.0.1-other")) == []


# What each Kubernetes kind of the renders does on a change, as the provider decides it
# (pulumi-kubernetes pkg/provider/diff.go): (edit, replaced?) beyond metadata.name.
_KIND_CHANGES = {
    "Deployment": [
        (lambda i: i["spec"]["selector"]["matchLabels"].update(extra="x"), True),
        (lambda i: i["spec"].update(replicas=7), False),
        (lambda i: i["spec"]["template"]["metadata"].setdefault("labels", {}).update(extra="x"), False),
    ],
    "Service": [
        (lambda i: i["spec"].update(clusterIP="10.0.0.9"), True),
        (lambda i: i["spec"].update(type="NodePort"), False),
    ],
    "Secret": [(lambda i: i.update(type="Opaque-2"), True)],
    "ConfigMap": [(lambda i: i.setdefault("data", {}).update(extra="x"), True)],
    "PodDisruptionBudget": [(lambda i: i["spec"].update(maxUnavailable=3), False)],  # policy/v1
    "NetworkPolicy": [(lambda i: i["spec"].update(policyTypes=["Ingress"]), False)],
    "ServiceAccount": [(lambda i: i.update(automountServiceAccountToken=True), False)],
    "Namespace": [(lambda i: i.update(spec={"finalizers": ["x"]}), False)],
}


@pytest.mark.parametrize("type_", sorted(_golden_kinds()))
def test_replacement_rules_match_the_kubernetes_provider_for_every_rendered_kind(type_):
    """Every object is replaced when its name or namespace changes (a Helm release: its own);
    a label never replaces; the kind's own immutable fields do, its other fields update in place.
    A kind of the renders that this test has no case for is a custom resource: name only."""
    resource = _golden_kinds()[type_]
    if type_ == "kubernetes:helm.sh/v3:Release":
        assert _replaces(resource, lambda i: i.update(name="other")) == ["inputs.name"]
        return
    assert _replaces(resource, lambda i: i["metadata"].update(name="other")) == ["inputs.metadata.name"]
    assert _replaces(resource, lambda i: i["metadata"].update(namespace="other")) == ["inputs.metadata.namespace"]
    assert _replaces(resource, lambda i: i["metadata"].setdefault("labels", {}).update(extra="x")) == []
    kind = resource["inputs"]["kind"]
    group = type_.split(":")[1].split("/")[0]
    if group in ("core", "apps", "policy", "networking.k8s.io"):
        assert kind in _KIND_CHANGES, f"{kind} is new in the renders: add its cases from the provider's forceNew list"
    for edit, replaced in _KIND_CHANGES.get(kind, [(lambda i: i.setdefault("spec", {}).update(extra="x"), False)]):
        assert bool(_replaces(resource, edit)) is replaced, (kind, replaced)


def test_every_changed_route_and_weight_shows_in_full():
    """A new route of a rendered VirtualService: every field of it, weights included, on a line of its own."""
    (virtual_service,) = [r for r in _golden("staging")["resources"] if r["type"].endswith(":VirtualService")]
    after = copy.deepcopy(virtual_service)
    routes = after["inputs"]["spec"]["http"]
    new_route = copy.deepcopy(next(r for r in routes if len(r["route"]) == 2))
    new_route["name"] = "vision-http-v2"
    new_route["route"][0]["weight"], new_route["route"][1]["weight"] = 63, 37
    routes.append(new_route)
    routes[0]["timeout"] = "61s"
    markdown = to_markdown(Report("a", "b", [diff_stack("staging", stack(virtual_service), stack(after))]))
    lines = [line for line in markdown.splitlines() if line.startswith(("+ ", "- ", "~ "))]
    index = len(routes) - 1
    assert f"+ inputs.spec.http[{index}].route[0].weight: 63" in lines
    assert f"+ inputs.spec.http[{index}].route[1].weight: 37" in lines
    assert (
        f'+ inputs.spec.http[{index}].route[1].destination.subset: "{new_route["route"][1]["destination"]["subset"]}"'
        in lines
    )
    assert '~ inputs.spec.http[0].timeout: "60s" -> "61s"' in lines
    assert not [line for line in lines if "…" in line]


def _write_renders(root: Path, payloads: dict[str, dict[str, Any]]) -> Path:
    for name, payload in payloads.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / "resources.json").write_text(json.dumps({**payload, "stack": name}))
    return root


def test_stack_map_compares_a_new_stack_with_the_one_it_was_copied_from(tmp_path, capsys):
    dev = _golden("dev")
    mine = copy.deepcopy(dev)
    (pool,) = [r for r in mine["resources"] if r["type"] == "gcp:container/nodePool:NodePool"]
    before_type = pool["inputs"]["nodeConfig"]["machineType"]
    pool["inputs"]["nodeConfig"]["machineType"] = "g2-standard-96"
    base = _write_renders(tmp_path / "base", {"dev": dev})
    head = _write_renders(tmp_path / "head", {"dev": dev, "mine": mine})

    assert main(["diff", str(base), str(head), "--stack-map", "dev=mine"]) == 0
    markdown = capsys.readouterr().out
    assert "| dev | unchanged |" in markdown and "| dev → mine | changed |" in markdown
    changed = [line for line in markdown.splitlines() if re.match(r"[-+~] (inputs|options|parent)", line)]
    assert changed == [f'~ inputs.nodeConfig.machineType: "{before_type}" -> "g2-standard-96"']

    assert main(["diff", str(base), str(head)]) == 0
    assert "| mine | added |" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("dev", "--stack-map dev: give BASE_STACK=HEAD_STACK, e.g. --stack-map dev=mine"),
        ("dev=", "--stack-map dev=: give BASE_STACK=HEAD_STACK, e.g. --stack-map dev=mine"),
        ("dev=yours", "--stack-map dev=yours: no stack 'yours' on the head side (rendered there: dev, mine)"),
        ("qa=mine", "--stack-map qa=mine: no stack 'qa' on the base side (rendered there: dev)"),
    ],
)
def test_a_bad_stack_map_is_one_message(tmp_path, capsys, argument, message):
    base = _write_renders(tmp_path / "base", {"dev": stack(BUCKET)})
    head = _write_renders(tmp_path / "head", {"dev": stack(BUCKET), "mine": stack(BUCKET)})
    assert main(["diff", str(base), str(head), "--stack-map", argument]) == 2
    assert capsys.readouterr().err == f"triton-platform diff: {message}\n"


def test_folders_without_renders_are_refused(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert main(["diff", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert capsys.readouterr().err == (
        f"triton-platform diff: no rendered stack in {tmp_path / 'a'} or {tmp_path / 'b'}: give the folders "
        f"`triton-platform render --out DIR` wrote (each holds <stack>/resources.json)\n"
    )
    one = _write_renders(tmp_path / "rendered", {"dev": stack(BUCKET)}) / "dev"
    assert main(["diff", str(one), str(one)]) == 2
    assert capsys.readouterr().err == (
        f"triton-platform diff: {one} is one stack's render; give the folder that holds it ({one.parent})\n"
    )


def test_a_new_stack_is_summarised_by_type():
    """Its first diff is a count per type (names where a reviewer looks: IAM, secrets, stateful),
    not a row per resource; the fields come from --stack-map against the stack it was copied from."""
    dev = _golden("dev")
    report = Report("a", "b", diff_renders({"dev": dev}, {"dev": dev, "mine": {**dev, "stack": "mine"}}))
    markdown = to_markdown(report)
    section = markdown.split("### Stack `mine` (added)", 1)[1]
    types = {r["type"] for r in dev["resources"]}
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert len(rows) == len(types)
    namespaces = sum(1 for r in dev["resources"] if r["type"] == "kubernetes:core/v1:Namespace")
    assert f"| `kubernetes:core/v1:Namespace` | {namespaces} |" in section
    deployment = next(r for r in dev["resources"] if r["type"] == "kubernetes:apps/v1:Deployment")
    assert deployment["name"] not in section and "<details>" not in section
    grants = [r["name"] for r in dev["resources"] if r["type"] == "gcp:projects/iAMMember:IAMMember"]
    assert grants and all(name in section for name in grants)
    assert "--stack-map <that stack>=mine" in section
    assert len(markdown) < 6000


def _golden_cloud(type_: str) -> dict[str, Any]:
    """The first resource of a cloud (or random) type in the committed renders."""
    for path in sorted(GOLDEN.glob("*/resources.json")):
        for r in json.loads(path.read_text())["resources"]:
            if r["type"] == type_:
                return r
    raise AssertionError(f"no {type_} in tests/golden: pick a type the renders still contain")


# Cloud resources as their providers decide (the Terraform providers they bridge): a resource with
# no update at all is replaced on any change; others on their ForceNew/RequiresReplace fields only.
_CLOUD_CHANGES = [
    # IAM members have no update in the Google provider: role and member are ForceNew.
    ("gcp:projects/iAMMember:IAMMember", lambda i: i.update(role="roles/viewer"), True),
    ("gcp:projects/iAMMember:IAMMember", lambda i: i.update(member="user:someone@example.com"), True),
    # aws_iam_role_policy_attachment: role and policy_arn are ForceNew (no update).
    (
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        lambda i: i.update(policyArn="arn:aws:iam::aws:policy/ReadOnlyAccess"),
        True,
    ),
    # random_password: every argument requires replacement (a new value).
    ("random:index/randomPassword:RandomPassword", lambda i: i.update(length=i["length"] + 1), True),
    # aws_eks_node_group: the name prefix and the launch template's id are ForceNew; scaling updates.
    ("aws:eks/nodeGroup:NodeGroup", lambda i: i.update(nodeGroupNamePrefix="other-"), True),
    ("aws:eks/nodeGroup:NodeGroup", lambda i: i["launchTemplate"].update(id="lt-0123456789abcdef0"), True),
    (
        "aws:eks/nodeGroup:NodeGroup",
        lambda i: i["scalingConfig"].update(maxSize=i["scalingConfig"]["maxSize"] + 1),
        False,
    ),
    ("aws:eks/nodeGroup:NodeGroup", lambda i: i["launchTemplate"].update(version="7"), False),
    # google_service_account_key: every argument is ForceNew.
    ("gcp:serviceaccount/key:Key", lambda i: i.update(keyAlgorithm="KEY_ALG_RSA_1024"), True),
]


@pytest.mark.parametrize(
    ("type_", "edit", "replaced"),
    _CLOUD_CHANGES,
    ids=[f"{t.rsplit(':', 1)[-1]}-{n}" for n, (t, _, _) in enumerate(_CLOUD_CHANGES)],
)
def test_replacement_rules_of_rendered_cloud_resources_match_their_providers(type_, edit, replaced):
    assert bool(_replaces(_golden_cloud(type_), edit)) is replaced


def test_a_kms_key_is_replaced_when_an_immutable_key_setting_changes_and_rotates_in_place():
    """google_kms_crypto_key: destroy_scheduled_duration is ForceNew, rotation_period updates."""
    key = {
        "id": "gcp:kms/cryptoKey:CryptoKey::cluster-secrets-key-key",
        "type": "gcp:kms/cryptoKey:CryptoKey",
        "name": "cluster-secrets-key-key",
        "custom": True,
        "options": {"protect": True},
        "inputs": {
            "name": "gke-secrets",
            "keyRing": "projects/p/locations/us-central1/keyRings/r",
            "purpose": "ENCRYPT_DECRYPT",
            "rotationPeriod": "7776000s",
            "destroyScheduledDuration": "2592000s",
        },
    }
    assert _replaces(key, lambda i: i.update(destroyScheduledDuration="86400s")) == ["inputs.destroyScheduledDuration"]
    assert _replaces(key, lambda i: i.update(rotationPeriod="2592000s")) == []


# Every cloud type a stack can declare: the committed renders, plus the variants that declare what
# they do not (a GKE cluster the stack creates, an AWS reader with an access key).
_VARIANTS = {
    "prod-created-cluster": (
        "prod",
        "gcp",
        {"cluster": {"create": True, "masterAuthorizedNetworks": ["203.0.113.0/24"]}},
    ),
    "dev-aws-access-key": ("dev-aws", "aws", {"identity": "key"}),
}


@functools.cache
def _variant(label: str) -> tuple[dict[str, Any], ...]:
    """The resources of a committed stack rendered with one section of its config changed."""
    stack_name, key, change = _VARIANTS[label]
    config, secret_keys = stack_config(ROOT / f"Pulumi.{stack_name}.yaml")
    section = json.loads(config[f"triton-platform:{key}"])
    for name, value in change.items():
        section[name] = {**section.get(name, {}), **value} if isinstance(value, dict) else value
    config = {**config, f"triton-platform:{key}": json.dumps(section)}
    render = record(lambda: runpy.run_path(str(ROOT / "stacks"), run_name="__main__"), stack_name, config, secret_keys)
    return tuple(render.resources)


def _every_renderable_resource() -> list[dict[str, Any]]:
    found = [r for path in sorted(GOLDEN.glob("*/resources.json")) for r in json.loads(path.read_text())["resources"]]
    return found + [r for label in _VARIANTS for r in _variant(label)]


def _rendered(type_: str) -> dict[str, Any]:
    """The first resource of ``type_`` in the committed renders or their variants."""
    for r in _every_renderable_resource():
        if r["type"] == type_:
            return copy.deepcopy(r)
    raise AssertionError(f"no {type_} in tests/golden or the variants: pick a type a stack still declares")


def test_every_type_a_stack_can_declare_has_a_replacement_rule_from_its_provider():
    """A type new in the renders fails here by name: add its ForceNew fields from the provider's
    schema to ``CLOUD_FORCE_NEW`` (or its Kubernetes kind to ``KUBERNETES_FORCE_NEW``)."""
    types = {r["type"] for r in _every_renderable_resource() if r.get("custom", True)}
    declared = {
        "gcp:container/cluster:Cluster",
        "gcp:compute/routerNat:RouterNat",
        "aws:iam/accessKey:AccessKey",
        "aws:s3/bucket:Bucket",
        "gcp:container/nodePool:NodePool",
    }
    assert declared <= types, "a variant no longer declares its types"
    assert sorted(t for t in types if not has_replacement_rule(t)) == []


def test_a_type_without_a_provider_rule_is_a_guess_that_says_so():
    own = resource("acme:index/thing:Thing", "thing", {"name": "a", "size": 1})
    renamed = copy.deepcopy(own)
    renamed["inputs"]["name"] = "b"
    notes = only(diff_stack("dev", stack(own), stack(renamed))).notes
    assert notes == [
        "may be replaced (delete first: it has an explicit name): `inputs.name` (a guess: no rule from the "
        "provider of `acme:index/thing:Thing`) cannot be changed in place"
    ]


def _set(path: str, value: Any):
    """An edit that sets the dotted ``path`` (``[0]`` picks a list item) of the inputs to ``value``."""

    def edit(inputs: dict[str, Any]) -> None:
        *parents, last = re.findall(r"[^.\[\]]+|\[\d+\]", path)
        node: Any = inputs
        for part in parents:
            node = node[int(part[1:-1])] if part.startswith("[") else node.setdefault(part, {})
        node[last] = value(node.get(last)) if callable(value) else value

    return edit


# (type, edit, replaced?) on real fields of the renders, each as the type's provider decides it.
_PROVIDER_FIELDS = [
    # container/node_config.go: machine, disk, labels and taints update; GPUs, spot, identity, metadata replace.
    ("gcp:container/nodePool:NodePool", _set("nodeConfig.machineType", "n1-standard-16"), False),
    ("gcp:container/nodePool:NodePool", _set("nodeConfig.diskSizeGb", 500), False),
    ("gcp:container/nodePool:NodePool", _set("nodeConfig.labels.extra", "x"), False),
    ("gcp:container/nodePool:NodePool", _set("nodeConfig.taints", []), False),
    ("gcp:container/nodePool:NodePool", _set("nodeConfig.workloadMetadataConfig.mode", "GCE_METADATA"), False),
    ("gcp:container/nodePool:NodePool", _set("nodeConfig.spot", lambda v: not v), True),
    ("gcp:container/nodePool:NodePool", _set("nodeConfig.guestAccelerators[0].count", 2), True),
    ("gcp:container/nodePool:NodePool", _set("nodeConfig.serviceAccount", "other@p.iam.gserviceaccount.com"), True),
    ("gcp:container/nodePool:NodePool", _set("nodeConfig.oauthScopes", []), True),
    ("gcp:container/nodePool:NodePool", _set("nodeConfig.shieldedInstanceConfig.enableSecureBoot", False), True),
    # container/resource_container_node_pool.go: locations and autoscaling update; the name prefix replaces.
    ("gcp:container/nodePool:NodePool", _set("nodeLocations", ["us-central1-a"]), False),
    ("gcp:container/nodePool:NodePool", _set("autoscaling.totalMaxNodeCount", 9), False),
    ("gcp:container/nodePool:NodePool", _set("namePrefix", "other-"), True),
    # container/resource_container_cluster.go
    ("gcp:container/cluster:Cluster", _set("masterAuthorizedNetworksConfig.cidrBlocks", []), False),
    ("gcp:container/cluster:Cluster", _set("releaseChannel.channel", "STABLE"), False),
    ("gcp:container/cluster:Cluster", _set("privateClusterConfig.enablePrivateEndpoint", True), False),
    ("gcp:container/cluster:Cluster", _set("privateClusterConfig.masterIpv4CidrBlock", "172.16.9.0/28"), True),
    ("gcp:container/cluster:Cluster", _set("network", "other"), True),
    # compute/resource_compute_firewall.go: the network is patched in place; the direction replaces.
    ("gcp:compute/firewall:Firewall", _set("network", "other"), False),
    ("gcp:compute/firewall:Firewall", _set("sourceRanges", ["10.0.0.0/28"]), False),
    ("gcp:compute/firewall:Firewall", _set("direction", "EGRESS"), True),
    ("gcp:compute/router:Router", _set("network", "other"), True),
    ("gcp:compute/routerNat:RouterNat", _set("logConfig.filter", "ALL"), False),
    ("gcp:compute/routerNat:RouterNat", _set("router", "other"), True),
    ("gcp:kms/keyRing:KeyRing", _set("location", "europe-west4"), True),
    ("gcp:kms/cryptoKey:CryptoKey", _set("rotationPeriod", "2592000s"), False),
    ("gcp:kms/cryptoKey:CryptoKey", _set("purpose", "ASYMMETRIC_SIGN"), True),
    # storage/resource_storage_bucket.go: storage class and versioning update; the location replaces.
    ("gcp:storage/bucket:Bucket", _set("storageClass", "NEARLINE"), False),
    ("gcp:storage/bucket:Bucket", _set("versioning.enabled", False), False),
    ("gcp:storage/bucket:Bucket", _set("location", "EU"), True),
    ("gcp:projects/service:Service", _set("disableOnDestroy", True), False),
    ("gcp:projects/service:Service", _set("service", "other.googleapis.com"), True),
    ("gcp:serviceaccount/account:Account", _set("displayName", "other"), False),
    ("gcp:serviceaccount/account:Account", _set("accountId", "other"), True),
    # ec2/ec2_launch_template.go: a change is a new version of the same template.
    ("aws:ec2/launchTemplate:LaunchTemplate", _set("blockDeviceMappings[0].ebs.volumeSize", 400), False),
    ("aws:ec2/launchTemplate:LaunchTemplate", _set("metadataOptions.httpPutResponseHopLimit", 2), False),
    ("aws:eks/nodeGroup:NodeGroup", _set("instanceTypes", ["g5.4xlarge"]), True),
    ("aws:eks/nodeGroup:NodeGroup", _set("labels.extra", "x"), False),
    ("aws:iam/role:Role", _set("assumeRolePolicy", "{}"), False),
    ("aws:iam/role:Role", _set("name", "other"), True),
    ("aws:iam/rolePolicy:RolePolicy", _set("policy", "{}"), False),
    ("aws:iam/rolePolicy:RolePolicy", _set("role", "other"), True),
    ("aws:iam/user:User", _set("name", "other"), False),
    ("aws:iam/userPolicy:UserPolicy", _set("policy", "{}"), False),
    ("aws:iam/accessKey:AccessKey", _set("user", "other"), True),
    ("aws:s3/bucket:Bucket", _set("forceDestroy", True), False),
    ("aws:s3/bucket:Bucket", _set("tags.extra", "x"), False),
    ("aws:s3/bucket:Bucket", _set("bucket", "other"), True),
    ("aws:s3/bucketVersioning:BucketVersioning", _set("versioningConfiguration.status", "Suspended"), False),
    ("aws:s3/bucketVersioning:BucketVersioning", _set("bucket", "other"), True),
    ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", _set("blockPublicAcls", False), False),
    (
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        _set("rules[0].bucketKeyEnabled", True),
        False,
    ),
    ("aws:s3/bucketOwnershipControls:BucketOwnershipControls", _set("rule.objectOwnership", "ObjectWriter"), False),
    (
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        _set("rules[0].noncurrentVersionExpiration.noncurrentDays", 60),
        False,
    ),
    ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", _set("bucket", "other"), True),
    ("aws:s3/bucketPolicy:BucketPolicy", _set("policy", "{}"), False),
    ("pulumi:providers:gcp", _set("region", "europe-west4"), False),
    ("pulumi:providers:aws", _set("region", "eu-west-1"), False),
]


@pytest.mark.parametrize(
    ("type_", "edit", "replaced"),
    _PROVIDER_FIELDS,
    ids=[f"{t.rsplit(':', 1)[-1]}-{n}" for n, (t, _, _) in enumerate(_PROVIDER_FIELDS)],
)
def test_rendered_fields_replace_or_update_as_the_type_provider_decides(type_, edit, replaced):
    assert bool(_replaces(_rendered(type_), edit)) is replaced


def test_the_kubernetes_provider_is_replaced_only_when_its_kubeconfig_points_at_another_cluster():
    """provider.go ``DiffConfig``: replaced iff the active cluster's settings change."""
    provider = _rendered("pulumi:providers:kubernetes")
    kubeconfig = provider["inputs"]["kubeconfig"]
    server = re.search(r"server: (\S+)", kubeconfig).group(1)
    moved = _replaces(provider, lambda i: i.update(kubeconfig=kubeconfig.replace(server, "https://198.51.100.7")))
    assert moved == ["inputs.kubeconfig"]
    assert _replaces(provider, lambda i: i.update(kubeconfig=kubeconfig + "preferences: {}\n")) == []
