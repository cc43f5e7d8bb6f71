"""MonitoringAddons: the pinned Helm releases, their values and their namespaces."""

from __future__ import annotations

import json

import pulumi
import pytest

from support.render import inputs, one
from triton_components import MonitoringAddons
from triton_components.common import versions

RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"


def _addons(**args):
    return lambda: MonitoringAddons("monitoring-addons", args)


def test_keda_release_is_pinned_in_its_own_namespace(run):
    render = run(_addons(keda={}))
    release = inputs(render, RELEASE)
    assert (release["chart"], release["version"], release["name"]) == ("keda", versions.KEDA_CHART_VERSION, "keda")
    assert release["repositoryOpts"] == {"repo": "https://kedacore.github.io/charts"}
    assert release["namespace"] == "keda" and release["createNamespace"] is False
    assert release["atomic"] is True
    resources = release["values"]["resources"]
    assert set(resources) == {"operator", "metricServer", "webhooks"}
    assert all("requests" in r and "memory" in r["limits"] for r in resources.values())
    namespace = inputs(render, NAMESPACE)
    assert namespace["metadata"]["name"] == "keda"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert not render.find("kubernetes:core/v1:Secret")


def test_prometheus_stack_release_is_pinned_small_and_selects_every_monitor(run):
    render = run(_addons(prometheus_stack={"namespace": "observability", "retention": "3d"}))
    release = inputs(render, RELEASE)
    assert (release["chart"], release["version"]) == (
        "kube-prometheus-stack",
        versions.KUBE_PROMETHEUS_STACK_CHART_VERSION,
    )
    assert release["repositoryOpts"] == {"repo": "https://prometheus-community.github.io/helm-charts"}
    assert release["name"] == "kube-prometheus-stack" and release["namespace"] == "observability"
    values = release["values"]
    assert values["fullnameOverride"] == "kube-prometheus-stack"
    assert values["crds"] == {"enabled": True}
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["retention"] == "3d"
    assert spec["resources"]["requests"] == {"cpu": "200m", "memory": "512Mi"}
    for kind in ("serviceMonitor", "podMonitor", "rule"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False
        assert spec[f"{kind}Selector"] == {} and spec[f"{kind}NamespaceSelector"] == {}
    for component in ("kubeEtcd", "kubeScheduler", "kubeControllerManager", "kubeProxy"):
        assert values[component] == {"enabled": False}
    assert values["nodeExporter"] == {"enabled": False}
    for key in ("prometheusOperator", "kube-state-metrics", "grafana"):
        assert values[key]["resources"]["requests"]
    sidecar = values["grafana"]["sidecar"]["dashboards"]
    assert (sidecar["label"], sidecar["labelValue"]) == ("grafana_dashboard", "1")


def test_grafana_admin_password_is_generated_and_kept_in_a_secret(run):
    render = run(_addons(prometheus_stack={}))
    admin = inputs(render, RELEASE)["values"]["grafana"]["admin"]
    assert admin == {"existingSecret": "grafana-admin", "userKey": "admin-user", "passwordKey": "admin-password"}
    secret = inputs(render, "kubernetes:core/v1:Secret")
    assert secret["metadata"]["name"] == "grafana-admin" and secret["metadata"]["namespace"] == "monitoring"
    assert secret["stringData"]["admin-password"] == "[secret]"
    assert "prom-operator" not in json.dumps(render.resources)  # the chart's well-known default
    # The release starts only once the Secret exists.
    assert "kubernetes:core/v1:Secret::monitoring-addons-grafana-admin" in one(render, RELEASE)["dependsOn"]


def test_prometheus_url_names_the_charts_service(run):
    def program():
        pulumi.export(
            "url", MonitoringAddons("monitoring-addons", {"prometheus_stack": {"namespace": "obs"}}).prometheus_url
        )

    # fullnameOverride makes the chart's Service "<release>-prometheus" on port 9090.
    assert run(program).outputs["url"] == "http://kube-prometheus-stack-prometheus.obs.svc.cluster.local:9090"


def test_node_exporter_makes_the_namespace_privileged(run):
    render = run(_addons(prometheus_stack={"node_exporter": True}))
    labels = inputs(render, NAMESPACE)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert inputs(render, RELEASE)["values"]["nodeExporter"] == {"enabled": True}


def test_istio_certs_gives_prometheus_a_certificate_only_sidecar(run):
    spec = inputs(run(_addons(prometheus_stack={"istio_certs": True})), RELEASE)["values"]["prometheus"][
        "prometheusSpec"
    ]
    annotations = spec["podMetadata"]["annotations"]
    assert spec["podMetadata"]["labels"] == {"sidecar.istio.io/inject": "true"}
    assert annotations["traffic.sidecar.istio.io/includeInboundPorts"] == ""
    assert annotations["traffic.sidecar.istio.io/includeOutboundIPRanges"] == ""
    assert "OUTPUT_CERTS: /etc/istio-output-certs" in annotations["proxy.istio.io/config"]
    assert json.loads(annotations["sidecar.istio.io/userVolumeMount"]) == [
        {"name": "istio-certs", "mountPath": "/etc/istio-output-certs"}
    ]
    assert spec["volumeMounts"] == [{"name": "istio-certs", "mountPath": "/etc/prom-certs/"}]
    plain = inputs(run(_addons(prometheus_stack={})), RELEASE)["values"]["prometheus"]["prometheusSpec"]
    assert "podMetadata" not in plain


def test_both_addons_expose_their_releases_for_crd_ordering(run):
    found = {}

    def program():
        addons = MonitoringAddons("monitoring-addons", {"keda": {}, "prometheus_stack": {}})
        found["keda"], found["prometheus"] = len(addons.keda_crds), len(addons.prometheus_crds)

    render = run(program)
    assert found == {"keda": 1, "prometheus": 1}
    assert {r["inputs"]["chart"] for r in render.find(RELEASE)} == {"keda", "kube-prometheus-stack"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, "neither keda nor prometheus_stack is set"),
        ({"keda": {"namespace": "KEDA"}}, "keda namespace 'KEDA' must be a DNS label"),
        ({"prometheus_stack": {"retention": "forever"}}, "retention 'forever' must look like 12h, 2d or 1w"),
    ],
)
def test_invalid_inputs_fail_before_anything_is_declared(run, args, message):
    with pytest.raises(ValueError, match=message):
        run(_addons(**args))


