"""The Prometheus triggers of a model group's KEDA ScaledObject (see ``TritonAutoscaler``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import promql as _promql

#: The wake-up trigger only needs to become active; this per-replica rate is far above what one
#: Triton replica serves, so queue time, not the gateway's request rate, sizes the group.
WAKE_UP_REQUESTS_PER_SECOND_PER_REPLICA = 100000
#: The wake-up query's window: a request keeps the group's wake-up trigger active this long.
WAKE_UP_WINDOW_SECONDS = 60


def _number(value: float) -> str:
    """KEDA thresholds are strings; whole numbers without a trailing ``.0``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def triggers(args: Mapping[str, Any], *, namespace: str, prometheus_url: str, service: str) -> list[dict[str, Any]]:
    """Queue time (always), pending requests and GPU utilization (optional), wake-up (scale to zero).

    ``args`` are ``TritonAutoscalerArgs`` with every declared default filled in (``with_defaults``), so the
    defaults live only in the contract."""
    sel = _promql.selector(_promql.group_matchers(namespace, args["model_group"], track="stable"))
    window = _promql.seconds(args["query_window_seconds"])
    scale_to_zero = args.get("scale_to_zero")
    # At zero pods Triton's series vanish; only then is "no data" a normal state (read as 0).
    guard = _promql.or_zero if scale_to_zero else (lambda expr: expr)
    cached = args["use_cached_metrics"]

    def trigger(name: str, query: str, metric_type: str, threshold: float, activation: float = 0) -> dict[str, Any]:
        return {
            "type": "prometheus",
            "name": name,
            "metricType": metric_type,
            "useCachedMetrics": cached,
            "metadata": {
                "serverAddress": prometheus_url,
                "query": query,
                "threshold": _number(threshold),
                "activationThreshold": _number(activation),
                # An empty result (target lost) is an error that triggers fallback, not a quiet 0.
                "ignoreNullValues": "false",
                "unsafeSsl": "false",
            },
        }

    # Queue time is an average per request: a "Value" target (desired = current x value/target).
    found = [
        trigger(
            "queue-time",
            guard(_promql.queue_time_ms(sel, window)),
            "Value",
            args["queue_time_target_ms"],
            args["queue_time_activation_ms"],
        )
    ]
    if args.get("pending_requests_per_replica"):
        # A total spread over replicas: "AverageValue" (desired = total / per-replica target).
        found.append(
            trigger(
                "pending-requests",
                guard(_promql.pending_requests(sel)),
                "AverageValue",
                args["pending_requests_per_replica"],
            )
        )
    if args.get("gpu_utilization_percent"):
        found.append(
            trigger(
                "gpu-utilization", guard(_promql.gpu_utilization_percent(sel)), "Value", args["gpu_utilization_percent"]
            )
        )
    if scale_to_zero:
        wake = _promql.mesh_request_rate(
            scale_to_zero["gateway_workload"],
            scale_to_zero["gateway_namespace"],
            service,
            namespace,
            WAKE_UP_WINDOW_SECONDS,
        )
        found.append(
            trigger(
                "wake-up",
                _promql.or_zero(wake),
                "AverageValue",
                WAKE_UP_REQUESTS_PER_SECOND_PER_REPLICA,
                scale_to_zero["activation_requests_per_second"],
            )
        )
    return found
