"""TritonRouting: what it asks Istio for (Gateway, VirtualService, DestinationRules)."""

from __future__ import annotations

import re

import pulumi
import pulumi_kubernetes as k8s
import pytest

from support.render import inputs
from triton_components import TritonRouting, TritonServer

GATEWAY = "kubernetes:networking.istio.io/v1:Gateway"
VIRTUAL_SERVICE = "kubernetes:networking.istio.io/v1:VirtualService"
DESTINATION_RULE = "kubernetes:networking.istio.io/v1:DestinationRule"
VISION = "triton-vision.triton.svc.cluster.local"
TEXT = "triton-text.triton.svc.cluster.local"


def _args(**overrides):
    return {
        "namespace": "triton",
        "hosts": ["triton.example.com"],
        "groups": [
            {
                "name": "vision",
                "service_host": VISION,
                "models": ["resnet50", "yolov8"],
                "canary": {"stable_percent": 90, "canary_percent": 10},
            },
            {"name": "text", "service_host": TEXT, "models": ["bert-base"]},
        ],
        **overrides,
    }


def _routing(**overrides):
    return lambda: TritonRouting("triton-routing", _args(**overrides))


def _routes(render):
    return {r["name"]: r for r in inputs(render, VIRTUAL_SERVICE)["spec"]["http"]}


def _targets(route):
    return [
        (d["destination"]["host"], d["destination"]["subset"], d["destination"]["port"]["number"], d.get("weight"))
        for d in route["route"]
    ]


def test_gateway_terminates_tls_for_the_configured_hosts_and_redirects_http(run):
    render = run(_routing(tls={"credential_name": "triton-tls"}, gateway_selector={"istio": "ingress"}))
    spec = inputs(render, GATEWAY)["spec"]
    assert spec["selector"] == {"istio": "ingress"}
    https, http = spec["servers"]
    assert https["port"] == {"number": 443, "name": "https", "protocol": "HTTPS"}
    assert https["tls"] == {"mode": "SIMPLE", "credentialName": "triton-tls"}
    assert https["hosts"] == http["hosts"] == ["triton.example.com"]
    assert http["tls"] == {"httpsRedirect": True}
    assert inputs(render, VIRTUAL_SERVICE)["spec"]["hosts"] == ["triton.example.com"]
    assert inputs(render, VIRTUAL_SERVICE)["spec"]["gateways"] == ["triton-gateway"]


def test_gateway_without_tls_serves_plain_http_only(run):
    servers = inputs(run(_routing()), GATEWAY)["spec"]["servers"]
    assert servers == [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["triton.example.com"]}]


def test_http_models_route_to_their_group_with_the_prefix_stripped(run):
    routes = _routes(run(_routing()))
    text = routes["text-http"]
    assert text["match"] == [
        {"uri": {"exact": "/triton/v2/models/bert-base"}},
        {"uri": {"prefix": "/triton/v2/models/bert-base/"}},
    ]
    assert text["rewrite"] == {"uriRegexRewrite": {"match": "^/triton/", "rewrite": "/"}}
    assert _targets(text) == [(TEXT, "stable", 8000, None)]
    vision_paths = [m["uri"] for m in routes["vision-http"]["match"]]
    assert {"prefix": "/triton/v2/models/yolov8/"} in vision_paths
    # A model name that is a prefix of another must not capture it: matches end at a path separator.
    assert all(u.get("exact", "").count("/") == 4 or u.get("prefix", "").endswith("/") for u in vision_paths)


def test_unmatched_http_and_grpc_go_to_the_first_group(run):
    routes = _routes(run(_routing()))
    assert routes["default-http"]["match"] == [{"uri": {"prefix": "/triton/"}}]
    assert routes["default-http"]["rewrite"]["uriRegexRewrite"]["match"] == "^/triton/"
    assert {t[0] for t in _targets(routes["default-http"])} == {VISION}
    assert routes["default-grpc"]["match"] == [{"uri": {"prefix": "/inference.GRPCInferenceService/"}}]
    names = list(routes)
    assert names.index("default-http") > names.index("text-http") and names[-1] == "default-grpc"