CREDENTIAL = "https://hooks.example.test/services/T0/B0/do-not-leak-me"
KEY_FILE = "/etc/alertmanager/secrets/alertmanager-receiver/credential"


@pytest.mark.parametrize(
    ("receiver", "expected"),
    [
        ({"kind": "webhook"}, {"webhook_configs": [{"url_file": KEY_FILE, "send_resolved": True}]}),
        (
            {"kind": "slack", "slack_channel": "#ml-oncall"},
            {"slack_configs": [{"api_url_file": KEY_FILE, "channel": "#ml-oncall", "send_resolved": True}]},
        ),
        ({"kind": "pagerduty"}, {"pagerduty_configs": [{"routing_key_file": KEY_FILE, "send_resolved": True}]}),
        (
            {
                "kind": "email",
                "email_to": "oncall@acme.test",
                "email_from": "am@acme.test",
                "email_smarthost": "smtp.acme.test:587",
                "email_auth_username": "am",
            },
            {
                "email_configs": [
                    {
                        "to": "oncall@acme.test",
                        "from": "am@acme.test",
                        "smarthost": "smtp.acme.test:587",
                        "require_tls": True,
                        "send_resolved": True,
                        "auth_username": "am",
                        "auth_password_file": KEY_FILE,
                    }
                ]
            },
        ),
    ],
    ids=["webhook", "slack", "pagerduty", "email"],
)
def test_alertmanager_routes_every_alert_to_the_receiver_reading_its_credential_from_a_secret(
    run, tmp_path, receiver, expected
):
    from triton_platform.review.render import write_render

    render = run(_addons(prometheus_stack={"alert_receiver": {**receiver, "credential": CREDENTIAL}}))
    alertmanager = inputs(render, RELEASE)["values"]["alertmanager"]
    config = alertmanager["config"]
    assert config["route"]["receiver"] == "platform"
    assert config["route"]["routes"] == [
        {"receiver": "null", "matchers": ['alertname = "Watchdog"']},
        {"receiver": "null", "matchers": ['alertname = "InfoInhibitor"']},
    ]
    assert config["receivers"] == [{"name": "null"}, {"name": "platform", **expected}]
    assert alertmanager["alertmanagerSpec"]["secrets"] == ["alertmanager-receiver"]
    secret = inputs(render, "kubernetes:core/v1:Secret", "monitoring-addons-alertmanager-receiver")
    assert secret["metadata"]["name"] == "alertmanager-receiver" and secret["stringData"] == {"credential": "[secret]"}
    assert "kubernetes:core/v1:Secret::monitoring-addons-alertmanager-receiver" in one(render, RELEASE)["dependsOn"]
    written = write_render(render, tmp_path)
    assert CREDENTIAL not in json.dumps(render.resources)
    assert all(CREDENTIAL not in p.read_text() for p in written.rglob("*") if p.is_file())


