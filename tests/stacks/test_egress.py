"""Egress from the Triton namespace: only what Triton and its sidecar need, on every committed stack.

The NetworkPolicies are evaluated, not just looked at: a small evaluator applies Kubernetes'
semantics (a pod selected by any Egress policy is isolated; a connection is allowed if any rule of
any selecting policy matches its peer and port) to the destinations Triton must reach and to those
it must not.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from support import ROOT
from triton_platform.review.render import render_stack, stack_files

STACKS = sorted(stack_files(ROOT))

KUBE_DNS = {"namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}, "ip": "10.8.0.10"}
NODE_LOCAL_DNS = {"namespace": "kube-system", "labels": {"k8s-app": "node-local-dns"}, "ip": "10.128.0.5"}
ISTIOD = {"namespace": "istio-system", "labels": {"app": "istiod", "istio": "pilot"}, "ip": "10.8.1.7"}
OTHER_POD = {"namespace": "default", "labels": {"app": "web"}, "ip": "10.8.2.9"}
GCS = {"ip": "142.250.64.128"}  # storage.googleapis.com answers on Google's public ranges
S3 = {"ip": "52.216.8.16"}  # s3.us-east-1.amazonaws.com
STS = {"ip": "54.239.29.25"}  # sts.us-east-1.amazonaws.com
METADATA = {"ip": "169.254.169.254"}
GKE_METADATA_SERVER = {"ip": "169.254.169.252"}
NODE = {"ip": "10.128.0.2"}
ANYWHERE = {"ip": "203.0.113.7"}


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        value, values = labels.get(expression["key"]), expression.get("values", [])
        operator = expression["operator"]
        if (
            (operator == "In" and value not in values)
            or (operator == "NotIn" and value in values)
            or (operator == "Exists" and value is None)
            or (operator == "DoesNotExist" and value is not None)
        ):
            return False
    return True


def _peer_matches(peer: dict[str, Any], destination: dict[str, Any]) -> bool:
    if "ipBlock" in peer:
        ip = ipaddress.ip_address(destination["ip"])
        block = peer["ipBlock"]
        return ip in ipaddress.ip_network(block["cidr"]) and not any(
            ip in ipaddress.ip_network(e) for e in block.get("except", [])
        )
    if "namespace" not in destination:
        return False  # a selector peer only matches pods
    if "namespaceSelector" in peer:
        ns_labels = {"kubernetes.io/metadata.name": destination["namespace"]}
        if not _selects(peer["namespaceSelector"], ns_labels):
            return False
    elif destination["namespace"] != TRITON_NAMESPACE:
        return False
    return _selects(peer.get("podSelector", {}), destination["labels"])


def _port_matches(port: dict[str, Any], number: int, protocol: str) -> bool:
    return port.get("protocol", "TCP") == protocol and ("port" not in port or port["port"] == number)


TRITON_NAMESPACE = "triton"


def egress_allowed(
    policies: list[dict[str, Any]],
    pod_labels: dict[str, str],
    destination: dict[str, Any],
    port: int,
    protocol: str = "TCP",
) -> bool:
    selecting = [
        p
        for p in policies
        if _selects(p["spec"]["podSelector"], pod_labels) and "Egress" in p["spec"].get("policyTypes", [])
    ]
    if not selecting:
        return True  # not isolated for egress
    for policy in selecting:
        for rule in policy["spec"].get("egress", []):
            peers, ports = rule.get("to"), rule.get("ports")
            if peers and not any(_peer_matches(p, destination) for p in peers):
                continue
            if ports and not any(_port_matches(p, port, protocol) for p in ports):
                continue
            return True
    return False


def _triton(render) -> tuple[list[dict[str, Any]], dict[str, str]]:
    policies = [
        o for o in render.manifests if o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == TRITON_NAMESPACE
    ]
    deployment = next(
        o for o in render.manifests if o["kind"] == "Deployment" and o["metadata"]["name"].startswith("triton-")
    )
    return policies, deployment["spec"]["template"]["metadata"]["labels"]


@pytest.fixture(scope="module")
def renders():
    return {stack: render_stack(ROOT, stack) for stack in STACKS}


@pytest.mark.parametrize("stack", STACKS)
def test_triton_reaches_dns_istiod_and_storage_and_nothing_private(stack, renders):
    render = renders[stack]
    policies, pod = _triton(render)
    allowed = lambda destination, port, protocol="TCP": egress_allowed(policies, pod, destination, port, protocol)  # noqa: E731
    for dns in (KUBE_DNS, NODE_LOCAL_DNS):
        assert allowed(dns, 53, "UDP") and allowed(dns, 53, "TCP")
    if render.outputs.get("tritonUrl"):  # the mesh: the sidecar fetches config and certificates from istiod
        assert allowed(ISTIOD, 15012)
    assert not allowed(ISTIOD, 15017), "the webhook port is called by the API server, never by workloads"
    for storage in (GCS, S3, STS):
        assert allowed(storage, 443)
    assert not allowed(ANYWHERE, 80) and not allowed(ANYWHERE, 22) and not allowed(ANYWHERE, 53, "UDP")
    assert not allowed(OTHER_POD, 443) and not allowed(OTHER_POD, 8000)
    assert not allowed(NODE, 443) and not allowed(NODE, 10250)
    assert not allowed(METADATA, 443)
    other_pod_in_namespace = {"app.kubernetes.io/name": "debug"}
    assert not egress_allowed(policies, other_pod_in_namespace, GCS, 443), "the namespace's default is deny"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_workload_identity_stacks_reach_the_gke_metadata_server(stack, renders):
    policies, pod = _triton(renders[stack])
    assert egress_allowed(policies, pod, METADATA, 80)
    assert egress_allowed(policies, pod, GKE_METADATA_SERVER, 988)


@pytest.mark.parametrize("stack", ["dev", "dev-aws", "local"])
def test_stacks_without_gke_workload_identity_cannot_reach_the_metadata_server(stack, renders):
    policies, pod = _triton(renders[stack])
    assert not egress_allowed(policies, pod, METADATA, 80)
    assert not egress_allowed(policies, pod, GKE_METADATA_SERVER, 988)


def test_the_evaluator_treats_a_pod_without_egress_policy_as_open():
    assert egress_allowed([], {"app": "x"}, ANYWHERE, 22)


def test_private_storage_endpoints_from_the_stack_file_are_reachable_on_443(run):
    from triton_platform.config import load_settings
    from triton_platform.environment import build_environment

    settings = load_settings(
        {
            "triton-platform:environment": "dev",
            "triton-platform:triton": {
                "modelRepository": "s3://models/repo",
                "egress": {"privateHttpsCidrs": ["10.0.12.0/24"]},
            },
        },
        "Pulumi.test.yaml",
    )
    render = run(lambda: build_environment(settings))
    policies = [o for o in render.manifests if o["kind"] == "NetworkPolicy"]
    pod = next(o for o in render.manifests if o["kind"] == "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert egress_allowed(policies, pod, {"ip": "10.0.12.40"}, 443)
    assert not egress_allowed(policies, pod, {"ip": "10.0.13.40"}, 443)
