"""Observability and autoscaling configuration: defaults, and the exact messages a user reads."""

from __future__ import annotations

from support.config import GCP, REPO, env, problems
from triton_platform.config import load_settings
from triton_platform.config.observability_rules import peak_stable_replicas

OBS = {"enabled": True, "addons": {"keda": True, "prometheusStack": True}}
MESH = {"enabled": True, "gateway": {"hosts": ["triton.example.com"]}}
AT = "triton-platform:modelGroups[0].autoscaling"


def autoscaled(autoscaling: dict, environment: str = "dev", observability: dict = OBS, **group) -> dict:
    return env(
        environment,
        triton=REPO,
        observability=observability,
        modelGroups=[{"name": "a", **group, "autoscaling": autoscaling}],
    )


def test_defaults_are_off_and_autoscaling_defaults_are_safe():
    settings = load_settings(autoscaled({}), "Pulumi.test.yaml")
    a = settings.model_groups[0].autoscaling
    assert (a.min_replicas, a.max_replicas, a.fallback_replicas) == (1, 3, 1)
    assert a.scale_down_stabilization_seconds == 300 and a.fallback.failure_threshold == 3
    assert not a.scale_to_zero.enabled
    obs = settings.observability
    assert obs.scrape.kind == "ServiceMonitor" and obs.scrape.interval_seconds == 2
    assert obs.prometheus.selector_labels == {"release": "kube-prometheus-stack"}
    assert obs.prometheus_url == "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090"
    assert not load_settings(env("dev", triton=REPO), "Pulumi.test.yaml").observability.enabled


def test_autoscaling_needs_observability_and_a_prometheus():
    assert problems(autoscaled({}, observability={})) == [
        f"{AT} = 'set': needs observability.enabled: true; KEDA scales on Triton's metrics, read from Prometheus"
    ]
    assert problems(autoscaled({}, observability={"enabled": True})) == [
        "triton-platform:observability.prometheus.url = (not set): is required for autoscaling unless "
        "observability.addons.prometheusStack is true: give the in-cluster query URL, e.g. "
        "http://prometheus-operated.monitoring.svc:9090"
    ]
    settings = load_settings(
        autoscaled({}, observability={"enabled": True, "prometheus": {"url": "http://prom.obs.svc:9090"}}),
        "Pulumi.test.yaml",
    )
    assert settings.observability.prometheus_url == "http://prom.obs.svc:9090"


def test_replica_bounds_and_scale_to_zero_must_be_asked_for():
    assert problems(autoscaled({"minReplicas": 4, "maxReplicas": 2})) == [
        f"{AT}.minReplicas = 4: is above maxReplicas (2)"
    ]
    assert problems(autoscaled({"minReplicas": 0})) == [
        f"{AT}.minReplicas = 0: scales the group to zero, where every first request waits minutes for a GPU and the "
        "model load; use 1 or more, or set scaleToZero.enabled: true to accept it"
    ]
    assert problems(autoscaled({"minReplicas": 2, "scaleToZero": {"enabled": True}})) == [
        f"{AT}.scaleToZero.enabled = true: has no effect while minReplicas is 2; set minReplicas: 0",
        f"{AT}.scaleToZero.enabled = true: needs mesh.enabled: true: a group at zero publishes no Triton metrics, so "
        "only the Istio ingress gateway's request rate can wake it",
    ]


def test_scale_to_zero_with_the_mesh_is_accepted_outside_prod():
    config = env(
        "dev",
        triton=REPO,
        observability=OBS,
        mesh=MESH,
        modelGroups=[{"name": "a", "autoscaling": {"minReplicas": 0, "scaleToZero": {"enabled": True}}}],
    )
    assert load_settings(config, "Pulumi.test.yaml").model_groups[0].autoscaling.scale_to_zero.enabled
    config["triton-platform:environment"] = "prod"
    assert (
        f"{AT}.scaleToZero.enabled = true: is not allowed in prod: the first request after idle waits minutes"
        in problems(config)
    )


def test_prod_needs_two_replicas_at_the_bottom_of_the_range():
    # prod installing Alertmanager needs a receiver too: one that needs no secret.
    relay = {
        "kind": "email",
        "emailTo": "oncall@acme.test",
        "emailFrom": "am@acme.test",
        "emailSmarthost": "relay.acme.test:25",
    }
    observability = {**OBS, "alerts": {"receiver": relay}}
    assert problems(autoscaled({"minReplicas": 1}, environment="prod", observability=observability, replicas=2)) == [
        f"{AT}.minReplicas = 1: prod needs at least 2 replicas so a rollout or node drain keeps serving; "
        "or set acceptSingleReplica: true to waive it"
    ]
    load_settings(
        autoscaled(
            {"minReplicas": 1}, environment="prod", observability=observability, replicas=2, acceptSingleReplica=True
        ),
        "Pulumi.test.yaml",
    )


