"""TritonMonitoring, TritonAlerts and TritonDashboard: monitors, alert rules and the dashboard they ask for."""

from __future__ import annotations

import json
import re

import pytest

from support.promql import problems
from support.render import inputs
from triton_components import TritonMonitoring, TritonServer
from triton_components.observability.triton_alerts import pod_regex

SERVICE_MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
GROUPS = [
    {
        "name": "vision",
        "models": ["resnet50", "yolo"],
        "model_load_timeout_seconds": 1200,
        "hpa_name": "keda-hpa-triton-vision",
    },
    {"name": "text", "models": ["bert"]},
]


def _monitoring(with_server=False, **overrides):
    args = {"namespace": "triton", "instance": "triton", "environment": "staging", "model_groups": GROUPS, **overrides}

    def program():
        if with_server:
            TritonServer(
                "triton",
                {
                    "model_repository": "gs://b/m",
                    "model_control_mode": "explicit",
                    "model_groups": [
                        {"name": "vision", "models": ["resnet50", "yolo"]},
                        {"name": "text", "models": ["bert"]},
                    ],
                },
            )
        TritonMonitoring("triton-monitoring", args)

    return program


def _by_name(render, type_):
    return {r["inputs"]["metadata"]["name"]: r["inputs"] for r in render.find(type_)}


def _rules(render):
    [group] = inputs(render, RULE)["spec"]["groups"]
    return group["rules"]


def test_service_monitor_selects_the_groups_service_on_its_metrics_port(run):
    render = run(_monitoring(with_server=True, monitor_labels={"release": "kube-prometheus-stack"}))
    services = _by_name(render, "kubernetes:core/v1:Service")
    monitors = _by_name(render, SERVICE_MONITOR)
    assert set(monitors) == {"triton-vision", "triton-text"}
    for name, monitor in monitors.items():
        service = services[name]
        selector = monitor["spec"]["selector"]["matchLabels"]
        assert selector.items() <= service["metadata"]["labels"].items()
        # Selecting only this group's Service: another group's Service must not match.
        other = services["triton-text" if name == "triton-vision" else "triton-vision"]
        assert not selector.items() <= other["metadata"]["labels"].items()
        assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["triton"]}
        [endpoint] = monitor["spec"]["endpoints"]
        assert (endpoint["port"], endpoint["path"]) == ("metrics", "/metrics")
        assert "metrics" in {p["name"] for p in service["spec"]["ports"]}
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_relabelings_carry_environment_group_and_track_into_every_series(run):
    [endpoint] = _by_name(run(_monitoring()), SERVICE_MONITOR)["triton-vision"]["spec"]["endpoints"]
    assert endpoint["interval"] == "2s" and endpoint["scrapeTimeout"] == "2s"
    by_target = {r["targetLabel"]: r for r in endpoint["relabelings"]}
    assert by_target["environment"] == {"action": "replace", "targetLabel": "environment", "replacement": "staging"}
    assert by_target["model_group"]["sourceLabels"] == ["__meta_kubernetes_pod_label_triton_platform_io_model_group"]
    # "version" is Triton's model-version label; the Istio track label lands in "track".
    assert by_target["track"]["sourceLabels"] == ["__meta_kubernetes_pod_label_version"]


