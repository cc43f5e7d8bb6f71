"""`triton-platform:mesh` and canary settings: valid stacks load; each mistake gets the exact message a user sees."""

from __future__ import annotations

import pytest

from triton_platform.config import ConfigError, load_settings

STACK = "Pulumi.staging.yaml"
MESH = {"enabled": True, "gateway": {"hosts": ["triton.example.com"]}}


def _config(mesh=None, groups=None, environment="staging", mode="explicit"):
    config = {
        "triton-platform:environment": environment,
        "triton-platform:triton": {"modelRepository": "gs://bucket/models", "modelControlMode": mode},
        "triton-platform:modelGroups": groups
        if groups is not None
        else [
            {"name": "vision", "models": ["resnet50", "yolov8"], "replicas": 2},
            {"name": "text", "models": ["bert-base"], "replicas": 2},
        ],
    }
    if mesh is not None:
        config["triton-platform:mesh"] = mesh
    return config


def _canary_group(**canary):
    return [{"name": "vision", "models": ["resnet50"], "replicas": 2, "canary": {"imageTag": "26.11-py3", **canary}}]


def _problems(config):
    with pytest.raises(ConfigError) as raised:
        load_settings(config, STACK)
    return raised.value.problems


def test_staging_with_a_canary_loads():
    settings = load_settings(
        _config(
            mesh={
                "enabled": True,
                "install": {"enabled": True, "gatewayReplicas": 2},
                "gateway": {"hosts": ["triton.staging.example.com"], "tls": {"credentialName": "triton-staging-tls"}},
                "requestTimeoutSeconds": 120,
                "retries": {"attempts": 1, "perTryTimeoutSeconds": 60},
                "outlierDetection": {"consecutive5xxErrors": 5, "maxEjectionPercent": 50},
                "jwt": {
                    "issuer": "https://auth.example.com/realms/ml",
                    "jwksUri": "https://auth.example.com/realms/ml/protocol/openid-connect/certs",
                },
                "prometheusNamespace": "monitoring",
            },
            groups=_canary_group(
                trafficPercent={"stable": 90, "canary": 10}, overrideHeader={"name": "triton-track", "value": "canary"}
            ),
        ),
        STACK,
    )
    canary = settings.model_groups[0].canary
    assert (canary.traffic_percent.stable, canary.traffic_percent.canary) == (90, 10)
    assert settings.mesh.outlier_detection.consecutive_5xx_errors == 5
    assert settings.mesh.gateway.tls.mode == "SIMPLE" and settings.mesh.gateway.tls.https_redirect is True


