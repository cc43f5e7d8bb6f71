"""MeshSecurity: STRICT mTLS, allow-list authorization, JWT and NetworkPolicies, as asked for."""

from __future__ import annotations

import re

import pytest

from support.render import inputs
from triton_components import MeshSecurity, TritonServer

PEER = "kubernetes:security.istio.io/v1:PeerAuthentication"
AUTHZ = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
REQUEST_AUTHN = "kubernetes:security.istio.io/v1:RequestAuthentication"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
JWT = {
    "issuer": "https://auth.example.com/realms/ml",
    "jwks_uri": "https://auth.example.com/realms/ml/certs",
    "audiences": ["triton"],
}

#: Triton's management APIs (reference §2.4): external traffic must never reach them.
MANAGEMENT = [
    ("8000", "POST", "/v2/repository/index"),
    ("8000", "POST", "/v2/repository/models/resnet50/load"),
    ("8000", "POST", "/v2/repository/models/resnet50/unload"),
    ("8000", "GET", "/v2/models/stats"),
    ("8000", "GET", "/v2/models/resnet50/stats"),
    ("8000", "GET", "/v2/models/resnet50/versions/1/stats"),
    ("8000", "GET", "/v2/models/resnet50/config"),
    ("8000", "GET", "/v2/models/resnet50/versions/1/config"),
    ("8000", "POST", "/v2/models/resnet50/trace/setting"),
    ("8000", "GET", "/v2/trace/setting"),
    ("8000", "POST", "/v2/logging"),
    ("8000", "POST", "/v2/systemsharedmemory/region/r/register"),
    ("8000", "GET", "/v2/cudasharedmemory/status"),
    ("8001", "POST", "/inference.GRPCInferenceService/RepositoryModelLoad"),
    ("8001", "POST", "/inference.GRPCInferenceService/ModelConfig"),
    ("8001", "POST", "/inference.GRPCInferenceService/ModelStatistics"),
    ("8001", "POST", "/inference.GRPCInferenceService/SystemSharedMemoryRegister"),
    ("8001", "POST", "/inference.GRPCInferenceService/LogSettings"),
    ("8001", "POST", "/inference.GRPCInferenceService/TraceSetting"),
]
SERVING = [
    ("8000", "POST", "/v2/models/resnet50/infer"),
    ("8000", "POST", "/v2/models/resnet50/versions/2/infer"),
    ("8000", "POST", "/v2/models/llm/generate_stream"),
    ("8000", "GET", "/v2/models/resnet50"),
    ("8000", "GET", "/v2/models/resnet50/ready"),
    ("8000", "GET", "/v2/health/ready"),
    ("8000", "GET", "/v2/health/live"),
    ("8000", "GET", "/v2"),
    ("8001", "POST", "/inference.GRPCInferenceService/ModelInfer"),
    ("8001", "POST", "/inference.GRPCInferenceService/ModelStreamInfer"),
    ("8001", "POST", "/inference.GRPCInferenceService/ServerReady"),
]


def _security(**overrides):
    args = {
        "namespace": "triton",
        "instance": "triton",
        "gateway_namespace": "istio-ingress",
        "gateway_selector": {"istio": "ingressgateway"},
        "prometheus_namespace": "monitoring",
        **overrides,
    }
    return lambda: MeshSecurity("triton-mesh-security", args)


def _policies(render):
    return {r["inputs"]["metadata"]["name"]: r["inputs"]["spec"] for r in render.find(AUTHZ)}


def _path_matches(pattern: str, path: str) -> bool:
    """Istio's string match for paths: exact, ``prefix*``, ``*suffix``, ``*``, and ``{*}``/``{**}`` templates."""
    if "{*}" in pattern or "{**}" in pattern:
        regex = "".join(
            "[^/]+" if part == "{*}" else ".*" if part == "{**}" else re.escape(part)
            for part in re.split(r"(\{\*\*?\})", pattern)
        )
        return re.fullmatch(regex, path) is not None
    if pattern == "*":
        return bool(path)
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return path.endswith(pattern[1:])
    return path == pattern


def _operation_matches(operation, port, method, path):
    return (
        ("ports" not in operation or port in operation["ports"])
        and ("methods" not in operation or method in operation["methods"])
        and ("paths" not in operation or any(_path_matches(p, path) for p in operation["paths"]))
    )


def _rule_matches(rule, source_namespace, port, method, path):
    sources = [f["source"] for f in rule.get("from", [])]
    source_ok = not sources or any(source_namespace in s.get("namespaces", [source_namespace]) for s in sources)
    operations = [t["operation"] for t in rule.get("to", [])]
    return source_ok and (not operations or any(_operation_matches(o, port, method, path) for o in operations))


