"""Every committed Pulumi.<stack>.yaml validates, renders, matches its golden render, and wires
its cloud layer into Triton the way the issue promises."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import re
import shutil
from pathlib import Path

import kubernetes_validate
import pytest

import gitlab_stacks
from support import ROOT
from triton_platform.cli import main as cli_main
from triton_platform.review.render import StackRender, render_stack, stack_files, write_render

GOLDEN = ROOT / "tests" / "golden"
STACKS = sorted(stack_files(ROOT))
GCP_STACKS = [s for s in STACKS if "triton-platform:gcp:" in (ROOT / f"Pulumi.{s}.yaml").read_text()]
AWS_STACKS = [s for s in STACKS if "triton-platform:aws:" in (ROOT / f"Pulumi.{s}.yaml").read_text()]
#: Kubernetes version the manifests are validated against (strict: unknown fields fail).
KUBERNETES_VERSION = "1.33.0"


@pytest.fixture(scope="module")
def renders():
    return {stack: render_stack(ROOT, stack) for stack in STACKS}


def test_the_three_environments_exist():
    assert {"dev", "staging", "prod"} <= set(STACKS)


def _golden_problem(render: StackRender, golden_root: Path, scratch: Path) -> str | None:
    """One line saying what to run when ``render`` is not its golden render, else None."""
    write_render(render, scratch)
    for name in ("manifests.yaml", "resources.json"):
        golden = golden_root / render.stack / name
        if not golden.exists():
            return f"no golden render of Pulumi.{render.stack}.yaml in tests/golden; run `make golden` and commit it"
        if (scratch / render.stack / name).read_text() != golden.read_text():
            return (
                f"tests/golden/{render.stack}/{name} differs from the render; if the change is intended, "
                f"run `make golden` and review the diff"
            )
    return None


def _stale_goldens(root: Path) -> list[str]:
    return [
        f"tests/golden/{folder.name} has no Pulumi.{folder.name}.yaml; run `make golden` to remove it"
        for folder in sorted((root / "tests" / "golden").iterdir())
        if folder.is_dir() and folder.name not in stack_files(root)
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_stack_matches_its_golden_render(stack, renders, tmp_path):
    """Golden renders make an infrastructure change reviewable. Update them deliberately with
    `make golden` and review the diff like code."""
    problem = _golden_problem(renders[stack], GOLDEN, tmp_path)
    if problem:
        pytest.fail(problem, pytrace=False)


def test_every_golden_render_has_its_stack():
    stale = _stale_goldens(ROOT)
    if stale:
        pytest.fail("\n".join(stale), pytrace=False)


def test_a_new_stack_is_picked_up_or_names_the_one_command_to_run(tmp_path):
    """A user copies Pulumi.dev.yaml to Pulumi.mine.yaml (here in a copy of the project): every
    check that lists stacks either takes it by itself or says, in one line, to run `make golden`;
    after what `make golden` runs, none complains."""
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    shutil.copytree(GOLDEN, project / "tests" / "golden")
    shutil.copytree(ROOT / ".ci", project / ".ci", ignore=shutil.ignore_patterns("toolchain"))
    (project / "stacks").symlink_to(ROOT / "stacks")
    for path in [ROOT / "Pulumi.yaml", ROOT / ".gitlab-ci.yml", *stack_files(ROOT).values()]:
        shutil.copy(path, project / path.name)
    source = "dev" if "dev" in STACKS else STACKS[0]
    shutil.copy(ROOT / f"Pulumi.{source}.yaml", project / "Pulumi.mine.yaml")

    mine = render_stack(project, "mine")
    assert _golden_problem(mine, project / "tests" / "golden", tmp_path / "scratch") == (
        "no golden render of Pulumi.mine.yaml in tests/golden; run `make golden` and commit it"
    )
    cloud = "triton-platform:gcp:" in (project / "Pulumi.mine.yaml").read_text()
    assert gitlab_stacks.problem(project) == (
        ".gitlab-ci.yml: the .pulumi job's STACK list lacks mine (the stacks with a gcp or aws section); run `make golden`"
        if cloud
        else None
    )

    # What `make golden` runs (tests/repository/test_makefile.py holds the recipe), for the new stack only.
    cwd = Path.cwd()
    try:
        os.chdir(project)
        assert cli_main(["render", "mine", "--out", "tests/golden", "--prune"]) == 0
        assert gitlab_stacks.main([str(project)]) == 0
    finally:
        os.chdir(cwd)
    assert _golden_problem(mine, project / "tests" / "golden", tmp_path / "scratch2") is None
    assert gitlab_stacks.problem(project) is None
    assert "mine" in gitlab_stacks.listed_stacks(project) if cloud else True

    # Removing a stack file: its golden render is reported, then pruned.
    (project / f"Pulumi.{source}.yaml").unlink()
    assert _stale_goldens(project) == [
        f"tests/golden/{source} has no Pulumi.{source}.yaml; run `make golden` to remove it"
    ]
    os.chdir(project)
    try:
        assert cli_main(["render", "mine", "--out", "tests/golden", "--prune"]) == 0
    finally:
        os.chdir(cwd)
    assert _stale_goldens(project) == [] and not (project / "tests" / "golden" / source).exists()


@pytest.mark.parametrize("stack", STACKS)
def test_render_is_byte_identical_on_rerun(stack, renders, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    write_render(renders[stack], first)
    write_render(render_stack(ROOT, stack), second)
    for name in ("manifests.yaml", "resources.json"):
        assert (first / stack / name).read_bytes() == (second / stack / name).read_bytes()


@pytest.mark.parametrize("stack", STACKS)
def test_builtin_kubernetes_objects_are_valid(stack, renders):
    builtin = [o for o in renders[stack].manifests if _is_builtin(o["apiVersion"])]
    assert builtin
    for obj in builtin:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def _is_builtin(api_version: str) -> bool:
    """Core and k8s.io groups; custom resources are checked against their CRD schemas elsewhere."""
    group = api_version.split("/")[0] if "/" in api_version else ""
    return "." not in group or group.endswith(".k8s.io")


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_value_reaches_rendered_files(stack, renders, tmp_path):
    target = write_render(renders[stack], tmp_path)
    text = (target / "manifests.yaml").read_text() + (target / "resources.json").read_text()
    for needle in ("mock-key", "bW9jay1rZXk=", "private_key", "BEGIN PRIVATE KEY"):
        assert needle not in text
    for secret in (o for o in renders[stack].manifests if o["kind"] == "Secret"):
        assert set(secret["stringData"].values()) == {"[secret]"}


def _deployments(render):
    return [o for o in render.manifests if o["kind"] == "Deployment" and o["metadata"]["name"].startswith("triton-")]


def test_dev_wires_spot_pool_bucket_and_key_file_into_triton(renders):
    dev = renders["dev"]
    pool = dev.find("gcp:container/nodePool:NodePool")[0]["inputs"]
    assert pool["nodeConfig"]["spot"] is True
    taints = {(t["key"], t["value"]) for t in pool["nodeConfig"]["taints"]}
    bucket = dev.find("gcp:storage/bucket:Bucket")[0]["inputs"]
    for deployment in _deployments(dev):
        pod = deployment["spec"]["template"]["spec"]
        tolerations = {(t["key"], t["value"]) for t in pod["tolerations"]}
        assert tolerations == taints
        assert pod["nodeSelector"]["cloud.google.com/gke-spot"] == "true"
        args = pod["containers"][0]["args"]
        assert f"--model-repository=gs://{bucket['name']}/model_repository" in args
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        assert env["GOOGLE_APPLICATION_CREDENTIALS"] == "/var/run/secrets/model-repository/key.json"
    assert dev.find("gcp:serviceaccount/key:Key")
    assert dev.outputs["identityMode"] == "key"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_staging_and_prod_are_keyless(stack, renders):
    render = renders[stack]
    assert not render.find("gcp:serviceaccount/key:Key")
    assert not [o for o in render.manifests if o["metadata"]["name"] == "triton-model-repository-credentials"]
    account = next(o for o in render.manifests if o["kind"] == "ServiceAccount")
    assert account["metadata"]["annotations"]["iam.gke.io/gcp-service-account"].startswith("triton-")
    for deployment in _deployments(render):
        env = {e["name"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert "GOOGLE_APPLICATION_CREDENTIALS" not in env


@pytest.mark.parametrize("stack", GCP_STACKS)
def test_bucket_is_protected_and_no_project_iam_touches_triton(stack, renders):
    render = renders[stack]
    bucket = render.find("gcp:storage/bucket:Bucket")[0]
    assert bucket["options"]["protect"] is True and bucket["options"]["retainOnDelete"] is True
    reader = render.outputs["modelReaderServiceAccount"]
    for grant in render.find("gcp:projects/iAMMember:IAMMember"):
        assert reader not in json.dumps(grant["inputs"])
        assert "storage" not in grant["inputs"]["role"] and grant["inputs"]["role"] not in (
            "roles/owner",
            "roles/editor",
            "roles/viewer",
        )


def test_prod_protects_its_node_pool(renders):
    assert renders["prod"].find("gcp:container/nodePool:NodePool")[0]["options"]["protect"] is True


@pytest.mark.parametrize("stack", GCP_STACKS + AWS_STACKS)
def test_stack_outputs(stack, renders):
    outputs = renders[stack].outputs
    identity = "modelReaderServiceAccount" if stack in GCP_STACKS else "modelReaderPrincipal"
    for key in ("modelBucketName", "modelBucketUrl", identity, "nodePoolName", "tritonEndpoints"):
        assert outputs[key], key
    assert outputs["modelRepository"].startswith(outputs["modelBucketUrl"] + "/")


def test_dev_aws_wires_gpu_group_bucket_and_irsa_into_triton(renders):
    render = renders["dev-aws"]
    group = render.find("aws:eks/nodeGroup:NodeGroup")[0]["inputs"]
    assert group["amiType"] == "AL2023_x86_64_NVIDIA" and group["capacityType"] == "SPOT"
    taints = {(t["key"], t["value"]) for t in group["taints"]}
    template = render.find("aws:ec2/launchTemplate:LaunchTemplate")[0]["inputs"]
    assert template["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
    }
    assert render.find("kubernetes:helm.sh/v3:Release")[0]["inputs"]["chart"] == "nvidia-device-plugin"
    bucket = render.find("aws:s3/bucket:Bucket")[0]
    assert bucket["options"]["protect"] is True
    account = next(o for o in render.manifests if o["kind"] == "ServiceAccount")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == render.outputs["modelReaderPrincipal"]
    for deployment in _deployments(render):
        pod = deployment["spec"]["template"]["spec"]
        assert {(t["key"], t["value"]) for t in pod["tolerations"]} == taints
        container = pod["containers"][0]
        assert f"--model-repository=s3://{bucket['inputs']['bucket']}/model_repository" in container["args"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["AWS_DEFAULT_REGION"] == "us-east-1"
        assert "AWS_SHARED_CREDENTIALS_FILE" not in env
    assert not render.find("aws:iam/accessKey:AccessKey")


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_aws_iam_policies_have_no_wildcard_allow(stack, renders):
    for resource in renders[stack].resources:
        if resource["type"] in (
            "aws:iam/rolePolicy:RolePolicy",
            "aws:iam/userPolicy:UserPolicy",
            "aws:iam/policy:Policy",
        ):
            for statement in json.loads(resource["inputs"]["policy"])["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert statement["Effect"] == "Allow"
                assert not any("*" in a for a in actions), statement
                assert statement["Resource"] != "*" and not statement["Resource"].endswith(":::*"), statement


def test_local_stack_schedules_triton_onto_the_existing_clusters_gpu_nodes(renders):
    """The bring-your-own-cluster stack: no cloud, no provider of its own (the kubeconfig's cluster),
    and the pods tolerate exactly the declared GPU taints and select the GPU Operator's label."""
    render = renders["local"]
    assert render.outputs["cloud"] == "none"
    assert not [r for r in render.resources if r["type"].startswith(("gcp:", "aws:", "pulumi:providers:"))]
    deployments = _deployments(render)
    assert {d["metadata"]["name"] for d in deployments} == {"triton-vision", "triton-vision-canary", "triton-text"}
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        assert pod["tolerations"] == [
            {"operator": "Equal", "key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
        ]
        assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert "--model-repository=s3://acme-triton-models/model_repository" in pod["containers"][0]["args"] or (
            "--model-repository=s3://acme-triton-models/model_repository_canary" in pod["containers"][0]["args"]
        )
    account = next(o for o in render.manifests if o["kind"] == "ServiceAccount")
    assert not account["metadata"].get("annotations")


def _sdk_args_classes() -> dict[str, tuple[str, str]]:
    """Provider type token -> (module, class name) of its resource, from each SDK's own index."""
    classes: dict[str, tuple[str, str]] = {}
    for package in ("pulumi_aws", "pulumi_gcp", "pulumi_kubernetes", "pulumi_random"):
        spec = importlib.util.find_spec(package)
        assert spec and spec.origin, f"{package} is not installed; run `make install`"
        index = re.search(r'resource_modules="""(.*?)"""', Path(spec.origin).read_text(), re.DOTALL)
        assert index, f"{package}/__init__.py has no resource_modules index"
        for module in json.loads(index.group(1)):
            for token, name in module["classes"].items():
                classes[token] = (module["fqn"], name)  # imported lazily: only the types we render
    return classes


def _args_class(module: str, name: str) -> type:
    """The resource's own args class, from its defining module: the package namespace may hold a
    nested input type of the same name (``pulumi_aws.s3`` does; Kubernetes names its own ``InitArgs``)."""
    defining = importlib.import_module(getattr(importlib.import_module(module), name).__module__)
    return getattr(defining, f"{name}InitArgs", None) or getattr(defining, f"{name}Args")


def _required_inputs(args_class: type) -> set[str]:
    """The inputs a provider needs (no default in the SDK's Args), by their wire names."""
    names = set()
    for parameter in list(inspect.signature(args_class.__init__).parameters.values())[1:]:
        if parameter.default is inspect.Parameter.empty:
            names.add(getattr(args_class.__dict__[parameter.name].fget, "_pulumi_name", parameter.name))
    return names


@pytest.mark.parametrize("stack", STACKS)
def test_every_required_input_reaches_the_render(stack, renders):
    """The mocks echo every input and make up the values a provider computes (an auto-named IAM
    role's name): an input fed by another resource's output must never vanish from the render."""
    classes = _sdk_args_classes()
    missing = []
    for resource in renders[stack].resources:
        if not resource["custom"] or resource["type"].startswith("pulumi:providers:"):
            continue
        if resource["type"] in classes:
            module, name = classes[resource["type"]]
            required = _required_inputs(_args_class(module, name))
        else:  # a custom resource (CRD kind): the SDK's generic CustomResource needs only these
            assert resource["type"].startswith("kubernetes:"), f"{resource['type']} is in no installed SDK"
            required = {"apiVersion", "kind"}
        missing += [f"{resource['id']}: {key}" for key in sorted(required - set(resource["inputs"]))]
    assert missing == []
