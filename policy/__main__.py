"""CrossGuard entry point: adapt the pure rules in ``triton_policy_rules`` to ``pulumi_policy``.

``pulumi preview --policy-pack ./policy`` runs this file in the pack's own virtualenv. Every rule
is mandatory by default; a stack's ``--policy-pack-config`` file can set a policy's
``enforcementLevel`` and its options (see ``config.example.json``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import triton_policy_rules as rules  # after sys.path: the pack directory is not a package

#: Policy config keys (camelCase, as in the config file) -> Context fields, with their JSON schema.
_OPTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "prodStackPattern": ("prod_stack_pattern", {"type": "string", "default": rules.DEFAULT_PROD_STACK_PATTERN}),
    "allowedProjectRoles": (
        "allowed_project_roles",
        {"type": "array", "items": {"type": "string"}, "default": sorted(rules.GKE_NODE_ROLES)},
    ),
    "maxReplicaCount": ("max_replica_count", {"type": "integer", "minimum": 1}),
    "permissiveMtlsPorts": (
        "permissive_mtls_ports",
        {"type": "array", "items": {"type": "integer"}, "default": [rules.TRITON_METRICS_PORT]},
    ),
    "cpuOnlyDeployments": ("cpu_only_deployments", {"type": "array", "items": {"type": "string"}, "default": []}),
}
#: Which options each policy reads.
_POLICY_OPTIONS = {
    "triton-gpu-limits": ("cpuOnlyDeployments",),
    "restricted-pod-security": (),
    "no-public-bucket": (),
    "no-wide-iam": ("allowedProjectRoles",),
    "no-key-mode-in-prod": ("prodStackPattern",),
    "istio-mtls-strict": ("permissiveMtlsPorts",),
    "keda-max-replicas-within-pool": ("maxReplicaCount",),
}


def _stack(urn: str) -> str:
    """``urn:pulumi:<stack>::<project>::<type>::<name>`` -> ``<stack>``."""
    return urn.split("::", 1)[0].removeprefix("urn:pulumi:")


def _context(urn: str, config: Mapping[str, Any]) -> rules.Context:
    values: dict[str, Any] = {"stack": _stack(urn)}
    for key, (attribute, _) in _OPTIONS.items():
        if config.get(key) is not None:
            value = config[key]
            values[attribute] = frozenset(value) if isinstance(value, (list, tuple)) else value
    return rules.Context(**values)


def _resource_policy(name: str, rule: rules.Rule, description: str) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in rule(args.resource_type, args.props, _context(args.urn, args.get_config())):
            report_violation(message, None)

    options = _POLICY_OPTIONS[name]
    schema = PolicyConfigSchema({k: _OPTIONS[k][1] for k in options}) if options else None
    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=schema,
    )


def _validate_stack(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    if not args.resources:
        return
    urns: dict[str, str] = {}
    resources = []
    for r in args.resources:
        resource = rules.StackResource(
            r.resource_type, r.name, r.props, frozenset(f"{d.resource_type}::{d.name}" for d in r.dependencies)
        )
        urns[resource.id] = r.urn
        resources.append(resource)
    ctx = rules.Context(stack=_stack(args.resources[0].urn))
    for violation in rules.stack_rules(resources, ctx):
        report_violation(f"{violation.policy}: {violation.message}", urns.get(violation.resource))


PolicyPack(
    name="triton-platform",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        *(_resource_policy(name, rule, description) for name, (rule, description) in rules.RESOURCE_RULES.items()),
        StackValidationPolicy(
            name="triton-stack-consistency",
            description="Cross-resource rules: S3 buckets have a public access block, a mesh has STRICT mTLS, "
            "autoscaling maxima fit the GPU node pools.",
            validate=_validate_stack,
            enforcement_level=EnforcementLevel.MANDATORY,
        ),
    ],
)
