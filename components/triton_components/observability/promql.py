"""PromQL over Triton's metrics, built in one place so the autoscaler, the alerts and the dashboard
always measure the same thing.

Metric names are Triton's (``docs/user_guide/metrics.md`` in triton-inference-server/server).
Series carry the target labels our monitors add: ``environment``, ``model_group`` and ``track``
(``stable``/``canary``). ``track`` is not called ``version`` because Triton already labels every
per-model series with ``version`` (the model version), and Prometheus would rename ours.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Per-model counters (cumulative, microseconds or counts) and gauges Triton publishes on :8002/metrics.
QUEUE_DURATION_US = "nv_inference_queue_duration_us"
COMPUTE_INPUT_US = "nv_inference_compute_input_duration_us"
COMPUTE_INFER_US = "nv_inference_compute_infer_duration_us"
COMPUTE_OUTPUT_US = "nv_inference_compute_output_duration_us"
REQUEST_SUCCESS = "nv_inference_request_success"
REQUEST_FAILURE = "nv_inference_request_failure"
INFERENCE_COUNT = "nv_inference_count"
EXEC_COUNT = "nv_inference_exec_count"
PENDING_REQUESTS = "nv_inference_pending_request_count"
#: Per-GPU gauges, refreshed every ``--metrics-interval-ms``. Not reported on MIG partitions.
GPU_UTILIZATION = "nv_gpu_utilization"
GPU_MEMORY_USED = "nv_gpu_memory_used_bytes"
GPU_MEMORY_TOTAL = "nv_gpu_memory_total_bytes"

TRITON_METRICS = frozenset(
    {
        QUEUE_DURATION_US,
        COMPUTE_INPUT_US,
        COMPUTE_INFER_US,
        COMPUTE_OUTPUT_US,
        REQUEST_SUCCESS,
        REQUEST_FAILURE,
        INFERENCE_COUNT,
        EXEC_COUNT,
        PENDING_REQUESTS,
        GPU_UTILIZATION,
        GPU_MEMORY_USED,
        GPU_MEMORY_TOTAL,
    }
)

#: Target labels the monitors write (see ``triton_monitoring.py``).
ENVIRONMENT_LABEL = "environment"
MODEL_GROUP_LABEL = "model_group"
TRACK_LABEL = "track"

#: Requests per second below which a group counts as idle: the denominator's floor, so an idle
#: group reads 0 ms of queue time instead of NaN (0/0), which KEDA cannot compare to a target.
IDLE_REQUESTS_PER_SECOND = 0.001


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def selector(matchers: Mapping[str, str], regex: Mapping[str, str] | None = None) -> str:
    """``{a="x",b=~"y.*"}`` with values escaped; equality matchers first, label order as given."""
    parts = [f"{name}={_quote(value)}" for name, value in matchers.items()]
    parts += [f"{name}=~{_quote(value)}" for name, value in (regex or {}).items()]
    return "{" + ",".join(parts) + "}"


def group_matchers(namespace: str, model_group: str, track: str | None = None) -> dict[str, str]:
    matchers = {"namespace": namespace, MODEL_GROUP_LABEL: model_group}
    if track is not None:
        matchers[TRACK_LABEL] = track
    return matchers


def _rate_sum(metric: str, sel: str, window: str, by: str = "") -> str:
    return f"sum{by}(rate({metric}{sel}[{window}]))"


def queue_time_ms(sel: str, window: str, by: str = "") -> str:
    """Average time a request of the group waited in Triton's queue, in milliseconds.

    Every model's and every pod's queue time is summed first and divided by every request once:
    a request-weighted mean. NVIDIA's widely copied rule (``avg_time_queue_us`` in
    ``deploy/k8s-onprem``, issue #8979) averages per-model ratios instead, so idle models pull the
    mean towards zero and the queue time of a busy model is under-reported by about the number of
    models loaded.
    """
    queued = _rate_sum(QUEUE_DURATION_US, sel, window, by)
    requests = _rate_sum(REQUEST_SUCCESS, sel, window, by)
    return f"({queued} / 1000) / clamp_min({requests}, {IDLE_REQUESTS_PER_SECOND})"


def compute_time_ms(sel: str, window: str, by: str = "") -> str:
    """Average time a request spent in the backend (inputs + inference + outputs), in milliseconds."""
    compute = " + ".join(
        _rate_sum(metric, sel, window, by) for metric in (COMPUTE_INPUT_US, COMPUTE_INFER_US, COMPUTE_OUTPUT_US)
    )
    requests = _rate_sum(REQUEST_SUCCESS, sel, window, by)
    return f"(({compute}) / 1000) / clamp_min({requests}, {IDLE_REQUESTS_PER_SECOND})"


def pending_requests(sel: str) -> str:
    """Requests received but not yet executing, summed over the group's models and pods."""
    return f"sum({PENDING_REQUESTS}{sel})"


def gpu_utilization_percent(sel: str) -> str:
    """Mean GPU utilization of the group's pods, 0-100."""
    return f"avg({GPU_UTILIZATION}{sel}) * 100"


def failure_ratio(sel: str, window: str) -> str:
    """Failed requests over all requests; 0 when idle."""
    failed = _rate_sum(REQUEST_FAILURE, sel, window)
    succeeded = _rate_sum(REQUEST_SUCCESS, sel, window)
    return f"{failed} / clamp_min({failed} + {succeeded}, {IDLE_REQUESTS_PER_SECOND})"


def gpu_memory_ratio(sel: str) -> str:
    """Highest used/total GPU memory ratio per pod."""
    return f"max by (pod) ({GPU_MEMORY_USED}{sel} / {GPU_MEMORY_TOTAL}{sel})"


def or_zero(expr: str) -> str:
    """``expr`` or 0 when it has no series (used only where 'no pods' is a normal state)."""
    return f"({expr}) or vector(0)"


def mesh_request_rate(
    gateway_workload: str,
    gateway_namespace: str,
    service: str,
    namespace: str,
    window_seconds: int,
    history_seconds: int = 900,
) -> str:
    """Requests per second the Istio ingress gateway sends to a Service, whether or not it has pods.

    The gateway records a request (a 503 when the Service has no endpoints) with the destination
    Service's labels, so this rate rises while the group's own pods are scaled to zero.

    Envoy creates a series on its first request: the first 503 after the gateway started is a
    series that begins at 1, and ``rate()`` counts nothing before a series' first sample, so that
    request alone would never wake the group. A series seen nowhere in the ``history_seconds``
    before the window is new, and counts as one request over the window. Not "absent one window
    ago": a failed scrape writes stale markers for every series of the target, which would make an
    old series look new with its whole running total (a spurious wake for every group at zero, and
    for a busy group replicas sized by days of requests). A series counts as one request whatever
    its value, so it can wake a group, never size it.
    """
    series = "istio_requests_total" + selector(
        {
            "source_workload": gateway_workload,
            "source_workload_namespace": gateway_namespace,
            "destination_service_name": service,
            "destination_service_namespace": namespace,
        }
    )
    window = seconds(window_seconds)
    known = f"sum(rate({series}[{window}]))"
    new = f"count({series} unless last_over_time({series}[{seconds(history_seconds)}] offset {window})) / {window_seconds}"
    return f"({known} or vector(0)) + ({new} or vector(0))"


def seconds(value: int) -> str:
    """A Prometheus duration: whole minutes as ``5m``, otherwise seconds."""
    return f"{value // 60}m" if value % 60 == 0 and value >= 60 else f"{value}s"