def test_defaults_are_a_dark_canary_and_conservative_retries():
    settings = load_settings(_config(mesh=MESH, groups=_canary_group()), STACK)
    assert settings.model_groups[0].canary.traffic_percent.canary == 0
    assert settings.mesh.retries.attempts == 1
    assert settings.mesh.retries.retry_on == ["connect-failure", "refused-stream", "unavailable"]
    assert settings.mesh.prometheus_namespace == "monitoring"
    assert settings.mesh.install.enabled is False


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            _config(mesh=MESH, groups=_canary_group(trafficPercent={"stable": 90, "canary": 20})),
            "triton-platform:modelGroups[0].canary.trafficPercent.canary = 20: "
            "with trafficPercent.stable 90 the two sum to 110; the weights must sum to 100",
        ),
        (
            _config(mesh=MESH, groups=_canary_group(trafficPercent={"stable": 120, "canary": -20})),
            None,  # two structural problems, asserted below
        ),
        (
            _config(groups=_canary_group(trafficPercent={"stable": 90, "canary": 10})),
            "triton-platform:modelGroups[0].canary = 'set': needs mesh.enabled: true; without Istio the group's "
            "Service spreads requests over stable and canary pods by pod count and trafficPercent is ignored",
        ),
        (
            _config(mesh=MESH, groups=[{**_canary_group()[0], "replicas": 0}]),
            "triton-platform:modelGroups[0].canary = 'set': needs a stable track: set replicas to 1 or more",
        ),
        (
            _config(mesh=MESH, groups=_canary_group(overrideHeader={"name": "authorization"})),
            "triton-platform:modelGroups[0].canary.overrideHeader.name = 'authorization': is reserved; choose another "
            "header name (not one of authorization, content-length, content-type, grpc-timeout, host, te, triton-model)",
        ),
        (
            _config(mesh={**MESH, "jwt": {"issuer": "https://auth.example.com"}}),
            "triton-platform:mesh.jwt.jwksUri = (not set): is required when jwt.issuer is set; "
            "set both issuer and jwksUri, or remove jwt",
        ),
        (
            _config(mesh={**MESH, "jwt": {"jwksUri": "https://auth.example.com/certs"}}),
            "triton-platform:mesh.jwt.issuer = (not set): is required when jwt.jwksUri is set; "
            "set both issuer and jwksUri, or remove jwt",
        ),
        (
            _config(mesh={**MESH, "jwt": {}}),
            "triton-platform:mesh.jwt = {}: sets neither issuer nor jwksUri; set both, or remove jwt",
        ),
        (
            _config(mesh={**MESH, "jwt": {"issuer": "https://a.example.com", "jwksUri": "http://a.example.com/certs"}}),
            "triton-platform:mesh.jwt.jwksUri = 'http://a.example.com/certs': must be an https:// URL: "
            "Istio fetches the token signing keys from it",
        ),
        (
            _config(
                mesh={
                    **MESH,
                    "jwt": {
                        "issuer": "https://a.example.com",
                        "jwksUri": "https://a.example.com/certs",
                        "atGateway": "yes",
                    },
                }
            ),
            "triton-platform:mesh.jwt.atGateway = 'yes': Input should be a valid boolean",
        ),
        (
            _config(mesh={"enabled": True}),
            "triton-platform:mesh.gateway.hosts = [] (default, as the stack file has no triton-platform:mesh.gateway; "
            "set this key to change it): is empty; list the host names clients use, "
            "e.g. triton.example.com ('*' is accepted outside prod)",
        ),
        (
            _config(
                environment="prod",
                mesh={"enabled": True, "gateway": {"hosts": ["*.example.com"], "tls": {"credentialName": "tls"}}},
            ),
            "triton-platform:mesh.gateway.hosts[0] = '*.example.com': wildcard hosts are not allowed in prod; name the host",
        ),
        (
            _config(environment="prod", mesh=MESH),
            "triton-platform:mesh.gateway.tls = (not set): prod serves clients over TLS only: set tls.credentialName "
            "to the certificate Secret in the gateway namespace (istio-ingress)",
        ),
        (
            _config(mesh={**MESH, "requestTimeoutSeconds": 20, "retries": {"perTryTimeoutSeconds": 30}}),
            "triton-platform:mesh.retries.perTryTimeoutSeconds = 30: is above requestTimeoutSeconds (20); "
            "a try can never outlast the request",
        ),
        (
            _config(mesh={**MESH, "retries": {"attempts": 3}}),
            "triton-platform:mesh.retries.attempts = 3: Input should be less than or equal to 2",
        ),
        (
            _config(mesh={**MESH, "outlierDetection": {"maxEjectionPercent": 80}}),
            "triton-platform:mesh.outlierDetection.maxEjectionPercent = 80: Input should be less than or equal to 50",
        ),
        (
            _config(mesh=MESH, mode="none", groups=[{"name": "a"}, {"name": "b"}]),
            "triton-platform:modelGroups[1].name = 'b': is unreachable through the gateway: with "
            "triton.modelControlMode 'none' every group serves the whole repository and all requests go to the "
            "first group ('a'); use modelControlMode: explicit with models per group, or one group",
        ),
        (
            _config(mesh=MESH, groups=[{"name": "a", "models": ["m"]}, {"name": "b", "models": ["m"]}]),
            "triton-platform:modelGroups[1].models[0] = 'm': is already served by model group 'a'; "
            "a model belongs to one group",
        ),
        (
            _config(
                mesh={
                    "enabled": True,
                    "install": {"enabled": True},
                    "gateway": {"hosts": ["triton.example.com"], "selector": {"app": "edge"}},
                }
            ),
            'triton-platform:mesh.gateway.selector = {"app": "edge"}: does not select the gateway this stack installs '
            "(istio: ingressgateway); remove selector, or set install.enabled: false to use a gateway installed otherwise",
        ),
        (
            _config(mesh={**MESH, "timeout": 3}),
            "triton-platform:mesh.timeout: unknown key; accepted keys here: enabled, install, revision, gateway, "
            "requestTimeoutSeconds, retries, outlierDetection, jwt, prometheusNamespace, sidecar",
        ),
    ],
)
def test_bad_mesh_config_message(config, message):
    problems = _problems(config)
    if message is None:
        assert problems == [
            "triton-platform:modelGroups[0].canary.trafficPercent.stable = 120: Input should be less than or equal to 100",
            "triton-platform:modelGroups[0].canary.trafficPercent.canary = -20: Input should be greater than or equal to 0",
        ]
    else:
        assert problems == [message]


def test_every_problem_is_reported_at_once():
    config = _config(
        mesh={"enabled": True, "jwt": {"issuer": "x"}, "retries": {"perTryTimeoutSeconds": 120}},
        groups=_canary_group(trafficPercent={"stable": 50, "canary": 40}),
    )
    keys = [p.split(" ", 1)[0] for p in _problems(config)]
    assert keys == [
        "triton-platform:modelGroups[0].canary.trafficPercent.canary",
        "triton-platform:mesh.retries.perTryTimeoutSeconds",
        "triton-platform:mesh.jwt.jwksUri",
        "triton-platform:mesh.gateway.hosts",
    ]


def test_mesh_disabled_ignores_gateway_settings_but_not_incoherent_ones():
    settings = load_settings(_config(mesh={"enabled": False, "gateway": {"hosts": []}}), STACK)
    assert settings.mesh.enabled is False
    assert _problems(_config(mesh={"enabled": False, "jwt": {"issuer": "https://a.example.com"}})) == [
        "triton-platform:mesh.jwt.jwksUri = (not set): is required when jwt.issuer is set; "
        "set both issuer and jwksUri, or remove jwt"
    ]
    assert _problems(_config(mesh={"install": {"enabled": True}})) == [
        "triton-platform:mesh.install.enabled = true: installs Istio for nothing: set mesh.enabled: true, or remove it"
    ]