def _allowed(policies, port, method, path, source_namespace="istio-ingress"):
    """Istio's evaluation: any matching DENY denies; otherwise a matching ALLOW allows (default deny)."""

    def matching(action):
        return any(
            _rule_matches(rule, source_namespace, port, method, path)
            for spec in policies.values()
            if spec.get("action", "ALLOW") == action
            for rule in spec.get("rules", [])
        )

    return not matching("DENY") and matching("ALLOW")


def test_namespace_is_strict_mtls_with_only_the_metrics_port_permissive(run):
    render = run(_security())
    peers = {r["inputs"]["metadata"]["name"]: r["inputs"]["spec"] for r in render.find(PEER)}
    assert peers["default"] == {"mtls": {"mode": "STRICT"}}
    metrics = peers["triton-metrics-plaintext"]
    assert metrics["mtls"] == {"mode": "STRICT"}
    assert metrics["portLevelMtls"] == {"8002": {"mode": "PERMISSIVE"}}
    # Istio only honours port-level settings on a policy with a workload selector.
    assert metrics["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "triton-inference-server",
        "app.kubernetes.io/instance": "triton",
    }


def test_without_prometheus_the_metrics_port_stays_strict_and_closed(run):
    render = run(_security(prometheus_namespace=None))
    assert [r["inputs"]["metadata"]["name"] for r in render.find(PEER)] == ["default"]
    policies = _policies(render)
    assert not _allowed(policies, "8002", "GET", "/metrics", source_namespace="monitoring")
    ingress = inputs(render, NETPOL, "triton-mesh-security-triton-ingress")["spec"]["ingress"]
    assert [p["port"] for rule in ingress for p in rule["ports"]] == [8000, 8001]


def test_default_deny_and_allow_policies_use_only_positive_matches(run):
    policies = _policies(run(_security(jwt=JWT)))
    assert policies["allow-nothing"] == {"action": "ALLOW"}  # no rules: matches nothing, denies everything else
    allow = [spec for spec in policies.values() if spec.get("action", "ALLOW") == "ALLOW"]
    assert len(allow) == 2

    def negative_keys(value):
        if isinstance(value, dict):
            return [k for k in value if k.startswith("not")] + [n for v in value.values() for n in negative_keys(v)]
        if isinstance(value, list):
            return [n for v in value for n in negative_keys(v)]
        return []

    assert all(negative_keys(spec) == [] for spec in allow)


@pytest.mark.parametrize(("port", "method", "path"), MANAGEMENT)
def test_gateway_traffic_never_reaches_management_apis(run, port, method, path):
    assert not _allowed(_policies(run(_security())), port, method, path)


@pytest.mark.parametrize(("port", "method", "path"), SERVING)
def test_gateway_traffic_reaches_inference_metadata_and_health(run, port, method, path):
    policies = _policies(run(_security()))
    assert _allowed(policies, port, method, path)
    assert not _allowed(policies, port, method, path, source_namespace="default"), "only the gateway may call"


def test_prometheus_may_only_get_metrics_on_8002(run):
    policies = _policies(run(_security()))
    assert _allowed(policies, "8002", "GET", "/metrics", source_namespace="monitoring")
    assert not _allowed(policies, "8002", "POST", "/metrics", source_namespace="monitoring")
    assert not _allowed(policies, "8002", "GET", "/v2/models/stats", source_namespace="monitoring")


def test_jwt_is_validated_and_required_on_serving_ports(run):
    render = run(_security(jwt=JWT))
    authn = inputs(render, REQUEST_AUTHN, "triton-mesh-security-request-authentication")["spec"]
    assert authn["jwtRules"] == [{"issuer": JWT["issuer"], "jwksUri": JWT["jwks_uri"], "audiences": ["triton"]}]
    require = _policies(render)["triton-require-jwt"]
    assert require["action"] == "DENY"
    assert require["selector"] == authn["selector"]
    assert require["rules"] == [
        {"from": [{"source": {"notRequestPrincipals": ["*"]}}], "to": [{"operation": {"ports": ["8000", "8001"]}}]}
    ]


def test_no_jwt_no_request_authentication(run):
    render = run(_security())
    assert render.find(REQUEST_AUTHN) == []
    assert "triton-require-jwt" not in _policies(render)


GATEWAY_HOSTS = ["triton.example.com", "api.example.com"]


def _gateway_objects(render):
    """The gateway's RequestAuthentication and DENY policy: every Istio object in its namespace."""
    found = {
        r["inputs"]["kind"]: r["inputs"]
        for r in render.find(REQUEST_AUTHN) + render.find(AUTHZ)
        if r["inputs"]["metadata"]["namespace"] == "istio-ingress"
    }
    assert set(found) == {"RequestAuthentication", "AuthorizationPolicy"}, found
    return found["RequestAuthentication"], found["AuthorizationPolicy"]


