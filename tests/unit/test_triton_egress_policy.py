"""TritonEgressPolicy: default-deny egress for the namespace, and exactly the destinations asked for."""

from __future__ import annotations

import re

import pytest

from support.render import inputs
from triton_components import TritonEgressPolicy

NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
METADATA = [{"cidr": "169.254.169.254/32", "ports": [80]}, {"cidr": "169.254.169.252/32", "ports": [988]}]


def _egress(**overrides):
    return lambda: TritonEgressPolicy("egress", {"namespace": "triton", "instance": "triton", **overrides})


def test_namespace_denies_egress_and_triton_gets_dns_and_public_https_only(run):
    render = run(_egress())
    deny = inputs(render, NETPOL, "egress-default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Egress"]}
    rules = inputs(render, NETPOL, "egress-triton")["spec"]["egress"]
    assert [r["ports"] for r in rules] == [
        [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
        [{"port": 443, "protocol": "TCP"}],
    ]
    assert rules[1]["to"] == [
        {
            "ipBlock": {
                "cidr": "0.0.0.0/0",
                "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"],
            }
        }
    ]


def test_mesh_node_endpoints_and_private_endpoints_are_added_when_given(run):
    render = run(
        _egress(istiod_namespace="istio-system", node_endpoints=METADATA, private_https_cidrs=["10.0.12.0/24"])
    )
    rules = inputs(render, NETPOL, "egress-triton")["spec"]["egress"]
    assert rules[1] == {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-system"}},
                "podSelector": {"matchLabels": {"app": "istiod"}},
            }
        ],
        "ports": [{"port": 15012, "protocol": "TCP"}],
    }
    assert [(r["to"][0]["ipBlock"]["cidr"], r["ports"]) for r in rules[2:4]] == [
        ("169.254.169.254/32", [{"port": 80, "protocol": "TCP"}]),
        ("169.254.169.252/32", [{"port": 988, "protocol": "TCP"}]),
    ]
    assert rules[4]["to"][1] == {"ipBlock": {"cidr": "10.0.12.0/24"}}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"private_https_cidrs": ["10.0.12.0/33"]}, "private_https_cidrs has '10.0.12.0/33', which is not a CIDR"),
        (
            {"private_https_cidrs": ["169.254.0.0/16"]},
            "private_https_cidrs has '169.254.0.0/16', which overlaps the link-local range",
        ),
        (
            {"node_endpoints": [{"cidr": "169.254.169.254/32", "ports": []}]},
            "node_endpoints 169.254.169.254/32 has ports []; give 1 to 65535",
        ),
        ({"instance": ""}, "instance is empty"),
    ],
)
def test_invalid_inputs_fail_before_any_child_is_declared(run, overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        run(_egress(**overrides))