def test_without_a_receiver_the_chart_keeps_its_null_receiver(run):
    render = run(_addons(prometheus_stack={}))
    assert "config" not in inputs(render, RELEASE)["values"]["alertmanager"]
    assert [s["name"] for s in render.find("kubernetes:core/v1:Secret")] == ["monitoring-addons-grafana-admin"]


def test_an_email_receiver_without_smtp_auth_has_no_secret(run):
    receiver = {
        "kind": "email",
        "email_to": "a@acme.test",
        "email_from": "b@acme.test",
        "email_smarthost": "relay.acme.test:25",
    }
    render = run(_addons(prometheus_stack={"alert_receiver": receiver}))
    alertmanager = inputs(render, RELEASE)["values"]["alertmanager"]
    assert "secrets" not in alertmanager["alertmanagerSpec"]
    assert "auth_password_file" not in alertmanager["config"]["receivers"][1]["email_configs"][0]
    assert len(render.find("kubernetes:core/v1:Secret")) == 1


@pytest.mark.parametrize(
    ("receiver", "message"),
    [
        ({"kind": "opsgenie"}, "alert_receiver kind 'opsgenie' must be one of webhook, slack, pagerduty, email"),
        ({"kind": "slack"}, "alert_receiver kind 'slack' needs credential: the Slack incoming-webhook URL"),
        (
            {"kind": "webhook", "credential": "x", "slack_channel": "#a"},
            "alert_receiver slack_channel do not apply to kind 'webhook'",
        ),
        ({"kind": "email", "email_to": "a@acme.test"}, "alert_receiver kind 'email' needs email_from, email_smarthost"),
        (
            {"kind": "email", "email_to": "a", "email_from": "b@acme.test", "email_smarthost": "h:25"},
            "alert_receiver email_to 'a' must be an email address",
        ),
        (
            {
                "kind": "email",
                "email_to": "a@acme.test",
                "email_from": "b@acme.test",
                "email_smarthost": "h:25",
                "credential": "x",
            },
            "credential is set for email without email_auth_username",
        ),
    ],
)
def test_invalid_receivers_fail_before_anything_is_declared(run, receiver, message):
    with pytest.raises(ValueError, match=message):
        run(_addons(prometheus_stack={"alert_receiver": receiver}))


def test_a_receiver_without_alertmanager_is_refused(run):
    with pytest.raises(ValueError, match="alert_receiver is set but alertmanager is False"):
        run(_addons(prometheus_stack={"alertmanager": False, "alert_receiver": {"kind": "webhook", "credential": "x"}}))
