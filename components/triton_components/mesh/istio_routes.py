"""Istio networking specs for Triton, as pure functions returning dictionaries.

``TritonRouting`` stays about resources; this module is about what the Gateway servers, the
VirtualService routes and the DestinationRules look like. See ``triton_routing`` for the request
flow they implement.
"""

from __future__ import annotations

from typing import Any

from ..common import labels as _labels
from ..common import ports
from ..common.args import setting_value
from .routing_args import DEFAULT_RETRY_ON, GatewayTlsArgs, OutlierDetectionArgs, RouteGroupArgs, TritonRoutingArgs

#: Header that selects the model group of a gRPC request (gRPC paths do not name the model).
MODEL_HEADER = "triton-model"
GRPC_SERVICE_PREFIX = "/inference.GRPCInferenceService/"


def servers(hosts: list[str], tls: GatewayTlsArgs | None) -> list[dict[str, Any]]:
    """Gateway servers: HTTPS on 443 (plus an HTTP redirect) with TLS, else plain HTTP on 80."""
    if tls is None:
        return [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": hosts}]
    result: list[dict[str, Any]] = [
        {
            # HTTPS carries HTTP/1.1 and, negotiated by ALPN, gRPC over HTTP/2.
            "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
            "hosts": hosts,
            "tls": {"mode": tls.get("mode", "SIMPLE"), "credentialName": tls["credential_name"]},
        }
    ]
    if tls.get("https_redirect", True):
        result.append(
            {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": hosts, "tls": {"httpsRedirect": True}}
        )
    return result


def destination_rule(group: RouteGroupArgs, outlier: OutlierDetectionArgs) -> dict[str, Any]:
    """One subset per track, selected by the ``version`` label ``TritonModelGroup`` puts on its pods."""
    subsets = [{"name": "stable", "labels": {_labels.TRACK_LABEL: "stable"}}]
    if group.get("canary") is not None:
        subsets.append({"name": "canary", "labels": {_labels.TRACK_LABEL: "canary"}})
    return {
        "host": group["service_host"],
        "trafficPolicy": {
            # Per request, to the pod with the fewest in flight: GPU inference times vary by orders
            # of magnitude, and gRPC channels would otherwise pin a client to one pod.
            "loadBalancer": {"simple": "LEAST_REQUEST"},
            "outlierDetection": {
                "consecutive5xxErrors": outlier["consecutive_5xx_errors"],
                "interval": f"{outlier['interval_seconds']}s",
                "baseEjectionTime": f"{outlier['base_ejection_time_seconds']}s",
                "maxEjectionPercent": outlier["max_ejection_percent"],
            },
            "tls": {"mode": "ISTIO_MUTUAL"},
        },
        "subsets": subsets,
    }


def routes(args: TritonRoutingArgs) -> list[dict[str, Any]]:
    """VirtualService ``http`` routes: per-model routes first, then the default group's catch-all."""
    prefix = setting_value(args, TritonRoutingArgs, "path_prefix")
    groups = args["groups"]
    result: list[dict[str, Any]] = []
    for group in groups:
        models = group.get("models", [])
        if not models:
            continue
        http = [
            match
            for model in models
            # Exact, or the name followed by '/': "resnet" never captures "resnet50".
            for match in (
                {"uri": {"exact": f"{prefix}/v2/models/{model}"}},
                {"uri": {"prefix": f"{prefix}/v2/models/{model}/"}},
            )
        ]
        grpc = [
            {"uri": {"prefix": GRPC_SERVICE_PREFIX}, "headers": {MODEL_HEADER: {"exact": model}}} for model in models
        ]
        result += _group_routes(args, group, group["name"], http, grpc)
    default = groups[0]
    result += _group_routes(
        args, default, "default", [{"uri": {"prefix": f"{prefix}/"}}], [{"uri": {"prefix": GRPC_SERVICE_PREFIX}}]
    )
    return result


def _group_routes(
    args: TritonRoutingArgs, group: RouteGroupArgs, label: str, http: list[dict[str, Any]], grpc: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    canary = group.get("canary")
    header = canary.get("override_header") if canary else None
    prefix = setting_value(args, TritonRoutingArgs, "path_prefix")
    routes: list[dict[str, Any]] = []
    for protocol, matches, port in (("http", http, ports.HTTP_PORT), ("grpc", grpc, ports.GRPC_PORT)):
        extra: dict[str, Any] = {}
        if protocol == "http":
            # As the original guide's ingress: clients call <prefix>/v2/..., Triton serves /v2/....
            extra["rewrite"] = {"uriRegexRewrite": {"match": f"^{prefix}/", "rewrite": "/"}}
        if header is not None:
            forced = [
                {**m, "headers": {**m.get("headers", {}), header["name"]: {"exact": header["value"]}}} for m in matches
            ]
            routes.append(
                _route(
                    args, f"{label}-{protocol}-canary-override", forced, extra, [_destination(group, "canary", port)]
                )
            )
        if canary is not None:
            destinations = [
                {**_destination(group, "stable", port), "weight": canary["stable_percent"]},
                {**_destination(group, "canary", port), "weight": canary["canary_percent"]},
            ]
        else:
            destinations = [_destination(group, "stable", port)]
        routes.append(_route(args, f"{label}-{protocol}", matches, extra, destinations))
    return routes


def _destination(group: RouteGroupArgs, subset: str, port: int) -> dict[str, Any]:
    return {"destination": {"host": group["service_host"], "subset": subset, "port": {"number": port}}}


def _route(
    args: TritonRoutingArgs,
    name: str,
    matches: list[dict[str, Any]],
    extra: dict[str, Any],
    destinations: list[dict[str, Any]],
) -> dict[str, Any]:
    retries = args["retries"]  # the component fills in its default
    retry: dict[str, Any] = {"attempts": retries["attempts"]}
    if retries["attempts"]:
        retry["perTryTimeout"] = f"{retries['per_try_timeout_seconds']}s"
        retry["retryOn"] = ",".join(retries.get("retry_on", DEFAULT_RETRY_ON))
    return {
        "name": name,
        "match": matches,
        **extra,
        "route": destinations,
        "timeout": f"{setting_value(args, TritonRoutingArgs, 'request_timeout_seconds')}s",
        # Always explicit: Istio's default is 2 retries on 503, which would repeat GPU work.
        "retries": retry,
    }