def test_grpc_selects_the_group_by_the_model_header_without_rewrite(run):
    routes = _routes(run(_routing()))
    grpc = routes["text-grpc"]
    assert grpc["match"] == [
        {"uri": {"prefix": "/inference.GRPCInferenceService/"}, "headers": {"triton-model": {"exact": "bert-base"}}}
    ]
    assert "rewrite" not in grpc
    assert _targets(grpc) == [(TEXT, "stable", 8001, None)]


def test_canary_group_splits_by_weight_between_subsets(run):
    routes = _routes(run(_routing()))
    for name, port in (("vision-http", 8000), ("vision-grpc", 8001), ("default-http", 8000)):
        assert _targets(routes[name]) == [(VISION, "stable", port, 90), (VISION, "canary", port, 10)]


def test_override_header_forces_the_canary_before_the_weighted_route(run):
    groups = _args()["groups"]
    groups[0]["canary"]["override_header"] = {"name": "triton-track", "value": "canary"}
    routes = _routes(run(_routing(groups=groups)))
    names = list(routes)
    forced = routes["vision-http-canary-override"]
    assert names.index("vision-http-canary-override") < names.index("vision-http")
    assert all(m["headers"] == {"triton-track": {"exact": "canary"}} for m in forced["match"])
    assert _targets(forced) == [(VISION, "canary", 8000, None)]
    grpc_forced = routes["vision-grpc-canary-override"]["match"][0]["headers"]
    assert grpc_forced == {"triton-model": {"exact": "resnet50"}, "triton-track": {"exact": "canary"}}
    assert "text-http-canary-override" not in routes


def test_every_route_has_a_timeout_and_bounded_retries(run):
    routes = _routes(
        run(
            _routing(
                request_timeout_seconds=120,
                retries={"attempts": 2, "per_try_timeout_seconds": 50, "retry_on": ["connect-failure"]},
            )
        )
    )
    for route in routes.values():
        assert route["timeout"] == "120s"
        assert route["retries"] == {"attempts": 2, "perTryTimeout": "50s", "retryOn": "connect-failure"}


def test_zero_attempts_disables_istios_default_retries_explicitly(run):
    routes = _routes(run(_routing(retries={"attempts": 0, "per_try_timeout_seconds": 10})))
    assert {str(r["retries"]) for r in routes.values()} == {"{'attempts': 0}"}


def test_destination_rules_balance_least_request_and_cap_ejection(run):
    render = run(
        _routing(
            outlier_detection={
                "consecutive_5xx_errors": 3,
                "interval_seconds": 5,
                "base_ejection_time_seconds": 60,
                "max_ejection_percent": 34,
            }
        )
    )
    vision = inputs(render, DESTINATION_RULE, "triton-routing-vision-destination-rule")
    text = inputs(render, DESTINATION_RULE, "triton-routing-text-destination-rule")
    assert vision["spec"]["host"] == VISION and vision["metadata"]["name"] == "triton-vision"
    assert vision["spec"]["subsets"] == [
        {"name": "stable", "labels": {"version": "stable"}},
        {"name": "canary", "labels": {"version": "canary"}},
    ]
    assert text["spec"]["subsets"] == [{"name": "stable", "labels": {"version": "stable"}}]
    policy = vision["spec"]["trafficPolicy"]
    assert policy["loadBalancer"] == {"simple": "LEAST_REQUEST"}
    assert policy["outlierDetection"] == {
        "consecutive5xxErrors": 3,
        "interval": "5s",
        "baseEjectionTime": "60s",
        "maxEjectionPercent": 34,
    }
    assert policy["tls"] == {"mode": "ISTIO_MUTUAL"}


def test_every_routed_subset_exists_and_selects_labels_its_pods_carry(run):
    def program():
        server = TritonServer(
            "triton",
            {
                "model_repository": "gs://bucket/models",
                "model_control_mode": "explicit",
                "model_groups": [
                    {
                        "name": "vision",
                        "models": ["resnet50", "yolov8"],
                        "canary": {"image": "nvcr.io/nvidia/tritonserver:26.11-py3"},
                    },
                    {"name": "text", "models": ["bert-base"]},
                ],
            },
        )
        TritonRouting("triton-routing", _args(namespace=server.namespace))

    render = run(program)
    rules = {r["inputs"]["spec"]["host"]: r["inputs"]["spec"] for r in render.find(DESTINATION_RULE)}
    pods = {
        r["inputs"]["metadata"]["name"]: r["inputs"]["spec"]["template"]["metadata"]["labels"]
        for r in render.find("kubernetes:apps/v1:Deployment")
    }
    for route in inputs(render, VIRTUAL_SERVICE)["spec"]["http"]:
        for target in route["route"]:
            host, subset = target["destination"]["host"], target["destination"]["subset"]
            labels = next(s["labels"] for s in rules[host]["subsets"] if s["name"] == subset)
            deployment = f"{host.split('.')[0]}{'' if subset == 'stable' else '-' + subset}"
            assert labels.items() <= pods[deployment].items(), (route["name"], subset)


