"""Every rendered ScaledObject, ServiceMonitor, PodMonitor and PrometheusRule is valid against the
CRD schema KEDA and Prometheus Operator publish, and the observability wiring of a whole stack holds."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import kubernetes_validate
import pulumi
import pytest
import yaml

from support import ROOT
from support.promql import problems
from triton_platform.config import load_settings
from triton_platform.environment import build_environment
from triton_platform.review.render import StackRender, record, render_stack, stack_files

#: Upstream CRDs vendored under tests/crd-schemas (provenance in its SOURCES.md).
SCHEMAS = ROOT / "tests" / "crd-schemas"  # vendored upstream CRDs; see SOURCES.md
CHECKED_KINDS = {"ScaledObject", "ServiceMonitor", "PodMonitor", "PrometheusRule"}
MESH = {"enabled": True, "gateway": {"hosts": ["triton.example.com"]}}


def _strict(schema: Any) -> Any:
    """Like the API server's strict field validation: unknown fields fail unless the schema keeps them."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def _load_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    schemas = {}
    for path in sorted(SCHEMAS.glob("*/*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
                schemas[(f"{group}/{version['name']}", kind)] = _strict(schema)
    return schemas


@pytest.fixture(scope="module")
def schemas():
    return _load_schemas()


def _render(**keys) -> StackRender:
    config = {"triton-platform:environment": "dev", **{f"triton-platform:{k}": v for k, v in keys.items()}}
    settings = load_settings(config, "Pulumi.test.yaml")

    def program():
        for name, value in build_environment(settings).items():
            pulumi.export(name, value)

    return record(program)


def _everything(kind: str = "ServiceMonitor", tls: str = "none") -> StackRender:
    """Every feature at once: add-ons, both trigger extras, scale to zero, alerts, dashboard."""
    return _render(
        triton={"modelRepository": "gs://models/repo", "modelControlMode": "explicit"},
        mesh=MESH,
        observability={
            "enabled": True,
            "addons": {"keda": True, "prometheusStack": True},
            "scrape": {"kind": kind, "tls": tls},
        },
        modelGroups=[
            {
                "name": "vision",
                "models": ["resnet50", "yolo"],
                "replicas": 2,
                "autoscaling": {
                    "minReplicas": 1,
                    "maxReplicas": 4,
                    "pendingRequestsPerReplica": 8,
                    "gpuUtilizationPercent": 80,
                    "useCachedMetrics": True,
                },
            },
            {
                "name": "batch",
                "models": ["bert"],
                "autoscaling": {"minReplicas": 0, "maxReplicas": 2, "scaleToZero": {"enabled": True}},
            },
            {"name": "text", "models": ["t5"], "replicas": 1},
        ],
    )


def _validate(render: StackRender, schemas) -> list[str]:
    checked = []
    for obj in render.manifests:
        if obj["kind"] not in CHECKED_KINDS:
            continue
        schema = schemas[(obj["apiVersion"], obj["kind"])]
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(obj), key=lambda e: list(e.path))
        assert not errors, f"{obj['kind']} {obj['metadata']['name']}: " + "; ".join(
            f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors
        )
        checked.append(obj["kind"])
    return checked


def _queries(render: StackRender) -> list[str]:
    found = []
    for obj in render.manifests:
        if obj["kind"] == "ScaledObject":
            found += [t["metadata"]["query"] for t in obj["spec"]["triggers"]]
        elif obj["kind"] == "PrometheusRule":
            found += [r["expr"] for g in obj["spec"]["groups"] for r in g["rules"]]
    return found


@pytest.mark.parametrize(
    ("kind", "tls"), [("ServiceMonitor", "none"), ("ServiceMonitor", "istio-certs"), ("PodMonitor", "none")]
)
def test_every_custom_resource_matches_its_crd_schema(schemas, kind, tls):
    render = _everything(kind, tls)
    checked = _validate(render, schemas)
    # 2 ScaledObjects, 3 group monitors (+ the gateway PodMonitor), 1 PrometheusRule.
    assert sorted(checked).count("ScaledObject") == 2
    assert checked.count(kind) >= 3 and checked.count("PrometheusRule") == 1
    for query in _queries(render):
        assert problems(query) == []
    # The built-in objects this issue adds (namespaces, Grafana Secret, dashboard ConfigMap) are strict-valid too.
    for obj in render.manifests:
        if obj["kind"] in ("Namespace", "Secret", "ConfigMap"):
            kubernetes_validate.validate(obj, "1.33.0", strict=True)


@pytest.mark.parametrize("stack", sorted(stack_files(ROOT)))
def test_committed_stacks_custom_resources_match_their_crd_schemas(schemas, stack):
    render = render_stack(ROOT, stack)
    _validate(render, schemas)
    for query in _queries(render):
        assert problems(query) == []


def test_the_schema_check_can_fail(schemas):
    bad = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "x"},
        "spec": {
            "scaleTargetRef": {"name": "d"},
            "triggers": [{"type": "prometheus", "metadata": {}}],
            "fallback": {"failureThreshold": 3, "replicas": 1, "behavior": "sometimes"},
            "pollingIntervall": 5,
        },
    }
    messages = [
        e.message for e in jsonschema.Draft7Validator(schemas[("keda.sh/v1alpha1", "ScaledObject")]).iter_errors(bad)
    ]
    assert any("sometimes" in m for m in messages) and any("pollingIntervall" in m for m in messages)
    assert problems('sum(rate(nv_inference_queue_duration{a="b"}[30s])') != []


