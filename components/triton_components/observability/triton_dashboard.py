"""``TritonDashboard``: a Grafana dashboard as a ConfigMap the Grafana sidecar picks up.

Panels: request rate, latency split into queue and compute, failures, pending requests, GPU
utilization and memory, replicas. Queries come from ``_promql`` so the dashboard shows exactly
what the autoscaler and the alerts measure.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..common import labels as _labels
from ..common import names as _names
from ..common.args import check_args
from . import promql as _promql
from .monitoring_args import DEFAULT_DASHBOARD_LABELS, TritonDashboardArgs

RATE = "$__rate_interval"


def _panel(panel_id: int, title: str, unit: str, targets: list[tuple[str, str]], x: int, y: int) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def dashboard(namespace: str, environment: str) -> dict[str, Any]:
    """The dashboard model (Grafana JSON)."""
    sel = _promql.selector({"namespace": namespace}, regex={_promql.MODEL_GROUP_LABEL: "$model_group"})
    by_group = " by (model_group)"
    hpa = _promql.selector({"namespace": namespace}, regex={"horizontalpodautoscaler": _names.HPA_NAME_REGEX})
    panels = [
        (
            "Requests per second",
            "reqps",
            [
                (
                    f"sum by (model_group, track) (rate({_promql.REQUEST_SUCCESS}{sel}[{RATE}]))",
                    "{{model_group}} {{track}}",
                ),
            ],
        ),
        (
            "Latency per request: queue and compute",
            "ms",
            [
                (_promql.queue_time_ms(sel, RATE, by_group), "{{model_group}} queue"),
                (_promql.compute_time_ms(sel, RATE, by_group), "{{model_group}} compute"),
            ],
        ),
        (
            "Failed requests per second",
            "reqps",
            [
                (
                    f"sum by (model_group, reason) (rate({_promql.REQUEST_FAILURE}{sel}[{RATE}]))",
                    "{{model_group}} {{reason}}",
                ),
            ],
        ),
        (
            "Pending requests",
            "short",
            [
                (f"sum by (model_group) ({_promql.PENDING_REQUESTS}{sel})", "{{model_group}}"),
            ],
        ),
        (
            "GPU utilization",
            "percent",
            [
                (f"avg by (model_group, pod) ({_promql.GPU_UTILIZATION}{sel}) * 100", "{{pod}}"),
            ],
        ),
        (
            "GPU memory used",
            "percentunit",
            [
                (_promql.gpu_memory_ratio(sel), "{{pod}}"),
            ],
        ),
        (
            "Replicas",
            "short",
            [
                (f"count by (model_group, track) (up{sel} == 1)", "{{model_group}} {{track}} scraped"),
                (f"kube_horizontalpodautoscaler_status_desired_replicas{hpa}", "{{horizontalpodautoscaler}} desired"),
                (f"kube_horizontalpodautoscaler_spec_max_replicas{hpa}", "{{horizontalpodautoscaler}} max"),
            ],
        ),
    ]
    groups_query = f"label_values({_promql.REQUEST_SUCCESS}{_promql.selector({'namespace': namespace})}, model_group)"
    return {
        "uid": f"triton-{environment}"[:40],
        "title": f"Triton Inference Server ({environment})",
        "tags": ["triton", environment],
        "timezone": "browser",
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"},
                {
                    "name": "model_group",
                    "label": "Model group",
                    "type": "query",
                    "datasource": {"type": "prometheus", "uid": "${datasource}"},
                    "query": groups_query,
                    "definition": groups_query,
                    "includeAll": True,
                    "multi": True,
                    "allValue": ".+",
                    "refresh": 2,
                },
            ]
        },
        "panels": [
            _panel(i + 1, title, unit, targets, x=12 * (i % 2), y=8 * (i // 2))
            for i, (title, unit, targets) in enumerate(panels)
        ],
    }


class TritonDashboard(pulumi.ComponentResource):
    """A ConfigMap labelled for the Grafana sidecar, holding the Triton dashboard."""

    config_map_name: pulumi.Output[str]
    """Name of the ConfigMap."""

    def __init__(self, name: str, args: TritonDashboardArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_args(
            "TritonDashboard", name, args, TritonDashboardArgs
        )  # misspelt keys and wrong types, before anything else
        labels = dict(args.get("labels", DEFAULT_DASHBOARD_LABELS))
        if not labels:
            raise ValueError(
                "labels is empty; the Grafana sidecar finds dashboards only by label (e.g. grafana_dashboard: '1')"
            )
        super().__init__("tritonplatform:index:TritonDashboard", name, None, opts)
        body = pulumi.Output.from_input(args["triton_namespace"]).apply(
            lambda namespace: json.dumps(dashboard(namespace, args["environment"]), indent=2, sort_keys=True)
        )
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-config-map",
            metadata={
                "name": f"{args['instance']}-dashboard",
                "namespace": args["namespace"],
                "labels": {**_labels.recommended_labels(args["instance"], "monitoring"), **labels},
            },
            data={f"{args['instance']}-{args['environment']}.json": body},
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.get("wait_for", []))),
        )
        self.config_map_name = config_map.metadata.apply(lambda m: m["name"])
        self.register_outputs({"config_map_name": self.config_map_name})