def _host_matches(pattern: str, authority: str) -> bool:
    """Istio's ``hosts`` match (``authz/matcher.HostMatcher``): case-insensitive; ``*``, ``*suffix``, ``prefix*``,
    else exact on the whole ``:authority``, port included."""
    pattern, authority = pattern.lower(), authority.lower()
    if pattern == "*":
        return True
    if pattern.startswith("*"):
        return authority.endswith(pattern[1:])
    if pattern.endswith("*"):
        return authority.startswith(pattern[:-1])
    return authority == pattern


def _principal_matches(pattern: str, principal: str | None) -> bool:
    if principal is None:
        return False
    if pattern == "*":
        return True
    issuer, _, subject = pattern.rpartition("/")
    return principal.rpartition("/")[0] == issuer and (subject == "*" or principal.rpartition("/")[2] == subject)


def _gateway_refuses(policy, authority: str, path: str, principal: str | None = None) -> bool:
    """Whether the gateway's DENY policy matches a request (Istio's semantics for the fields it uses)."""
    assert policy["action"] == "DENY"
    for rule in policy["rules"]:
        sources = [f["source"] for f in rule["from"]]
        assert all(set(s) == {"notRequestPrincipals"} for s in sources), sources
        source_ok = any(not any(_principal_matches(p, principal) for p in s["notRequestPrincipals"]) for s in sources)
        operations = [t["operation"] for t in rule["to"]]
        assert all(set(o) <= {"hosts", "paths"} for o in operations), operations
        if source_ok and any(
            ("hosts" not in o or any(_host_matches(h, authority) for h in o["hosts"]))
            and any(_path_matches(p, path) for p in o["paths"])
            for o in operations
        ):
            return True
    return False


def test_the_gateway_requires_the_jwt_for_tritons_hosts_and_paths_only(run):
    render = run(_security(jwt=JWT, gateway_hosts=GATEWAY_HOSTS, path_prefix="/ml"))
    authn, deny = _gateway_objects(render)
    assert authn["spec"]["selector"] == deny["spec"]["selector"] == {"matchLabels": {"istio": "ingressgateway"}}
    assert authn["metadata"]["name"] == "triton-jwt" and deny["metadata"]["name"] == "triton-require-jwt"
    ours = "https://auth.example.com/realms/ml/alice"
    grpc = "/inference.GRPCInferenceService/ModelInfer"
    for host in (
        "triton.example.com",
        "api.example.com",
        "TRITON.example.com",
        "triton.example.com:443",
        "api.example.com:80",
    ):
        for path in ("/ml/v2/models/resnet50/infer", "/ml/v2/health/ready", grpc):
            assert _gateway_refuses(deny["spec"], host, path), (host, path)
            assert not _gateway_refuses(deny["spec"], host, path, principal=ours), (host, path)
            # A token another RequestAuthentication on a shared gateway validated is not ours.
            assert _gateway_refuses(deny["spec"], host, path, principal="https://other.example.com/bob"), (host, path)
    # A shared gateway keeps serving everything else: other hosts, other paths, its own health checks.
    for host, path in (
        ("shop.example.com", "/ml/v2/models/x/infer"),
        ("shop.example.com", grpc),
        ("triton.example.com", "/healthz/ready"),
        ("triton.example.com", "/other"),
        ("triton.example.com", "/mlx/v2"),
    ):
        assert not _gateway_refuses(deny["spec"], host, path), (host, path)


def test_the_gateway_forwards_the_token_it_validated_to_the_pods_that_check_it_again(run):
    """Istio's JWT filter removes the token once it validated it unless forwardOriginalToken is set: the
    Triton pods' own DENY policy would then refuse every request the gateway let through."""
    render = run(_security(jwt=JWT, gateway_hosts=GATEWAY_HOSTS))
    authn, _ = _gateway_objects(render)
    pods = inputs(render, REQUEST_AUTHN, "triton-mesh-security-request-authentication")["spec"]["jwtRules"]
    # The audience is the pods' check: at the gateway it would refuse other applications' tokens of this issuer.
    assert authn["spec"]["jwtRules"] == [
        {**{k: v for k, v in rule.items() if k != "audiences"}, "forwardOriginalToken": True} for rule in pods
    ]
    assert pods[0]["audiences"] == JWT["audiences"]
    assert _policies(render)["triton-require-jwt"]["rules"][0]["from"] == [
        {"source": {"notRequestPrincipals": ["*"]}}
    ], "the pods still require a token: the gateway's must reach them"