def test_autoscaled_deployments_leave_replicas_to_keda_and_scaled_objects_target_them():
    render = _everything()
    deployments = {o["metadata"]["name"]: o for o in render.manifests if o["kind"] == "Deployment"}
    assert "replicas" not in deployments["triton-vision"]["spec"]
    assert "replicas" not in deployments["triton-batch"]["spec"]
    assert deployments["triton-text"]["spec"]["replicas"] == 1
    targets = {o["spec"]["scaleTargetRef"]["name"] for o in render.manifests if o["kind"] == "ScaledObject"}
    assert targets == {"triton-vision", "triton-batch"}
    assert render.outputs["scaledObjects"] == {"vision": "triton-vision", "batch": "triton-batch"}


def test_custom_resources_wait_for_the_releases_that_install_their_crds():
    render = _everything()
    for resource in render.resources:
        kind = resource["inputs"].get("kind")
        if kind == "ScaledObject":
            assert "kubernetes:helm.sh/v3:Release::monitoring-addons-keda" in resource["dependsOn"]
        elif kind in ("ServiceMonitor", "PodMonitor", "PrometheusRule"):
            assert "kubernetes:helm.sh/v3:Release::monitoring-addons-prometheus-stack" in resource["dependsOn"]


def test_without_addons_nothing_is_installed_and_the_given_prometheus_is_used():
    render = _render(
        triton={"modelRepository": "gs://models/repo"},
        observability={
            "enabled": True,
            "prometheus": {
                "url": "http://prometheus-operated.obs.svc:9090",
                "selectorLabels": {"prometheus": "platform"},
            },
        },
        modelGroups=[{"name": "default", "autoscaling": {}}],
    )
    assert not render.find("kubernetes:helm.sh/v3:Release")
    [scaled_object] = [o for o in render.manifests if o["kind"] == "ScaledObject"]
    assert (
        scaled_object["spec"]["triggers"][0]["metadata"]["serverAddress"] == "http://prometheus-operated.obs.svc:9090"
    )
    for obj in render.manifests:
        if obj["kind"] in ("ServiceMonitor", "PrometheusRule"):
            assert obj["metadata"]["labels"]["prometheus"] == "platform"
    assert render.outputs["prometheusUrl"] == "http://prometheus-operated.obs.svc:9090"


def test_observability_off_declares_nothing():
    render = _render(triton={"modelRepository": "gs://models/repo"})
    assert not [o for o in render.manifests if o["kind"] in CHECKED_KINDS | {"ConfigMap"}]
    assert "prometheusUrl" not in render.outputs
