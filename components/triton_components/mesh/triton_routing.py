"""``TritonRouting``: the Istio Gateway, VirtualService and DestinationRules in front of Triton.

How a request finds its pods (first match wins, in this order):

* HTTP ``<prefix>/v2/models/<model>`` and ``<prefix>/v2/models/<model>/...`` go to the model group
  that serves ``<model>``; the prefix is stripped (``/triton/v2/...`` reaches Triton as ``/v2/...``).
* gRPC ``/inference.GRPCInferenceService/*`` carrying the header ``triton-model: <model>``
  (``istio_routes.MODEL_HEADER``) goes to the group that serves ``<model>``. gRPC paths carry no
  model name, so clients name it in this header:
  ``client.infer(model, inputs, headers={"triton-model": model})``.
* Everything else under ``<prefix>/`` (server health and metadata) and gRPC without the header goes
  to the first group, the default.

Every route splits between the group's ``stable`` and ``canary`` subsets by integer weight; a
request with a canary's override header reaches the canary whatever the weights. The subsets select
pods by the ``version`` label (``_labels.TRACK_LABEL``) that ``TritonModelGroup`` puts on each track.
Changing a weight changes only the VirtualService: no pod restarts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..common import labels as _labels
from ..common import names as _names
from ..common.args import check_args, setting_value
from .istio_routes import destination_rule, routes, servers
from .routing_args import DEFAULT_OUTLIER_DETECTION, DEFAULT_RETRIES, TritonRoutingArgs, canary_problems

NETWORKING_API = "networking.istio.io/v1"
#: Pod labels of the gateway the official ``gateway`` chart deploys as release ``istio-ingressgateway``.
DEFAULT_GATEWAY_SELECTOR = {"istio": "ingressgateway"}
TLS_MODES = ("SIMPLE", "MUTUAL")
_MODEL_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def validate_routing(args: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming the input, the bad value and what is accepted."""
    hosts = args.get("hosts") or []
    if not hosts:
        raise ValueError("hosts is empty; give at least one host name clients use")
    wildcards = [h for h in hosts if h.startswith("*")]
    if wildcards and not args.get("allow_wildcard_hosts", False):
        raise ValueError(
            f"hosts has wildcard {wildcards[0]!r}; name the hosts, or set allow_wildcard_hosts=True outside prod"
        )
    groups = args.get("groups") or []
    if not groups:
        raise ValueError("groups is empty; give at least one model group (the first is the default route)")
    seen: dict[str, str] = {}
    names: set[str] = set()
    for group in groups:
        name = group["name"]
        if name in names:
            raise ValueError(f"groups has duplicate name {name!r}")
        names.add(name)
        for model in group.get("models", []):
            if not _MODEL_NAME.match(model):
                raise ValueError(f"group {name!r}: model name {model!r} may hold only letters, digits, '_', '.', '-'")
            if model in seen:
                raise ValueError(
                    f"model {model!r} is in groups {seen[model]!r} and {name!r}; a model belongs to one group"
                )
            seen[model] = name
        canary = group.get("canary")
        if canary is not None:
            _validate_canary(name, canary)
    tls = args.get("tls")
    if tls is not None and tls.get("mode", "SIMPLE") not in TLS_MODES:
        raise ValueError(f"tls.mode is {tls.get('mode')!r}; use one of {', '.join(TLS_MODES)}")
    if tls is not None and not tls.get("credential_name"):
        raise ValueError("tls.credential_name is empty; name the certificate Secret in the gateway namespace")
    # Single-key limits (attempts, timeouts, ejection share, path prefix) are the args' Settings, checked
    # by check_args before this runs.
    timeout = setting_value(args, TritonRoutingArgs, "request_timeout_seconds")
    retries = args.get("retries", DEFAULT_RETRIES)
    if retries["per_try_timeout_seconds"] > timeout:
        raise ValueError(
            f"retries.per_try_timeout_seconds is {retries['per_try_timeout_seconds']}; use at most "
            f"request_timeout_seconds ({timeout})"
        )


def _validate_canary(group: str, canary: Mapping[str, Any]) -> None:
    for problem in canary_problems(canary):
        raise ValueError(f"group {group!r}: canary.{problem}")


class TritonRouting(pulumi.ComponentResource):
    """Gateway, VirtualService (rewrite, per-model routes, weighted canary) and one DestinationRule per group."""

    url: pulumi.Output[str]
    """External base URL of the HTTP API, e.g. ``https://triton.example.com/triton``."""
    virtual_service_name: pulumi.Output[str]
    """Name of the VirtualService that holds the weights."""

    def __init__(self, name: str, args: TritonRoutingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_args(
            "TritonRouting", name, args, TritonRoutingArgs
        )  # misspelt keys and wrong types, before anything else
        validate_routing(args)  # before anything is registered: nothing is half-created
        super().__init__("tritonplatform:index:TritonRouting", name, None, opts)
        # Custom resources name their dependencies (e.g. the Istio installation that creates the
        # CRDs) explicitly, so ordering shows in every plan and never rests on the parent alone.
        child = pulumi.ResourceOptions(parent=self, depends_on=opts.depends_on if opts else None)
        namespace = args["namespace"]
        tls = args.get("tls")
        hosts = list(args["hosts"])
        retries = args.get("retries", DEFAULT_RETRIES)
        labels = _labels.recommended_labels(name, "routing")

        gateway = k8s.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version=NETWORKING_API,
            kind="Gateway",
            metadata={"name": "triton-gateway", "namespace": namespace, "labels": labels},
            spec={
                "selector": dict(args.get("gateway_selector", DEFAULT_GATEWAY_SELECTOR)),
                "servers": servers(hosts, tls),
            },
            opts=child,
        )
        gateway_name = gateway.metadata.apply(lambda m: m["name"])

        for group in args["groups"]:
            k8s.apiextensions.CustomResource(
                f"{name}-{group['name']}-destination-rule",
                api_version=NETWORKING_API,
                kind="DestinationRule",
                metadata={
                    "name": _names.group_object_name(group["name"]),
                    "namespace": namespace,
                    "labels": _labels.recommended_labels(name, "routing", model_group=group["name"]),
                },
                spec=destination_rule(group, args.get("outlier_detection", DEFAULT_OUTLIER_DETECTION)),
                opts=child,
            )

        virtual_service = k8s.apiextensions.CustomResource(
            f"{name}-virtual-service",
            api_version=NETWORKING_API,
            kind="VirtualService",
            metadata={"name": "triton", "namespace": namespace, "labels": labels},
            spec={"hosts": hosts, "gateways": [gateway_name], "http": routes({**args, "retries": retries})},
            opts=child,
        )
        self.virtual_service_name = virtual_service.metadata.apply(lambda m: m["name"])
        scheme = "https" if tls is not None else "http"
        self.url = pulumi.Output.from_input(
            f"{scheme}://{hosts[0]}{setting_value(args, TritonRoutingArgs, 'path_prefix')}"
        )
        self.register_outputs({"url": self.url, "virtual_service_name": self.virtual_service_name})