def test_custom_resources_name_the_callers_dependencies(run):
    def program():
        crds = k8s.core.v1.ConfigMap("istio-crds", metadata={"name": "stand-in"})
        TritonRouting("triton-routing", _args(), pulumi.ResourceOptions(depends_on=[crds]))

    render = run(program)
    for type_ in (GATEWAY, VIRTUAL_SERVICE, DESTINATION_RULE):
        for resource in render.find(type_):
            assert "kubernetes:core/v1:ConfigMap::istio-crds" in resource["dependsOn"], resource["name"]


def test_url_output_uses_the_first_host_and_prefix(run):
    captured = {}

    def program():
        routing = TritonRouting("triton-routing", _args(tls={"credential_name": "tls"}, path_prefix="/ml/triton"))
        routing.url.apply(lambda url: captured.setdefault("url", url))

    run(program)
    assert captured["url"] == "https://triton.example.com/ml/triton"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"hosts": []}, "hosts is empty"),
        ({"hosts": ["*"]}, "hosts has wildcard '*'; name the hosts, or set allow_wildcard_hosts=True outside prod"),
        ({"path_prefix": "/triton/"}, "path_prefix is '/triton/'"),
        ({"groups": []}, "groups is empty"),
        (
            {
                "groups": [
                    {"name": "a", "service_host": "a", "models": ["m"]},
                    {"name": "b", "service_host": "b", "models": ["m"]},
                ]
            },
            "model 'm' is in groups 'a' and 'b'; a model belongs to one group",
        ),
        (
            {"groups": [{"name": "a", "service_host": "a", "canary": {"stable_percent": 80, "canary_percent": 30}}]},
            "group 'a': canary.canary_percent is 30: with stable_percent 80 the two sum to 110; the weights must sum to 100",
        ),
        (
            {"groups": [{"name": "a", "service_host": "a", "canary": {"stable_percent": 110, "canary_percent": -10}}]},
            "args.groups[0].canary.stable_percent is 110; give a number from 0 to 100",
        ),
        (
            {
                "groups": [
                    {
                        "name": "a",
                        "service_host": "a",
                        "canary": {
                            "stable_percent": 100,
                            "canary_percent": 0,
                            "override_header": {"name": "authorization", "value": "x"},
                        },
                    }
                ]
            },
            "group 'a': canary.override_header.name is 'authorization': is reserved; choose another header name",
        ),
        (
            {"tls": {"credential_name": "x", "mode": "PASSTHROUGH"}},
            "tls.mode is 'PASSTHROUGH'; use one of SIMPLE, MUTUAL",
        ),
        (
            {"retries": {"attempts": 3, "per_try_timeout_seconds": 10}},
            "args.retries.attempts is 3; give a number from 0 to 2",
        ),
        (
            {"request_timeout_seconds": 30, "retries": {"attempts": 1, "per_try_timeout_seconds": 60}},
            "retries.per_try_timeout_seconds is 60; use at most request_timeout_seconds (30)",
        ),
        (
            {
                "outlier_detection": {
                    "consecutive_5xx_errors": 5,
                    "interval_seconds": 10,
                    "base_ejection_time_seconds": 30,
                    "max_ejection_percent": 100,
                }
            },
            "args.outlier_detection.max_ejection_percent is 100; give a number from 0 to 50",
        ),
    ],
)
def test_invalid_inputs_fail_before_any_child_is_declared(run, overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        run(_routing(**overrides))


def test_wildcard_hosts_must_be_asked_for_by_name(run):
    render = run(_routing(hosts=["*.example.com"], allow_wildcard_hosts=True))
    assert inputs(render, GATEWAY)["spec"]["servers"][0]["hosts"] == ["*.example.com"]
