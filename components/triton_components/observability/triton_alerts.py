"""``TritonAlerts``: one PrometheusRule with the alerts an on-call engineer needs for Triton.

Per model group: Triton down or not scraped, model not ready, high queue time, inference failure
ratio, GPU memory nearly full and, for autoscaled groups, the autoscaler pinned at its maximum.
The not-scraped alert matters most: a broken scrape (e.g. STRICT mTLS) would otherwise freeze
autoscaling silently.
"""

from __future__ import annotations

import math
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..common import labels as _labels
from ..common import names as _names
from ..common.args import check_args, setting_value
from . import promql as _promql
from .monitoring_args import AlertGroupArgs, AlertThresholdsArgs, TritonAlertsArgs

pod_regex = _names.pod_regex


def alert_rules(
    namespace: str,
    environment: str,
    groups: list[AlertGroupArgs],
    thresholds: AlertThresholdsArgs,
    wake_up_job: str | None,
) -> list[dict[str, Any]]:
    """The alerting rules, as PrometheusRule ``rules`` entries."""
    for_ = f"{setting_value(thresholds, AlertThresholdsArgs, 'for_minutes')}m"
    rules: list[dict[str, Any]] = []

    def rule(
        alert: str,
        expr: str,
        group: str,
        severity: str,
        summary: str,
        description: str,
        hold: str = for_,
        **labels: str,
    ) -> None:
        rules.append(
            {
                "alert": alert,
                "expr": expr,
                "for": hold,
                "labels": {"severity": severity, "environment": environment, "model_group": group, **labels},
                "annotations": {"summary": summary, "description": description},
            }
        )

    for g in groups:
        name = g["name"]
        sel = _promql.selector(_promql.group_matchers(namespace, name))
        deployment = _promql.selector({"namespace": namespace, "deployment": _names.deployment_name(name)})
        # A group scaled to zero has no targets on purpose: absence only matters while it has replicas.
        running = f" and on() (kube_deployment_spec_replicas{deployment} > 0)" if g.get("scale_to_zero") else ""
        rule(
            "TritonTargetDown",
            f"up{sel} == 0",
            name,
            "critical",
            f"Triton pods of {name} do not answer scrapes",
            "Prometheus reaches the target but /metrics on port 8002 fails: the server is down or the mesh blocks the scrape.",
            hold="2m",
        )
        rule(
            "TritonMetricsAbsent",
            f"absent({_promql.REQUEST_SUCCESS}{sel}){running}",
            name,
            "critical",
            f"No Triton metrics from model group {name}",
            "Prometheus has no Triton series for this group: the monitor is not selected, the scrape is blocked "
            "(e.g. STRICT mTLS) or no model is loaded. Autoscaling is running on fallback replicas.",
            hold="5m",
        )
        budget_minutes = math.ceil(setting_value(g, AlertGroupArgs, "model_load_timeout_seconds") / 60) + 1
        not_ready = max(setting_value(thresholds, AlertThresholdsArgs, "model_not_ready_minutes"), budget_minutes)
        pods = _promql.selector({"namespace": namespace, "condition": "false"}, regex={"pod": pod_regex(name)})
        rule(
            "TritonModelNotReady",
            f"sum by (pod) (kube_pod_status_ready{pods}) > 0",
            name,
            "warning",
            f"A Triton pod of {name} is not ready",
            "The pod fails /v2/health/ready (strict readiness: every model loaded) beyond the model-load budget.",
            hold=f"{not_ready}m",
        )
        for model in g.get("models", []):
            model_sel = _promql.selector({**_promql.group_matchers(namespace, name), "model": model})
            # One rule per model, told apart by the model label: without it Prometheus sees duplicate
            # rules (same name, same labels), which `promtool check rules` reports (tests/lab/test_promtool.py).
            rule(
                "TritonModelNotLoaded",
                f"absent({_promql.REQUEST_SUCCESS}{model_sel}){running}",
                name,
                "warning",
                f"Model {model} is not loaded in {name}",
                "No pod of the group reports this model: it failed to load or was unloaded.",
                hold=f"{not_ready}m",
                model=model,
            )
        queue = setting_value(thresholds, AlertThresholdsArgs, "queue_time_ms")
        rule(
            "TritonHighQueueTime",
            f"{_promql.queue_time_ms(sel, '5m')} > {queue:g}",
            name,
            "warning",
            f"Requests to {name} queue for more than {queue:g} ms",
            "Average queue time per request over 5 minutes is above the threshold: add capacity or check the autoscaler.",
        )
        ratio = setting_value(thresholds, AlertThresholdsArgs, "failure_ratio")
        rule(
            "TritonInferenceFailures",
            f"{_promql.failure_ratio(sel, '5m')} > {ratio:g}",
            name,
            "warning",
            f"More than {ratio:.0%} of inference requests to {name} fail",
            "nv_inference_request_failure over all requests; the reason label tells timeouts from backend errors.",
        )
        memory = setting_value(thresholds, AlertThresholdsArgs, "gpu_memory_ratio")
        rule(
            "TritonGpuMemoryNearlyFull",
            f"{_promql.gpu_memory_ratio(sel)} > {memory:g}",
            name,
            "warning",
            f"GPU memory of a {name} pod is above {memory:.0%}",
            "Loading another model or a larger batch may fail with out-of-memory.",
        )
        hpa_name = g.get("hpa_name")
        if hpa_name:
            hpa = _promql.selector({"namespace": namespace, "horizontalpodautoscaler": hpa_name})
            rule(
                "TritonAutoscalerAtMaximum",
                f"kube_horizontalpodautoscaler_status_current_replicas{hpa} >= kube_horizontalpodautoscaler_spec_max_replicas{hpa}",
                name,
                "warning",
                f"Autoscaler of {name} is at its maximum",
                "The group cannot grow further: raise maxReplicas (and the GPU pool) or expect rising queue time.",
                hold="15m",
            )
        if g.get("scale_to_zero") and wake_up_job:
            rule(
                "TritonWakeUpSignalMissing",
                f'absent(up{{job="{wake_up_job}"}} == 1)',
                name,
                "critical",
                f"{name} cannot wake from zero",
                "The ingress gateway's metrics are not scraped, so requests to a group at zero replicas never wake it.",
                hold="5m",
            )
    return rules


class TritonAlerts(pulumi.ComponentResource):
    """A PrometheusRule with Triton's alerts for every model group."""

    rule_name: pulumi.Output[str]
    """Name of the PrometheusRule."""

    def __init__(self, name: str, args: TritonAlertsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_args("TritonAlerts", name, args, TritonAlertsArgs)  # misspelt keys and wrong types, before anything else
        super().__init__("tritonplatform:index:TritonAlerts", name, None, opts)
        groups = pulumi.Output.from_input(args["namespace"]).apply(
            lambda namespace: [
                {
                    "name": f"triton-{args['environment']}",
                    "rules": alert_rules(
                        namespace,
                        args["environment"],
                        args["model_groups"],
                        args.get("thresholds", {}),
                        args.get("wake_up_job"),
                    ),
                }
            ]
        )
        rule = k8s.apiextensions.CustomResource(
            f"{name}-rule",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={
                "name": f"{args['instance']}-alerts",
                "namespace": args["namespace"],
                "labels": {
                    **_labels.recommended_labels(args["instance"], "monitoring"),
                    **dict(args.get("labels", {})),
                },
            },
            spec={"groups": groups},
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.get("wait_for", []))),
        )
        self.rule_name = rule.metadata.apply(lambda m: m["name"])
        self.register_outputs({"rule_name": self.rule_name})
