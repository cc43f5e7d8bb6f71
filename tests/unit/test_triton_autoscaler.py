"""TritonAutoscaler: the KEDA ScaledObject it asks for."""

from __future__ import annotations

import re

import pulumi
import pytest

from support.promql import problems
from support.render import inputs, one
from triton_components import TritonAutoscaler

SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
PROMETHEUS = "http://prometheus.monitoring.svc:9090"


def _autoscaler(**overrides):
    args = {
        "namespace": "triton",
        "instance": "triton",
        "model_group": "vision",
        "deployment_name": "triton-vision",
        "prometheus_url": PROMETHEUS,
        **overrides,
    }
    return lambda: TritonAutoscaler("vision-autoscaler", args)


def _spec(render):
    return inputs(render, SCALED_OBJECT)["spec"]


def _triggers(render):
    return {t["name"]: t for t in _spec(render)["triggers"]}


def test_targets_the_groups_stable_deployment_with_min_max_and_polling(run):
    render = run(_autoscaler(min_replicas=2, max_replicas=5, polling_interval_seconds=10))
    scaled_object = inputs(render, SCALED_OBJECT)
    assert scaled_object["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled_object["metadata"]["name"] == "triton-vision"
    assert scaled_object["metadata"]["namespace"] == "triton"
    spec = scaled_object["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "triton-vision"}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"], spec["pollingInterval"]) == (2, 5, 10)
    assert "cooldownPeriod" not in spec  # only meaningful for scale to zero


def test_queue_time_trigger_divides_summed_queue_time_by_summed_requests(run):
    trigger = _triggers(run(_autoscaler(queue_time_target_ms=40, queue_time_activation_ms=5)))["queue-time"]
    assert trigger["type"] == "prometheus"
    # An average per request: HPA scales current replicas by value/target.
    assert trigger["metricType"] == "Value"
    meta = trigger["metadata"]
    assert meta["serverAddress"] == PROMETHEUS
    assert (meta["threshold"], meta["activationThreshold"]) == ("40", "5")
    assert meta["ignoreNullValues"] == "false"
    sel = '{namespace="triton",model_group="vision",track="stable"}'
    assert meta["query"] == (
        f"(sum(rate(nv_inference_queue_duration_us{sel}[10s])) / 1000) / "
        f"clamp_min(sum(rate(nv_inference_request_success{sel}[10s])), 0.001)"
    )
    # Not NVIDIA's per-model mean (issue #8979): no avg() and no per-model grouping before dividing.
    assert "avg" not in meta["query"] and " by " not in meta["query"]
    assert problems(meta["query"]) == []


def test_fallback_holds_replicas_and_never_scales_down_on_prometheus_failure(run):
    spec = _spec(run(_autoscaler(min_replicas=2, max_replicas=6)))
    assert spec["fallback"] == {"failureThreshold": 3, "replicas": 2, "behavior": "currentReplicasIfHigher"}
    spec = _spec(run(_autoscaler(min_replicas=2, max_replicas=6, fallback={"failure_threshold": 5, "replicas": 4})))
    assert spec["fallback"] == {"failureThreshold": 5, "replicas": 4, "behavior": "currentReplicasIfHigher"}