def test_window_stabilization_and_fallback_rules():
    observability = {**OBS, "scrape": {"intervalSeconds": 15}}
    config = autoscaled(
        {"queryWindowSeconds": 30, "fallback": {"replicas": 9}},
        observability=observability,
    )
    assert problems(config) == [
        f"{AT}.queryWindowSeconds = 30: must be at least 4 scrape intervals (60 s with observability.scrape."
        "intervalSeconds 15) so rate() always has enough samples",
        f"{AT}.fallback.replicas = 9: must be between max(minReplicas, 1) (1) and maxReplicas (3)",
    ]
    # The autoscaler contract's floor (a GPU replica removed too early takes minutes to come back).
    assert problems(autoscaled({"scaleDownStabilizationSeconds": 60})) == [
        f"{AT}.scaleDownStabilizationSeconds = 60: Input should be greater than or equal to 300"
    ]
    assert problems(autoscaled({"fallback": {"failureThreshold": 1}})) == [
        f"{AT}.fallback.failureThreshold = 1: Input should be greater than or equal to 3"
    ]


def test_gpu_trigger_needs_gpus_that_report_utilization():
    assert problems(autoscaled({"gpuUtilizationPercent": 80}, gpusPerReplica=0)) == [
        f"{AT}.gpuUtilizationPercent = 80: the group runs on CPU (gpusPerReplica 0); remove it"
    ]
    mig = {
        **GCP,
        "gpuPool": {
            "machineType": "a2-highgpu-1g",
            "acceleratorType": "nvidia-tesla-a100",
            "gpuSharing": {"strategy": "mig", "migPartitionSize": "1g.5gb"},
        },
    }
    assert problems(
        env(
            "dev", gcp=mig, observability=OBS, modelGroups=[{"name": "a", "autoscaling": {"gpuUtilizationPercent": 70}}]
        )
    ) == [
        f"{AT}.gpuUtilizationPercent = 70: Triton reports no GPU utilization on MIG partitions; remove it and scale "
        "on queue time"
    ]


def test_max_replicas_must_fit_the_gpu_pool():
    config = env(
        "dev",
        gcp={**GCP, "gpuPool": {"maxNodes": 2}},
        observability=OBS,
        modelGroups=[{"name": "a", "autoscaling": {"maxReplicas": 3}}],
    )
    assert problems(config) == [
        "triton-platform:gcp.gpuPool.maxNodes = 2: the model groups need 3 GPU(s) at their maximum replica counts "
        "but 2 node(s) hold 2; raise maxNodes or lower replicas (or autoscaling.maxReplicas)"
    ]
    # Time-shared GPUs offer more slots per node.
    shared = {
        **GCP,
        "gpuPool": {"maxNodes": 2, "gpuSharing": {"strategy": "time-sharing", "maxSharedClientsPerGpu": 2}},
    }
    settings = load_settings(
        env("dev", gcp=shared, observability=OBS, modelGroups=[{"name": "a", "autoscaling": {"maxReplicas": 3}}]),
        "Pulumi.test.yaml",
    )
    assert peak_stable_replicas(settings.model_groups[0]) == 3


def test_scrape_and_addon_rules():
    assert problems(
        env("dev", triton=REPO, observability={**OBS, "scrape": {"kind": "PodMonitor", "tls": "istio-certs"}})
    ) == [
        "triton-platform:observability.scrape.tls = 'istio-certs': needs scrape.kind: ServiceMonitor; a PodMonitor "
        "cannot read the certificate files Istio writes for Prometheus"
    ]
    assert problems(env("dev", triton=REPO, observability={"addons": {"keda": True}})) == [
        "triton-platform:observability.enabled = false (default; set this key to change it): observability.addons "
        "asks for KEDA or kube-prometheus-stack, "
        "which are installed only when this is true; set it to true or remove the add-ons"
    ]
    assert problems(
        env("dev", triton=REPO, observability={"enabled": True, "scrape": {"tls": "mtls"}, "autoscaling": 1})
    ) == [
        "triton-platform:observability.scrape.tls = 'mtls': Input should be 'none' or 'istio-certs'",
        "triton-platform:observability.autoscaling: unknown key; accepted keys here: enabled, addons, prometheus, "
        "scrape, alerts, dashboard",
    ]


def test_prometheus_namespace_must_match_what_the_mesh_admits():
    config = env(
        "dev",
        triton=REPO,
        mesh=MESH,
        observability={"enabled": True, "addons": {"prometheusStack": True, "monitoringNamespace": "obs"}},
    )
    assert (
        "triton-platform:observability.addons.monitoringNamespace = 'obs': differs from mesh.prometheusNamespace "
        "(monitoring), the only namespace the mesh lets scrape Triton's metrics port; use the same namespace in both"
        in problems(config)
    )
