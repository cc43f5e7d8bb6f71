"""The mesh as a whole environment renders it: valid against Istio's published CRD schemas, the
issue's "done when" picture for a stack with a canary, and weight changes that touch only routing."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from support import ROOT
from triton_platform.config import load_settings
from triton_platform.environment import build_environment
from triton_platform.review.render import StackRender, record, render_stack, stack_config, stack_files

#: Upstream CRDs vendored under tests/crd-schemas (istio/api 1.30.3; provenance in its SOURCES.md).
CRD_SCHEMAS = ROOT / "tests" / "crd-schemas"  # vendored upstream CRDs; see SOURCES.md
KUBERNETES_VERSION = "1.33.0"

STAGING_MESH = {
    "enabled": True,
    "install": {"enabled": True},
    "gateway": {"hosts": ["triton.staging.example.com"], "tls": {"credentialName": "triton-staging-tls"}},
    "jwt": {
        "issuer": "https://auth.example.com/realms/ml",
        "jwksUri": "https://auth.example.com/realms/ml/protocol/openid-connect/certs",
        "audiences": ["triton"],
    },
}


def _staging(stable=90, canary=10, mesh=STAGING_MESH):
    return {
        "triton-platform:environment": "staging",
        "triton-platform:triton": {
            "modelRepository": "gs://acme-models/model_repository",
            "modelControlMode": "explicit",
        },
        "triton-platform:modelGroups": [
            {
                "name": "vision",
                "models": ["resnet50", "yolov8"],
                "replicas": 2,
                "canary": {
                    "imageTag": "26.11-py3",
                    "trafficPercent": {"stable": stable, "canary": canary},
                    "overrideHeader": {"name": "triton-track", "value": "canary"},
                },
            },
            {"name": "text", "models": ["bert-base"]},
        ],
        "triton-platform:mesh": mesh,
    }


CONFIGS = {
    "staging-canary": _staging(),
    "dev-plain-http": {
        "triton-platform:environment": "dev",
        "triton-platform:triton": {"modelRepository": "gs://acme-models/model_repository"},
        "triton-platform:mesh": {
            "enabled": True,
            "gateway": {"hosts": ["*"]},
            "prometheusNamespace": None,
            "retries": {"attempts": 0},
        },
    },
    "prod-two-groups": {
        "triton-platform:environment": "prod",
        "triton-platform:triton": {
            "modelRepository": "gs://acme-models/model_repository",
            "modelControlMode": "explicit",
        },
        "triton-platform:modelGroups": [
            {"name": "vision", "models": ["resnet50"], "replicas": 2},
            {"name": "text", "models": ["bert-base"], "replicas": 2},
        ],
        "triton-platform:mesh": {
            "enabled": True,
            "install": {"enabled": True, "gatewayReplicas": 3},
            "gateway": {"hosts": ["triton.example.com"], "tls": {"credentialName": "triton-tls", "mode": "MUTUAL"}},
        },
    },
}


def _render(config: dict[str, Any]) -> StackRender:
    settings = load_settings(config, "Pulumi.test.yaml")
    return record(lambda: build_environment(settings), "test")


@functools.cache
def _crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the served version's ``spec`` schema, made strict like the API server's field validation."""
    schemas = {}
    for path in sorted((CRD_SCHEMAS / "istio").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                key = (f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
                schemas[key] = _strict(version["schema"]["openAPIV3Schema"]["properties"]["spec"])
    return schemas


def _strict(schema: Any) -> Any:
    """Reject unknown fields: a typo the API server would silently prune must fail here."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {k: _strict(v) for k, v in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        strict["additionalProperties"] = False
    return strict


DURATION_FIELDS = {"timeout", "perTryTimeout", "interval", "baseEjectionTime"}


def _leaves(value: Any, key: str = ""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v, key)
    else:
        yield key, value


def _istio_objects(render: StackRender) -> list[dict[str, Any]]:
    return [o for o in render.manifests if o["apiVersion"].split("/")[0].endswith(".istio.io")]


def _validate_istio(render: StackRender) -> int:
    schemas = _crd_schemas()
    objects = _istio_objects(render)
    for obj in objects:
        key = (obj["apiVersion"], obj["kind"])
        assert key in schemas, f"{key} is not a served version of an Istio CRD"
        assert obj["metadata"]["name"] and obj["metadata"]["namespace"]
        jsonschema.validate(obj["spec"], schemas[key])
        # The CRDs' CEL rules, which jsonschema cannot evaluate: port-level mTLS needs a selector,
        # durations are at least 1 ms, label selectors hold no wildcard.
        if "portLevelMtls" in obj["spec"]:
            assert obj["spec"]["selector"]["matchLabels"], "portLevelMtls requires selector"
            assert all(0 < int(port) <= 65535 for port in obj["spec"]["portLevelMtls"])
        for key, value in _leaves(obj["spec"]):
            if key in DURATION_FIELDS:
                assert re.fullmatch(r"[1-9][0-9]*s", value), (key, value)
        for value in obj["spec"].get("selector", {}).get("matchLabels", {}).values():
            assert "*" not in value
    for obj in render.manifests:
        if obj["kind"] == "NetworkPolicy":
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    return len(objects)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_istio_object_is_valid_against_the_crd_schema(name):
    # Gateway, VirtualService, DestinationRule, PeerAuthentication and three AuthorizationPolicies at least.
    assert _validate_istio(_render(CONFIGS[name])) >= 7


def test_the_schema_check_catches_a_misspelt_field():
    schema = _crd_schemas()[("networking.istio.io/v1", "DestinationRule")]
    jsonschema.validate({"host": "a", "trafficPolicy": {"loadBalancer": {"simple": "LEAST_REQUEST"}}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"host": "a", "trafficPolicy": {"loadBalancer": {"simple": "LEAST_REQUESTS"}}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"host": "a", "trafficPolicy": {"outlierDetection": {"maxEjectionPercentage": 50}}}, schema)


@pytest.mark.parametrize("stack", sorted(stack_files(ROOT)))
def test_committed_stacks_with_a_mesh_render_valid_istio_objects(stack):
    config, _ = stack_config(ROOT / f"Pulumi.{stack}.yaml")
    if not json.loads(config.get("triton-platform:mesh", "{}")).get("enabled"):
        pytest.skip(f"Pulumi.{stack}.yaml does not enable the mesh")
    assert _validate_istio(render_stack(ROOT, stack)) >= 7


def _by_kind(render: StackRender, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in render.manifests if o["kind"] == kind}


def test_staging_with_a_canary_renders_what_the_issue_promises():
    render = _render(CONFIGS["staging-canary"])
    assert set(_by_kind(render, "Gateway")) == {"triton-gateway"}

    routes = {r["name"]: r for r in _by_kind(render, "VirtualService")["triton"]["spec"]["http"]}
    assert routes["default-http"]["rewrite"] == {"uriRegexRewrite": {"match": "^/triton/", "rewrite": "/"}}
    assert {"uri": {"prefix": "/triton/v2/models/bert-base/"}} in routes["text-http"]["match"]
    assert {d["destination"]["host"] for d in routes["text-http"]["route"]} == {"triton-text.triton.svc.cluster.local"}
    split = [(d["destination"]["subset"], d["weight"]) for d in routes["vision-http"]["route"]]
    assert split == [("stable", 90), ("canary", 10)]

    # DestinationRule subsets select the pods of the two Deployments of the canary group.
    deployments = _by_kind(render, "Deployment")
    subsets = {s["name"]: s["labels"] for s in _by_kind(render, "DestinationRule")["triton-vision"]["spec"]["subsets"]}
    for subset, deployment in (("stable", "triton-vision"), ("canary", "triton-vision-canary")):
        pod_labels = deployments[deployment]["spec"]["template"]["metadata"]["labels"]
        assert subsets[subset].items() <= pod_labels.items()
        other = "triton-vision-canary" if subset == "stable" else "triton-vision"
        assert not subsets[subset].items() <= deployments[other]["spec"]["template"]["metadata"]["labels"].items()

    assert _by_kind(render, "PeerAuthentication")["default"]["spec"] == {"mtls": {"mode": "STRICT"}}
    policies = _by_kind(render, "AuthorizationPolicy")
    assert {"allow-nothing", "triton-allow-serving", "triton-deny-management-apis", "triton-require-jwt"} <= set(
        policies
    )
    assert set(_by_kind(render, "NetworkPolicy")) == {
        "default-deny-ingress",
        "triton-ingress",
        "default-deny-egress",
        "triton-egress",
    }


def test_mesh_disabled_renders_no_istio_object_and_no_injection_label():
    config = {**_staging(mesh={"enabled": False}), "triton-platform:modelGroups": [{"name": "vision", "models": ["a"]}]}
    render = _render(config)
    assert _istio_objects(render) == []
    assert not render.find("kubernetes:helm.sh/v3:Release")
    namespace = _by_kind(render, "Namespace")["triton"]
    assert "istio-injection" not in namespace["metadata"]["labels"]


def _differences(a: Any, b: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _differences(a.get(k), b.get(k), (*path, k))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, (*path, i))]
    return [] if a == b else [path]


def test_changing_a_canary_weight_changes_only_the_virtual_service_weights():
    before = {r["id"]: r for r in _render(_staging(stable=90, canary=10)).resources}
    after = {r["id"]: r for r in _render(_staging(stable=75, canary=25)).resources}
    assert set(before) == set(after), "a weight change must not add or remove resources"
    changed = sorted(rid for rid in before if before[rid] != after[rid])
    assert changed == ["kubernetes:networking.istio.io/v1:VirtualService::triton-routing-virtual-service"]
    paths = _differences(before[changed[0]]["inputs"], after[changed[0]]["inputs"])
    assert paths and all(path[-1] == "weight" for path in paths), paths
    # The Deployments are untouched, so no pod restarts.
    deployments = [rid for rid in before if rid.startswith("kubernetes:apps/v1:Deployment")]
    assert len(deployments) == 3


@pytest.mark.parametrize("stack", sorted(stack_files(ROOT)))
def test_a_stack_with_jwt_refuses_token_less_requests_at_the_gateway_that_serves_triton(stack):
    """Where a stack sets ``mesh.jwt``, the gateway pods its Gateway selects get the pods' JWT rule (the
    token forwarded) and a DENY for token-less requests to exactly the hosts and path prefixes its
    VirtualService routes; a stack without ``mesh.jwt`` gets nothing at the gateway."""
    render = render_stack(ROOT, stack)
    gateways = _by_kind(render, "Gateway")
    authns = [o for o in render.manifests if o["kind"] == "RequestAuthentication"]
    mesh = json.loads(stack_config(ROOT / f"Pulumi.{stack}.yaml")[0].get("triton-platform:mesh", "{}"))
    if not mesh.get("enabled") or not mesh.get("jwt"):
        assert authns == [], f"{stack} sets no mesh.jwt"
        return
    triton_namespace = gateways["triton-gateway"]["metadata"]["namespace"]
    pods = next(o for o in authns if o["metadata"]["namespace"] == triton_namespace)
    edge = [
        o
        for o in render.manifests
        if o["kind"] in ("RequestAuthentication", "AuthorizationPolicy")
        and o["metadata"]["namespace"] != triton_namespace
    ]
    assert {o["kind"] for o in edge} == {"RequestAuthentication", "AuthorizationPolicy"} and len(edge) == 2, edge
    gateway_release = next(
        r for r in render.resources if r["type"] == "kubernetes:helm.sh/v3:Release" and r["name"] == "istio-gateway"
    )
    for obj in edge:
        assert obj["metadata"]["namespace"] == gateway_release["inputs"]["namespace"]
        assert obj["spec"]["selector"] == {"matchLabels": gateways["triton-gateway"]["spec"]["selector"]}
    authn = next(o for o in edge if o["kind"] == "RequestAuthentication")
    # The pods' rule without the audience (theirs to check) and with the token forwarded to them.
    assert authn["spec"]["jwtRules"] == [
        {**{k: v for k, v in rule.items() if k != "audiences"}, "forwardOriginalToken": True}
        for rule in pods["spec"]["jwtRules"]
    ]
    deny = next(o for o in edge if o["kind"] == "AuthorizationPolicy")["spec"]
    assert deny["action"] == "DENY"
    [rule] = deny["rules"]
    assert rule["from"] == [{"source": {"notRequestPrincipals": [f"{pods['spec']['jwtRules'][0]['issuer']}/*"]}}]
    [operation] = [t["operation"] for t in rule["to"]]
    virtual_service = _by_kind(render, "VirtualService")["triton"]["spec"]
    assert operation["hosts"] == [m for h in virtual_service["hosts"] for m in (h, f"{h}:*")]
    prefixes = {
        m["uri"].get("prefix") or m["uri"]["exact"] for route in virtual_service["http"] for m in route["match"]
    }
    for routed in prefixes:
        assert any(routed.startswith(p[:-1]) for p in operation["paths"]), f"{routed} is routed but not covered"


def test_mesh_jwt_at_gateway_false_leaves_the_gateway_namespace_alone():
    """The stack-file key reaches MeshSecurity: the pods keep their JWT policies, the gateway gets none."""
    mesh = {**STAGING_MESH, "jwt": {**STAGING_MESH["jwt"], "atGateway": False}}
    for at_gateway, render in ((True, _render(_staging())), (False, _render(_staging(mesh=mesh)))):
        jwt_objects = [
            o
            for o in render.manifests
            if o["kind"] in ("RequestAuthentication", "AuthorizationPolicy") and "jwt" in o["metadata"]["name"]
        ]
        namespaces = {o["metadata"]["namespace"] for o in jwt_objects}
        assert namespaces == ({"triton", "istio-ingress"} if at_gateway else {"triton"}), (at_gateway, namespaces)
