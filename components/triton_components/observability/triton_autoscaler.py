"""``TritonAutoscaler``: a KEDA ScaledObject that scales one model group's stable Deployment.

The default trigger is the group's average queue time per request, from Prometheus; pending
requests per replica and GPU utilization can be added. HPA behaviour damps scale-down (a GPU
replica takes minutes to come back), and ``fallback`` holds the replica count when Prometheus
fails: every query treats "no data" as an error, never as zero.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..common import labels as _labels
from ..common import names as _names
from ..common.args import check_args, setting_value, with_defaults
from . import keda_triggers as _keda_triggers
from .autoscaler_args import (
    MIN_SCALE_DOWN_STABILIZATION_SECONDS,
    FallbackArgs,
    ScaleToZeroArgs,
    ScaleUpArgs,
    TritonAutoscalerArgs,
    fallback_replicas,
    validate_autoscaler,
)

scaled_object_name = _names.scaled_object_name
hpa_name = _names.hpa_name


class TritonAutoscaler(pulumi.ComponentResource):
    """KEDA ScaledObject for one model group: queue-time trigger, damped HPA behaviour, safe fallback."""

    scaled_object_name: pulumi.Output[str]
    """Name of the ScaledObject."""
    hpa_name: pulumi.Output[str]
    """Name of the HPA that KEDA creates (alerts watch it)."""

    def __init__(self, name: str, args: TritonAutoscalerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_args(
            "TritonAutoscaler", name, args, TritonAutoscalerArgs
        )  # misspelt keys and wrong types, before anything else
        validate_autoscaler(args)  # before anything is registered: nothing is half-created
        super().__init__("tritonplatform:index:TritonAutoscaler", name, None, opts)
        group = args["model_group"]
        object_name = scaled_object_name(group)
        hpa = hpa_name(group)
        full = with_defaults(args, TritonAutoscalerArgs)
        scale_to_zero = args.get("scale_to_zero")
        scale_up = with_defaults(args.get("scale_up", {}), ScaleUpArgs)
        fallback = with_defaults(args.get("fallback", {}), FallbackArgs)

        triggers = pulumi.Output.all(
            pulumi.Output.from_input(args["namespace"]),
            pulumi.Output.from_input(args["prometheus_url"]),
            pulumi.Output.from_input(scale_to_zero["service_name"] if scale_to_zero else ""),
        ).apply(
            lambda values: _keda_triggers.triggers(
                {**full, "scale_to_zero": with_defaults(scale_to_zero, ScaleToZeroArgs) if scale_to_zero else None},
                namespace=values[0],
                prometheus_url=values[1],
                service=values[2],
            )
        )
        spec: dict[str, Any] = {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": args["deployment_name"]},
            "pollingInterval": full["polling_interval_seconds"],
            "minReplicaCount": full["min_replicas"],
            "maxReplicaCount": full["max_replicas"],
            # A Prometheus outage holds the current count (or more), never scales GPU pods down.
            "fallback": {
                "failureThreshold": fallback["failure_threshold"],
                "replicas": fallback_replicas(args),
                "behavior": "currentReplicasIfHigher",
            },
            "advanced": {
                "restoreToOriginalReplicaCount": False,
                "horizontalPodAutoscalerConfig": {
                    "name": hpa,
                    "behavior": {
                        "scaleUp": {
                            "stabilizationWindowSeconds": scale_up["stabilization_seconds"],
                            "selectPolicy": "Max",
                            "policies": [
                                {
                                    "type": "Pods",
                                    "value": scale_up["max_pods"],
                                    "periodSeconds": scale_up["period_seconds"],
                                }
                            ],
                        },
                        "scaleDown": {
                            "stabilizationWindowSeconds": args.get(
                                "scale_down_stabilization_seconds", MIN_SCALE_DOWN_STABILIZATION_SECONDS
                            ),
                            # One GPU replica a minute at most: give back capacity slowly.
                            "selectPolicy": "Max",
                            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                        },
                    },
                },
            },
            "triggers": triggers,
        }
        if scale_to_zero:
            spec["cooldownPeriod"] = setting_value(scale_to_zero, ScaleToZeroArgs, "cooldown_seconds")

        scaled_object = k8s.apiextensions.CustomResource(
            f"{name}-scaled-object",
            api_version="keda.sh/v1alpha1",
            kind="ScaledObject",
            metadata={
                "name": object_name,
                "namespace": args["namespace"],
                "labels": _labels.recommended_labels(args["instance"], "autoscaler", model_group=group),
            },
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.get("wait_for", []))),
        )
        self.scaled_object_name = scaled_object.metadata.apply(lambda m: m["name"])
        self.hpa_name = pulumi.Output.from_input(hpa)
        self.register_outputs({"scaled_object_name": self.scaled_object_name, "hpa_name": self.hpa_name})