def test_hpa_behaviour_damps_scale_down_and_bounds_scale_up(run):
    spec = _spec(run(_autoscaler(scale_up={"max_pods": 3, "period_seconds": 30}, scale_down_stabilization_seconds=600)))
    config = spec["advanced"]["horizontalPodAutoscalerConfig"]
    assert config["name"] == "keda-hpa-triton-vision"
    assert config["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 600
    assert config["behavior"]["scaleDown"]["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 60}]
    assert config["behavior"]["scaleUp"] == {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [{"type": "Pods", "value": 3, "periodSeconds": 30}],
    }
    default = _spec(run(_autoscaler()))["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert default["scaleDown"]["stabilizationWindowSeconds"] >= 300


def test_optional_triggers_use_the_right_metric_types(run):
    triggers = _triggers(run(_autoscaler(pending_requests_per_replica=8, gpu_utilization_percent=80)))
    assert list(triggers) == ["queue-time", "pending-requests", "gpu-utilization"]
    pending, gpu = triggers["pending-requests"], triggers["gpu-utilization"]
    # A total spread over replicas vs. a mean that falls as replicas are added.
    assert (pending["metricType"], pending["metadata"]["threshold"]) == ("AverageValue", "8")
    assert (
        pending["metadata"]["query"]
        == 'sum(nv_inference_pending_request_count{namespace="triton",model_group="vision",track="stable"})'
    )
    assert (gpu["metricType"], gpu["metadata"]["threshold"]) == ("Value", "80")
    assert gpu["metadata"]["query"].startswith("avg(nv_gpu_utilization{")
    for trigger in triggers.values():
        assert trigger["metadata"]["ignoreNullValues"] == "false"
        assert problems(trigger["metadata"]["query"]) == []


def test_no_extra_triggers_by_default(run):
    assert list(_triggers(run(_autoscaler()))) == ["queue-time"]


def test_scale_to_zero_wakes_on_the_mesh_not_on_the_sleeping_pods(run):
    render = run(
        _autoscaler(
            min_replicas=0,
            scale_to_zero={
                "service_name": "triton-vision",
                "gateway_namespace": "istio-ingress",
                "cooldown_seconds": 1200,
            },
        )
    )
    spec = _spec(render)
    assert spec["minReplicaCount"] == 0 and spec["cooldownPeriod"] == 1200
    assert spec["fallback"]["replicas"] == 1
    triggers = _triggers(render)
    wake = triggers["wake-up"]["metadata"]["query"]
    assert "istio_requests_total" in wake and "nv_" not in wake
    assert 'source_workload="istio-ingressgateway"' in wake and 'source_workload_namespace="istio-ingress"' in wake
    assert 'destination_service_name="triton-vision",destination_service_namespace="triton"' in wake
    # At zero pods Triton's series vanish by design: read as 0 instead of an error that would trigger fallback.
    assert triggers["queue-time"]["metadata"]["query"].endswith(") or vector(0)")
    for trigger in triggers.values():
        assert problems(trigger["metadata"]["query"]) == []


def test_waits_for_the_crds(run):
    def program():
        keda = pulumi.CustomResource("test:index:Release", "keda")
        TritonAutoscaler(
            "vision-autoscaler",
            {
                "namespace": "triton",
                "instance": "triton",
                "model_group": "vision",
                "deployment_name": "triton-vision",
                "prometheus_url": PROMETHEUS,
                "wait_for": [keda],
            },
        )

    assert "test:index:Release::keda" in one(run(program), SCALED_OBJECT)["dependsOn"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"model_group": "Vision"}, "model_group 'Vision' must be a DNS label"),
        ({"min_replicas": 4, "max_replicas": 2}, "min_replicas 4 is above max_replicas 2"),
        ({"min_replicas": 0}, "min_replicas is 0 but scale_to_zero is not set"),
        ({"scale_to_zero": {"service_name": "s"}}, "scale_to_zero is set but min_replicas is 1"),
        (
            {"scale_down_stabilization_seconds": 60},
            "args.scale_down_stabilization_seconds is 60; give a number from 300 to 3600",
        ),
        ({"fallback": {"failure_threshold": 1}}, "args.fallback.failure_threshold is 1; give a number from 3 to 100"),
        ({"max_replicas": 4, "fallback": {"replicas": 9}}, "fallback replicas is 9; use 1 to 4"),
        ({"query_window_seconds": 5}, "args.query_window_seconds is 5; give a number from 10 to 600"),
        ({"gpu_utilization_percent": 120}, "args.gpu_utilization_percent is 120; give a number from 1 to 100"),
    ],
)
def test_invalid_inputs_fail_before_anything_is_declared(run, overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        run(_autoscaler(**overrides))