def test_pod_monitor_selects_the_pods_of_both_tracks(run):
    render = run(_monitoring(with_server=True, monitor_kind="PodMonitor", scrape_interval_seconds=15))
    assert not render.find(SERVICE_MONITOR)
    monitor = _by_name(render, POD_MONITOR)["triton-vision"]
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    assert (endpoint["port"], endpoint["interval"], endpoint["scrapeTimeout"]) == ("metrics", "15s", "10s")
    deployment = _by_name(render, "kubernetes:apps/v1:Deployment")["triton-vision"]
    pod = deployment["spec"]["template"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert (
        "track" not in monitor["spec"]["selector"]["matchLabels"]
        and "version" not in monitor["spec"]["selector"]["matchLabels"]
    )
    assert "metrics" in {p["name"] for p in pod["spec"]["containers"][0]["ports"]}


def test_istio_certs_scrape_uses_https_with_the_mounted_workload_certificate(run):
    [endpoint] = _by_name(run(_monitoring(tls="istio-certs")), SERVICE_MONITOR)["triton-text"]["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"]["certFile"] == "/etc/prom-certs/cert-chain.pem"
    assert endpoint["tlsConfig"]["keyFile"] == "/etc/prom-certs/key.pem"
    plain = _by_name(run(_monitoring()), SERVICE_MONITOR)["triton-text"]["spec"]["endpoints"][0]
    assert "scheme" not in plain and "tlsConfig" not in plain


def test_every_required_alert_exists_for_every_group(run):
    rules = _rules(run(_monitoring()))
    alerts = {(r["labels"]["model_group"], r["alert"]) for r in rules}
    for group in ("vision", "text"):
        for alert in (
            "TritonTargetDown",
            "TritonMetricsAbsent",
            "TritonModelNotReady",
            "TritonModelNotLoaded",
            "TritonHighQueueTime",
            "TritonInferenceFailures",
            "TritonGpuMemoryNearlyFull",
        ):
            assert (group, alert) in alerts
    # Only the autoscaled group can sit at its maximum.
    assert ("vision", "TritonAutoscalerAtMaximum") in alerts and ("text", "TritonAutoscalerAtMaximum") not in alerts
    for rule in rules:
        assert rule["labels"]["environment"] == "staging" and rule["labels"]["severity"] in ("warning", "critical")
        assert problems(rule["expr"]) == []


def test_alert_expressions_and_thresholds(run):
    rules = _rules(run(_monitoring(alerts={"queue_time_ms": 150, "failure_ratio": 0.02, "gpu_memory_ratio": 0.85})))
    vision = {
        r["alert"]: r for r in rules if r["labels"]["model_group"] == "vision" and r["alert"] != "TritonModelNotLoaded"
    }
    sel = '{namespace="triton",model_group="vision"}'
    assert vision["TritonTargetDown"]["expr"] == f"up{sel} == 0"
    assert vision["TritonMetricsAbsent"]["expr"] == f"absent(nv_inference_request_success{sel})"
    assert vision["TritonHighQueueTime"]["expr"].endswith("> 150")
    assert "nv_inference_queue_duration_us" in vision["TritonHighQueueTime"]["expr"]
    assert vision["TritonInferenceFailures"]["expr"].endswith("> 0.02")
    assert "nv_inference_request_failure" in vision["TritonInferenceFailures"]["expr"]
    assert vision["TritonGpuMemoryNearlyFull"]["expr"] == (
        f"max by (pod) (nv_gpu_memory_used_bytes{sel} / nv_gpu_memory_total_bytes{sel}) > 0.85"
    )
    hpa = '{namespace="triton",horizontalpodautoscaler="keda-hpa-triton-vision"}'
    assert vision["TritonAutoscalerAtMaximum"]["expr"] == (
        f"kube_horizontalpodautoscaler_status_current_replicas{hpa} >= kube_horizontalpodautoscaler_spec_max_replicas{hpa}"
    )
    not_loaded = [
        r["expr"] for r in rules if r["alert"] == "TritonModelNotLoaded" and r["labels"]["model_group"] == "vision"
    ]
    assert not_loaded == [
        'absent(nv_inference_request_success{namespace="triton",model_group="vision",model="resnet50"})',
        'absent(nv_inference_request_success{namespace="triton",model_group="vision",model="yolo"})',
    ]


def test_every_rule_is_told_apart_by_name_and_labels(run):
    """Prometheus (and ``promtool check rules``) treat same name + same labels as a duplicate rule."""
    rules = _rules(run(_monitoring()))
    identities = [(r["alert"], tuple(sorted(r["labels"].items()))) for r in rules]
    assert len(identities) == len(set(identities))
    models = {
        r["labels"]["model"]
        for r in rules
        if r["alert"] == "TritonModelNotLoaded" and r["labels"]["model_group"] == "vision"
    }
    assert models == {"resnet50", "yolo"}


def test_not_ready_waits_for_the_model_load_budget(run):
    rules = _rules(run(_monitoring()))
    hold = {r["labels"]["model_group"]: r["for"] for r in rules if r["alert"] == "TritonModelNotReady"}
    # vision loads for up to 20 min, so 15 min would page during a normal start.
    assert hold == {"vision": "21m", "text": "15m"}


def test_pod_regex_matches_only_its_own_group():
    pattern = re.compile(pod_regex("text"))
    assert pattern.fullmatch("triton-text-7d9c5b6f4-abcde")
    assert pattern.fullmatch("triton-text-canary-7d9c5b6f4-abcde")
    assert not pattern.fullmatch("triton-text-large-7d9c5b6f4-abcde")
    assert not pattern.fullmatch("triton-vision-7d9c5b6f4-abcde")


def test_scale_to_zero_group_alerts_on_absence_only_while_it_has_replicas(run):
    groups = [{"name": "batch", "hpa_name": "keda-hpa-triton-batch", "scale_to_zero": True}]
    render = run(
        _monitoring(
            model_groups=groups, gateway_monitor={"namespace": "istio-ingress", "selector": {"istio": "ingressgateway"}}
        )
    )
    rules = {r["alert"]: r for r in _rules(render)}
    assert rules["TritonMetricsAbsent"]["expr"].endswith(
        ' and on() (kube_deployment_spec_replicas{namespace="triton",deployment="triton-batch"} > 0)'
    )
    assert rules["TritonWakeUpSignalMissing"]["expr"] == 'absent(up{job="istio-ingress/triton-wake-up-gateway"} == 1)'
    gateway = inputs(render, POD_MONITOR)
    assert gateway["metadata"] == {
        **gateway["metadata"],
        "name": "triton-wake-up-gateway",
        "namespace": "istio-ingress",
    }
    assert gateway["spec"]["selector"] == {"matchLabels": {"istio": "ingressgateway"}}
    assert gateway["spec"]["podMetricsEndpoints"][0]["port"] == "http-envoy-prom"


def test_alerts_can_be_turned_off(run):
    assert not run(_monitoring(alerts=None)).find(RULE)


def test_dashboard_config_map_is_labelled_for_the_grafana_sidecar(run):
    render = run(_monitoring(dashboard={"namespace": "monitoring"}))
    config_map = inputs(render, CONFIG_MAP)
    assert config_map["metadata"]["namespace"] == "monitoring"
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    [body] = config_map["data"].values()
    dashboard = json.loads(body)
    titles = [p["title"] for p in dashboard["panels"]]
    assert titles == [
        "Requests per second",
        "Latency per request: queue and compute",
        "Failed requests per second",
        "Pending requests",
        "GPU utilization",
        "GPU memory used",
        "Replicas",
    ]
    latency = next(p for p in dashboard["panels"] if p["title"].startswith("Latency"))
    assert [t["legendFormat"] for t in latency["targets"]] == ["{{model_group}} queue", "{{model_group}} compute"]
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            assert 'namespace="triton"' in target["expr"]
            assert problems(target["expr"]) == []
    assert not run(_monitoring()).find(CONFIG_MAP)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"monitor_kind": "ScrapeConfig"}, "monitor_kind is 'ScrapeConfig'; use one of ServiceMonitor, PodMonitor"),
        ({"tls": "mtls"}, "tls is 'mtls'; use one of none, istio-certs"),
        ({"tls": "istio-certs", "monitor_kind": "PodMonitor"}, "a PodMonitor cannot; use monitor_kind ServiceMonitor"),
        ({"scrape_interval_seconds": 0}, "args.scrape_interval_seconds is 0; give a number from 1 to 300"),
        ({"model_groups": []}, "model_groups is empty"),
        ({"alerts": {"failure_ratio": 5}}, "args.alerts.failure_ratio is 5; give a number above 0 and below 1"),
        ({"alerts": {"gpu_memory_ratio": 0}}, "args.alerts.gpu_memory_ratio is 0; give a number above 0 and at most 1"),
        ({"alerts": {"for_minutes": 0}}, "args.alerts.for_minutes is 0; give a number from 1 to 120"),
    ],
)
def test_invalid_inputs_fail_before_anything_is_declared(run, overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        run(_monitoring(**overrides))