def test_with_a_wildcard_host_the_gateway_requires_the_jwt_on_tritons_paths_of_every_host(run):
    """``*.example.com:*`` is a literal suffix to Istio, so ports could not be covered: the refusal
    falls back to every host (closed, not open)."""
    _, deny = _gateway_objects(run(_security(jwt=JWT, gateway_hosts=["*.example.com"])))
    for host in ("a.example.com", "a.example.com:8080", "shop.other.com"):
        assert _gateway_refuses(deny["spec"], host, "/triton/v2/models/m/infer"), host
    assert not _gateway_refuses(deny["spec"], "a.example.com", "/healthz/ready")


def test_the_jwt_at_the_gateway_needs_the_gateway_selector(run):
    """Without a selector the gateway's policies would cover every workload of its namespace (the
    whole mesh in Istio's root namespace): refused before anything is declared, unless the stack keeps
    the JWT off the gateway."""
    with pytest.raises(ValueError, match=r"jwt.at_gateway needs gateway_selector"):
        run(_security(jwt=JWT, gateway_selector={}))
    render = run(_security(jwt={**JWT, "at_gateway": False}, gateway_selector={}))
    assert not [r for r in render.find(REQUEST_AUTHN) if r["inputs"]["metadata"]["namespace"] == "istio-ingress"]


def test_network_policies_admit_only_gateway_and_prometheus(run):
    render = run(_security())
    deny = inputs(render, NETPOL, "triton-mesh-security-default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}
    spec = inputs(render, NETPOL, "triton-mesh-security-triton-ingress")["spec"]
    gateway, prometheus = spec["ingress"]
    assert gateway["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-ingress"}},
            "podSelector": {"matchLabels": {"istio": "ingressgateway"}},
        }
    ]
    assert [p["port"] for p in gateway["ports"]] == [8000, 8001]
    assert prometheus["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    assert [p["port"] for p in prometheus["ports"]] == [8002]


def test_workload_selectors_match_the_triton_pods(run):
    def program():
        TritonServer("triton", {"model_repository": "gs://bucket/models"})
        _security()()

    render = run(program)
    pod_labels = inputs(render, "kubernetes:apps/v1:Deployment")["spec"]["template"]["metadata"]["labels"]
    selectors = [
        r["inputs"]["spec"]["selector"]["matchLabels"]
        for r in render.find(AUTHZ) + render.find(PEER)
        if "selector" in r["inputs"]["spec"]
    ]
    selectors.append(
        inputs(render, NETPOL, "triton-mesh-security-triton-ingress")["spec"]["podSelector"]["matchLabels"]
    )
    assert len(selectors) == 4
    for selector in selectors:
        assert selector.items() <= pod_labels.items()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"gateway_namespace": ""}, "gateway_namespace is empty"),
        ({"prometheus_namespace": "istio-ingress"}, "prometheus_namespace is 'istio-ingress', the gateway namespace"),
        ({"jwt": {"issuer": "https://a", "jwks_uri": ""}}, "jwt needs both issuer and jwks_uri"),
        (
            {"jwt": {"issuer": "https://a", "jwks_uri": "http://a/certs"}},
            "jwt.jwks_uri is 'http://a/certs'; use an https:// URL",
        ),
        (
            {"jwt": JWT, "path_prefix": "/triton/"},
            "args.path_prefix is '/triton/'; give a path such as /triton (lowercase segments, no trailing slash)",
        ),
    ],
)
def test_invalid_inputs_fail_before_any_child_is_declared(run, overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        run(_security(**overrides))


def test_prometheus_with_istio_certificates_keeps_8002_strict_and_is_checked_by_identity(run):
    render = run(_security(metrics_mtls=True))
    assert [r["inputs"]["metadata"]["name"] for r in render.find(PEER)] == ["default"]
    policies = _policies(render)
    assert _allowed(policies, "8002", "GET", "/metrics", source_namespace="monitoring")
    assert not _allowed(policies, "8002", "GET", "/metrics", source_namespace="istio-ingress")


def test_a_stack_may_keep_the_jwt_off_a_shared_gateway(run):
    """``at_gateway: False``: nothing goes into the gateway's namespace (its other applications' tokens
    stay untouched), while every Triton pod still requires the token."""
    render = run(_security(jwt={**JWT, "at_gateway": False}, gateway_hosts=GATEWAY_HOSTS))
    edge = [
        r
        for r in render.find(REQUEST_AUTHN) + render.find(AUTHZ)
        if r["inputs"]["metadata"]["namespace"] == "istio-ingress"
    ]
    assert edge == []
    assert inputs(render, REQUEST_AUTHN, "triton-mesh-security-request-authentication")["spec"]["jwtRules"] == [
        {"issuer": JWT["issuer"], "jwksUri": JWT["jwks_uri"], "audiences": JWT["audiences"]}
    ]
    assert _policies(render)["triton-require-jwt"]["action"] == "DENY"
