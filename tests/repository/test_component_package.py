"""The component package: the schema other languages get is the Python args contract, the plugin
serves it, and input across the provider boundary is checked as a Python caller's is."""

from __future__ import annotations

import ast
import collections.abc
import inspect
import json
import runpy
import select
import subprocess
import sys
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import grpc
import pulumi
import pytest
import yaml
from pulumi.provider.experimental.util import camel_case
from pulumi.provider.server import ComponentInitError
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

import triton_platform.compose.environment
from triton_components import TritonServer
from triton_components.common.args import ArgsError, contract_fields, resolve_annotation
from triton_components.provider import PACKAGE_NAME, TritonComponentProvider, public_components
from triton_platform.review.render import render_stack

ROOT = Path(__file__).resolve().parents[2]
REF = "#/types/tritonplatform:index:"


@pytest.fixture(scope="module")
def provider() -> TritonComponentProvider:
    return TritonComponentProvider()


@pytest.fixture(scope="module")
def schema(provider) -> dict[str, Any]:
    return provider.package_schema


# ---------------------------------------------------------------------------------------------
# What the schema should say, read from the Python contracts by a second, independent reading.


def _members(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return [m for m in typing.get_args(annotation) if m is not type(None)]
    return [annotation]


def _is_output(annotation: Any) -> bool:
    return typing.get_origin(annotation) is pulumi.Output or (
        isinstance(annotation, typing.ForwardRef) and annotation.__forward_arg__.startswith("Output")
    )


def _holds_resource(annotation: Any) -> bool:
    if inspect.isclass(annotation) and issubclass(annotation, pulumi.Resource):
        return True
    return any(_holds_resource(a) for a in typing.get_args(annotation))


def _expected(annotation: Any, plain: bool, types_seen: dict[str, type]) -> dict[str, Any]:
    """The schema property for ``annotation`` (without its description)."""
    members = _members(annotation)
    awaitable = [m for m in members if typing.get_origin(m) is collections.abc.Awaitable]
    if awaitable:  # pulumi.Input[T]: T | Awaitable[T] | Output[T]
        (inner,) = typing.get_args(awaitable[0])
        return _expected(inner, False, types_seen)
    if len(members) == 1 and _is_output(members[0]):
        return _expected(typing.get_args(members[0])[0], False, types_seen)
    (annotation,) = members
    origin, params = typing.get_origin(annotation), typing.get_args(annotation)
    flag = {"plain": True} if plain else {}
    if annotation is Any:
        return {"$ref": "pulumi.json#/Any", **flag}
    if origin is Literal:
        annotation = type(params[0])
    if annotation in (str, int, float, bool):
        kind = {str: "string", int: "integer", float: "number", bool: "boolean"}[annotation]
        return {"type": kind, **flag}
    if origin in (list, collections.abc.Sequence):
        return {"type": "array", "items": _expected(params[0], plain, types_seen), **flag}
    if origin in (dict, collections.abc.Mapping):
        assert params[0] is str, annotation
        return {"type": "object", "additionalProperties": _expected(params[1], plain, types_seen), **flag}
    assert typing.is_typeddict(annotation), f"{annotation!r} has no schema type"
    name = annotation.__name__.removesuffix("Args")  # SDKs add it to input shapes themselves
    types_seen[name] = annotation
    return {"$ref": REF + name, **flag}


def _docstrings(cls: type) -> dict[str, str]:
    """Each field's docstring, read from the source of the class and of the args classes it extends."""
    (node,) = ast.parse(inspect.getsource(cls)).body
    found: dict[str, str] = {}
    for base in node.bases:  # a TypedDict keeps no bases at run time
        if base.id != "TypedDict":
            found.update(_docstrings(getattr(sys.modules[cls.__module__], base.id)))
    for first, second in zip(node.body, node.body[1:], strict=False):
        if isinstance(first, ast.AnnAssign) and isinstance(second, ast.Expr) and isinstance(second.value, ast.Constant):
            found[first.target.id] = inspect.cleandoc(second.value.value)
    return found


def _without_descriptions(prop: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in prop.items() if k != "description"}
    for key in ("items", "additionalProperties"):
        if key in out:
            out[key] = _without_descriptions(out[key])
    return out


def _check_contract(
    contract: type, properties: dict[str, Any], required: list[str], types_seen: dict[str, type]
) -> None:
    fields, required_keys = contract_fields(contract)
    served = {key: a for key, a in fields.items() if not _holds_resource(a)}
    python_only = set(fields) - set(served)
    assert not python_only & required_keys, f"{contract.__name__}: a required key cannot be Python-only"
    assert set(properties) == {camel_case(k) for k in served}, contract.__name__
    assert sorted(required) == sorted(camel_case(k) for k in served if k in required_keys), contract.__name__
    docs = _docstrings(contract)
    for key, annotation in served.items():
        prop = properties[camel_case(key)]
        assert _without_descriptions(prop) == _expected(annotation, True, types_seen), f"{contract.__name__}.{key}"
        assert prop["description"] == docs[key], f"{contract.__name__}.{key}"
        assert "default" in docs[key].lower() or "required" in docs[key].lower() or key in required_keys, (
            f"{contract.__name__}.{key}: its docstring states neither its default nor that it is required"
        )


COMPONENTS = {c.__name__: c for c in public_components()}


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_schema_inputs_are_the_args_contract(schema, name):
    component = COMPONENTS[name]
    resource = schema["resources"][f"{PACKAGE_NAME}:index:{name}"]
    contract = resolve_annotation(inspect.get_annotations(component.__init__)["args"], component.__module__)
    types_seen: dict[str, type] = {}
    _check_contract(contract, resource["inputProperties"], resource.get("requiredInputs", []), types_seen)
    checked: set[str] = set()
    while set(types_seen) - checked:  # every args type it reaches, nested ones included
        type_name = sorted(set(types_seen) - checked)[0]
        checked.add(type_name)
        spec = schema["types"][f"{PACKAGE_NAME}:index:{type_name}"]
        _check_contract(types_seen[type_name], spec["properties"], spec.get("required", []), types_seen)


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_schema_outputs_are_the_declared_attributes(schema, name):
    component = COMPONENTS[name]
    resource = schema["resources"][f"{PACKAGE_NAME}:index:{name}"]
    declared = {
        key: resolve_annotation(raw, component.__module__) for key, raw in inspect.get_annotations(component).items()
    }
    served = {key: a for key, a in declared.items() if not _holds_resource(a)}
    assert set(resource.get("properties", {})) == {camel_case(k) for k in served}
    for key, annotation in served.items():
        expected = _expected(annotation, False, {})
        assert _without_descriptions(resource["properties"][camel_case(key)]) == expected, key


def test_every_public_component_is_served_under_its_own_type_token(schema):
    assert sorted(COMPONENTS) == sorted(t.rsplit(":", 1)[1] for t in schema["resources"])
    for name, component in COMPONENTS.items():
        assert f'"{PACKAGE_NAME}:index:{name}"' in inspect.getsource(component), name
    assert {
        "TritonServer",
        "TritonModelGroup",
        "TritonRouting",
        "TritonAutoscaler",
        "TritonMonitoring",
        "TritonAlerts",
        "GkeGpuNodePool",
        "GcsModelBucket",
        "GcpModelReaderIdentity",
        "EksGpuNodeGroup",
        "S3ModelBucket",
        "AwsModelReaderIdentity",
    } <= set(COMPONENTS)


def test_outputs_other_languages_wire_together_are_declared(schema):
    outputs = {t.rsplit(":", 1)[1]: set(r.get("properties", {})) for t, r in schema["resources"].items()}
    assert {"namespace", "serviceAccountName", "endpoints"} <= outputs["TritonServer"]
    assert {"serviceName", "deploymentNames"} <= outputs["TritonModelGroup"]
    assert {"bucketName", "repositoryUrl"} <= outputs["GcsModelBucket"]
    assert {"bucketName", "bucketArn", "repositoryUrl"} <= outputs["S3ModelBucket"]
    # The Kubernetes ServiceAccount's annotations bind it to the cloud identity (Workload Identity, IRSA).
    assert {"email", "serviceAccountAnnotations", "credentialsFile"} <= outputs["GcpModelReaderIdentity"]
    assert {"principalArn", "serviceAccountAnnotations", "credentialsFile"} <= outputs["AwsModelReaderIdentity"]
    assert {"url", "virtualServiceName"} <= outputs["TritonRouting"]


def test_the_plugin_serves_the_schema_over_grpc(schema):
    """What the engine gets from ``PulumiPlugin.yaml``'s entry point: the port on stdout, then the schema."""
    assert "runtime:\n  name: python" in (ROOT / "PulumiPlugin.yaml").read_text()
    plugin = subprocess.Popen(
        [sys.executable, "-u", str(ROOT / "__main__.py"), "127.0.0.1:1"],  # engine address: never dialled here
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        # The SDK writes the port once it listens (on 127.0.0.1); a plugin that never does fails here.
        ready, _, _ = select.select([plugin.stdout], [], [], 120)
        assert ready, "the plugin printed no port within 120 s"
        port = plugin.stdout.readline().strip()
        assert port.isdigit(), plugin.stderr.read() if plugin.poll() is not None else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=60)
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            response = stub.GetSchema(provider_pb2.GetSchemaRequest(), timeout=60)
        assert json.loads(response.schema) == schema
    finally:
        plugin.terminate()
        try:
            plugin.wait(timeout=30)
        except subprocess.TimeoutExpired:
            plugin.kill()
            plugin.wait(timeout=30)


# ---------------------------------------------------------------------------------------------
# Across the boundary: the engine's inputs (schema names, numbers as floats) reach the component as
# a Python caller's args would.


def _wire(value: Any, prop: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A Python value as the engine sends it for ``prop``: schema names, every number a float."""
    if "$ref" in prop and prop["$ref"].startswith(REF):
        spec = schema["types"][prop["$ref"].removeprefix("#/types/")]
        return _wire_object(value, spec["properties"], schema)
    if prop.get("type") == "array":
        return [_wire(v, prop["items"], schema) for v in value]
    if prop.get("type") == "object":
        return {k: _wire(v, prop["additionalProperties"], schema) for k, v in value.items()}
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _wire_object(value: dict[str, Any], properties: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    return {camel_case(k): _wire(v, properties[camel_case(k)], schema) for k, v in value.items()}


def _local_server_args(monkeypatch) -> dict[str, Any]:
    """The args Pulumi.local.yaml's program gives TritonServer (secrets left out: they are Outputs)."""
    seen: list[dict[str, Any]] = []

    def recording(name, args, opts=None):
        seen.append(dict(args))
        return TritonServer(name, args, opts)

    monkeypatch.setattr(triton_platform.compose.environment, "TritonServer", recording)
    render_stack(ROOT, "local")
    (args,) = seen
    return {k: v for k, v in args.items() if not isinstance(v, pulumi.Output)}


def test_construct_declares_what_the_python_component_declares(run, provider, schema, monkeypatch):
    args = _local_server_args(monkeypatch)
    assert args["model_groups"], "the local stack has model groups to carry across"
    wire = _wire_object(args, schema["resources"]["tritonplatform:index:TritonServer"]["inputProperties"], schema)
    direct = run(lambda: TritonServer("triton", args))
    served = run(lambda: provider.construct("triton", "tritonplatform:index:TritonServer", wire, None))
    assert served.resources == direct.resources
    assert len(direct.resources) > 5


def _python_error(component: type, args: dict[str, Any]) -> str:
    with pytest.raises(ArgsError) as caught:
        component("triton", args)
    return str(caught.value)


@pytest.mark.parametrize(
    ("python_args", "wire_args"),
    [
        pytest.param(
            {"model_repository": "gs://b/m", "model_groups": [{"name": "a", "replicas": "two"}]},
            {"modelRepository": "gs://b/m", "modelGroups": [{"name": "a", "replicas": "two"}]},
            id="mistyped-nested",
        ),
        pytest.param(
            {"model_repository": "gs://b/m", "model_groups": [{"name": "a", "replicas": 1.5}]},
            {"modelRepository": "gs://b/m", "modelGroups": [{"name": "a", "replicas": 1.5}]},
            id="fraction-for-integer",
        ),
        pytest.param(
            {"model_repository": "gs://b/m", "createNamespace": "yes"},
            {"modelRepository": "gs://b/m", "createNamespace": "yes"},
            id="mistyped-top-level",
        ),
        pytest.param({}, {}, id="missing-required"),
    ],
)
def test_bad_input_across_the_boundary_is_the_python_args_error(provider, python_args, wire_args):
    if "createNamespace" in python_args:  # the Python caller's spelling of that key
        python_args = {"model_repository": "gs://b/m", "create_namespace": "yes"}
    expected = _python_error(TritonServer, python_args)
    with pytest.raises(ComponentInitError) as caught:
        provider.construct("triton", "tritonplatform:index:TritonServer", wire_args, None)
    assert isinstance(caught.value.inner, ArgsError)
    assert str(caught.value) == expected
    assert "\n" not in expected and expected.startswith("TritonServer 'triton': args")


def test_a_misspelt_key_across_the_boundary_is_named_as_given(provider):
    with pytest.raises(ComponentInitError) as caught:
        provider.construct(
            "triton", "tritonplatform:index:TritonServer", {"modelRepository": "gs://b/m", "namespase": "ml"}, None
        )
    message = str(caught.value)
    assert isinstance(caught.value.inner, ArgsError)
    assert message.startswith(
        "TritonServer 'triton': args has unknown key 'namespase'; did you mean 'namespace'? Accepted keys: "
    )
    assert "\n" not in message


# ---------------------------------------------------------------------------------------------
# The YAML example: what a YAML program asks the provider for is what the Python example declares.


def _yaml_inputs(value: Any, config: dict[str, Any]) -> Any:
    """The YAML program's property values with its config references (``${key}``) resolved."""
    if isinstance(value, dict):
        return {k: _yaml_inputs(v, config) for k, v in value.items()}
    if isinstance(value, list):
        return [_yaml_inputs(v, config) for v in value]
    if isinstance(value, str) and value.startswith("${"):
        return config[value[2:-1]]
    assert not (isinstance(value, str) and "${" in value), value
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value  # as on the wire


def test_yaml_example_declares_the_objects_of_the_python_example(run, provider):
    program = yaml.safe_load((ROOT / "examples" / "triton-yaml" / "Pulumi.yaml").read_text())
    assert program["runtime"] == "yaml" and program["packages"] == {PACKAGE_NAME: "../.."}
    config = {key: spec["default"] for key, spec in program["config"].items()}
    ((name, resource),) = ((n, r) for n, r in program["resources"].items() if r["type"].startswith(PACKAGE_NAME))
    assert resource["type"] in provider.package_schema["resources"]
    wire = _yaml_inputs(resource["properties"], config)
    served = run(lambda: provider.construct(name, resource["type"], wire, None))
    python = run(
        lambda: runpy.run_path(str(ROOT / "examples" / "triton-server-only" / "__main__.py"), run_name="__main__")
    )
    assert served.manifests == python.manifests
    assert {m["metadata"]["name"] for m in served.manifests if m["kind"] == "Deployment"} == {
        "triton-vision",
        "triton-text",
    }


def test_secrets_from_another_language_stay_secrets(run, provider):
    """The engine hands a secret input to the provider as a secret Output; it must reach the Secret
    objects as one, never as plain text in any resource."""

    def program():  # the Outputs belong to the run's event loop
        wire = {
            "modelRepository": "gs://b/m",
            "adminApiKey": pulumi.Output.secret("wire-admin-key"),
            "credentialsFile": {
                "content": pulumi.Output.secret("wire-key-json"),
                "fileName": "key.json",
                "envVar": "GOOGLE_APPLICATION_CREDENTIALS",
            },
        }
        provider.construct("triton", "tritonplatform:index:TritonServer", wire, None)

    render = run(program)
    secrets = {
        r["inputs"]["metadata"]["name"]: r["inputs"]["stringData"] for r in render.find("kubernetes:core/v1:Secret")
    }
    assert secrets["triton-admin-key"] == {"admin-key": "[secret]"}
    assert list(secrets["triton-model-repository-credentials"].values()) == ["[secret]"]
    assert "wire-admin-key" not in repr(render.resources) and "wire-key-json" not in repr(render.resources)


def test_the_package_version_is_the_release_version(schema):
    """`pulumi package add <repository>@vX.Y.Z` checks out the release tag, which must equal the version
    in pyproject.toml (tests/repository/test_release.py); the schema and the SDKs generated from it carry it too."""
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert schema["version"] == version
