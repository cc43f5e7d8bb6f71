"""The rules of the ``triton-platform`` CrossGuard pack, as pure functions.

Every validator takes a resource type token and its input properties (a mapping, exactly what
CrossGuard passes as ``args.props`` and what ``triton-platform render`` writes as ``inputs``) and
returns a list of violation messages; an empty list means compliant. Nothing here imports
``pulumi_policy``, so the rules run in the project's test suite, over offline renders
(``python policy/triton_policy_rules.py rendered/``), and inside ``pulumi preview --policy-pack``
through the thin adapter in ``__main__.py``.

Validators read props only through ``Mapping``/``Sequence`` so CrossGuard's unknown-value proxies
work: touching a value that is unknown during preview raises its ``UnknownValueError``, which the
SDK reports as "can't run policy during preview" instead of a false violation.

Anchors: ``reliability-security.md`` section 6, items 7, 8, 10, 14, 16, 18-19, 23, 30, 41, 45.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# ---------------------------------------------------------------------------------------------
# Configuration (CrossGuard policy config keys in camelCase, see __main__.py)

#: The four roles a GKE node service account needs, granted at project level (Google, "Harden your
#: cluster's security": use a least-privilege node service account). Project-level grants of
#: anything else are rejected.
GKE_NODE_ROLES = frozenset(
    {
        "roles/logging.logWriter",
        "roles/monitoring.metricWriter",
        "roles/monitoring.viewer",
        "roles/stackdriver.resourceMetadata.writer",
    }
)
#: Triton's metrics port: the one port a plain-text Prometheus scrape may reach under STRICT mTLS.
TRITON_METRICS_PORT = 8002
#: KEDA's ``maxReplicaCount`` when the field is omitted.
KEDA_DEFAULT_MAX_REPLICAS = 100
DEFAULT_PROD_STACK_PATTERN = r"^prod(uction)?([-_.].*)?$"


@dataclass(frozen=True)
class Context:
    """What a rule may know besides the resource: the stack name and the pack's configuration."""

    stack: str = ""
    #: Stacks matching this regex are production (no key mode).
    prod_stack_pattern: str = DEFAULT_PROD_STACK_PATTERN
    #: Roles allowed in project-level ``IAMMember`` grants.
    allowed_project_roles: frozenset[str] = GKE_NODE_ROLES
    #: Upper bound for any ScaledObject's ``maxReplicaCount`` (the pool maximum); None = unchecked.
    max_replica_count: int | None = None
    #: Ports that may be PERMISSIVE in a PeerAuthentication's ``portLevelMtls``.
    permissive_mtls_ports: frozenset[int] = frozenset({TRITON_METRICS_PORT})
    #: Triton Deployments (``metadata.name``) deliberately run without a GPU.
    cpu_only_deployments: frozenset[str] = frozenset()

    @property
    def prod(self) -> bool:
        return bool(self.stack) and re.search(self.prod_stack_pattern, self.stack) is not None


DEFAULT = Context()


@dataclass(frozen=True)
class Violation:
    policy: str
    message: str
    resource: str = ""

    def __str__(self) -> str:
        where = f" [{self.resource}]" if self.resource else ""
        return f"{self.policy}{where}: {self.message}"


# ---------------------------------------------------------------------------------------------
# Helpers


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _seq(value: Any) -> Sequence[Any]:
    return value if isinstance(value, Sequence) and not isinstance(value, (str, bytes)) else ()


def _kind(resource_type: str, props: Mapping[str, Any]) -> str:
    kind = props.get("kind")
    return kind if isinstance(kind, str) else resource_type.rsplit(":", 1)[-1]


def _api_group(resource_type: str, props: Mapping[str, Any]) -> str:
    """``apps`` for ``apps/v1``, ``security.istio.io`` for ``kubernetes:security.istio.io/v1:...``."""
    api_version = props.get("apiVersion")
    if not isinstance(api_version, str):
        parts = resource_type.split(":")
        api_version = parts[1] if len(parts) == 3 and parts[0] == "kubernetes" else ""
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def _is_kubernetes(resource_type: str) -> bool:
    return resource_type.startswith("kubernetes:")


def _name(props: Mapping[str, Any]) -> str:
    name = _map(props.get("metadata")).get("name")
    return name if isinstance(name, str) else ""


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


#: Where the pod template lives, by workload kind.
_POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "ScaledJob": ("spec", "jobTargetRef", "template", "spec"),
}


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec of a Kubernetes workload, or None for anything that runs no pods."""
    if not _is_kubernetes(resource_type):
        return None
    path = _POD_SPEC_PATHS.get(_kind(resource_type, props))
    if path is None:
        return None
    node: Any = props
    for key in path:
        node = _map(node).get(key)
    return node if isinstance(node, Mapping) else None


def _containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for container in _seq(spec.get(group)):
            container = _map(container)
            yield f"{group}/{container.get('name', '?')}", container


def _is_triton_container(container: Mapping[str, Any]) -> bool:
    image = container.get("image")
    return (isinstance(image, str) and "tritonserver" in image) or container.get("name") == "tritonserver"


# ---------------------------------------------------------------------------------------------
# Resource validators: (resource_type, props, context) -> [message]


def triton_gpu_limits(resource_type: str, props: Mapping[str, Any], ctx: Context = DEFAULT) -> list[str]:
    """Every Triton container asks for its GPUs as a limit (``nvidia.com/gpu`` or a MIG profile)."""
    if _kind(resource_type, props) not in ("Deployment", "StatefulSet") or not _is_kubernetes(resource_type):
        return []
    spec = pod_spec(resource_type, props)
    if spec is None or _name(props) in ctx.cpu_only_deployments:
        return []
    problems = []
    for label, container in _containers(spec):
        if not label.startswith("containers/") or not _is_triton_container(container):
            continue
        resources = _map(container.get("resources"))
        limits, requests = _map(resources.get("limits")), _map(resources.get("requests"))
        gpus = {k: v for k, v in limits.items() if k.startswith("nvidia.com/")}
        if not gpus or not any((_int(v) or 0) >= 1 for v in gpus.values()):
            problems.append(
                f"container {label} runs Triton without a GPU limit: set resources.limits['nvidia.com/gpu'] >= 1 "
                f"(without it the pod lands on any node and Triton fails with 'no CUDA-capable device'); "
                f"list the Deployment in cpuOnlyDeployments if it is meant to run on CPU"
            )
        for key, value in gpus.items():
            if key in requests and str(requests[key]) != str(value):
                problems.append(f"container {label}: requests[{key!r}]={requests[key]} differs from its limit {value}")
    return problems


def restricted_pod_security(resource_type: str, props: Mapping[str, Any], ctx: Context = DEFAULT) -> list[str]:
    """Kubernetes Pod Security Standard "restricted", plus a read-only root filesystem."""
    spec = pod_spec(resource_type, props)
    if spec is None:
        return []
    problems = []
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(host) is True:
            problems.append(f"{host} is true; pods must not share the node's namespaces")
    for volume in _seq(spec.get("volumes")):
        if "hostPath" in _map(volume):
            problems.append(f"volume {_map(volume).get('name', '?')} is a hostPath; use emptyDir or a PVC")
    pod_sc = _map(spec.get("securityContext"))
    if _int(pod_sc.get("runAsUser")) == 0:
        problems.append("securityContext.runAsUser is 0 (root)")
    pod_seccomp = _map(pod_sc.get("seccompProfile")).get("type")
    for label, container in _containers(spec):
        sc = _map(container.get("securityContext"))
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        if non_root is not True:
            problems.append(f"{label}: runAsNonRoot must be true (container or pod securityContext)")
        if _int(sc.get("runAsUser")) == 0:
            problems.append(f"{label}: runAsUser is 0 (root)")
        if sc.get("privileged") is True:
            problems.append(f"{label}: privileged is true")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{label}: allowPrivilegeEscalation must be false")
        capabilities = _map(sc.get("capabilities"))
        if "ALL" not in [str(c) for c in _seq(capabilities.get("drop"))]:
            problems.append(f"{label}: capabilities.drop must contain ALL")
        added = [str(c) for c in _seq(capabilities.get("add")) if str(c) != "NET_BIND_SERVICE"]
        if added:
            problems.append(f"{label}: capabilities.add {added} is not allowed (only NET_BIND_SERVICE)")
        seccomp = _map(sc.get("seccompProfile")).get("type", pod_seccomp)
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{label}: seccompProfile.type must be RuntimeDefault (got {seccomp!r})")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{label}: readOnlyRootFilesystem must be true; mount emptyDirs where it writes")
        for port in _seq(container.get("ports")):
            if _int(_map(port).get("hostPort")):
                problems.append(f"{label}: hostPort {_map(port).get('hostPort')} exposes the pod on the node")
    return problems


_PUBLIC_GCP_MEMBERS = ("allUsers", "allAuthenticatedUsers")
_PUBLIC_S3_ACLS = ("public-read", "public-read-write", "authenticated-read")


def no_public_bucket(resource_type: str, props: Mapping[str, Any], ctx: Context = DEFAULT) -> list[str]:
    """GCS: public access prevention enforced + uniform access, no allUsers; S3: all four blocks on."""
    problems = []
    if resource_type == "gcp:storage/bucket:Bucket":
        if props.get("publicAccessPrevention") != "enforced":
            problems.append(
                f"publicAccessPrevention is {props.get('publicAccessPrevention')!r}: set it to 'enforced' "
                f"(unset means 'inherited', which allows public grants)"
            )
        if props.get("uniformBucketLevelAccess") is not True:
            problems.append("uniformBucketLevelAccess must be true (object ACLs can make single objects public)")
    elif resource_type.startswith("gcp:storage/"):
        members = [props.get("member"), props.get("entity"), *_seq(props.get("members"))]
        members += [str(e).split(":", 1)[-1] for e in _seq(props.get("roleEntities"))]
        members += _policy_data_members(props.get("policyData"))
        public = sorted({str(m) for m in members if m in _PUBLIC_GCP_MEMBERS})
        if public:
            problems.append(f"grants access to {', '.join(public)}: the model bucket must never be public")
        if str(props.get("predefinedAcl", "")).lower().startswith("public"):
            problems.append(f"predefinedAcl {props.get('predefinedAcl')!r} makes the bucket public")
    elif resource_type == "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":
        for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
            if props.get(flag) is not True:
                problems.append(f"{flag} must be true")
    elif resource_type.startswith("aws:s3/"):
        if props.get("acl") in _PUBLIC_S3_ACLS:
            problems.append(f"acl {props.get('acl')!r} makes the bucket public")
        for statement in _statements(props.get("policy")):
            if statement.get("Effect") == "Allow" and _public_principal(statement) and not statement.get("Condition"):
                problems.append("bucket policy allows Principal '*' without a condition")
    return problems


_GCP_WIDE_IAM = re.compile(r"^gcp:(projects|folder|organizations)/iAM(Member|Binding|Policy):IAM\2$")
_GCP_IAM = re.compile(r"^gcp:[A-Za-z0-9]+/[A-Za-z]*[iI]AM(Member|Binding|Policy):")
_BASIC_ROLES = ("roles/owner", "roles/editor", "roles/viewer")
_ADMIN_POLICY_ARNS = re.compile(r":policy/(AdministratorAccess|PowerUserAccess|IAMFullAccess)$")


def no_wide_iam(resource_type: str, props: Mapping[str, Any], ctx: Context = DEFAULT) -> list[str]:
    """No project/folder/org-wide IAM (beyond the GKE node roles), no basic roles, no AWS wildcards."""
    problems = []
    wide = _GCP_WIDE_IAM.match(resource_type)
    if wide:
        scope = {"projects": "project", "folder": "folder", "organizations": "organization"}[wide.group(1)]
        kind = wide.group(2)
        role = props.get("role")
        if kind != "Member":
            problems.append(
                f"{scope}-level IAM{kind} is authoritative for the whole {scope} and is not allowed: grant roles "
                f"on the bucket or service account (IAMMember) instead"
            )
        elif scope != "project" or role not in ctx.allowed_project_roles:
            problems.append(
                f"{scope}-wide grant of {role!r} is not allowed: grant it on the resource (bucket, service "
                f"account); project-level grants are limited to {', '.join(sorted(ctx.allowed_project_roles))}"
            )
    if _GCP_IAM.match(resource_type):
        roles = [props.get("role"), *_policy_data_roles(props.get("policyData"))]
        basic = sorted({str(r) for r in roles if r in _BASIC_ROLES})
        if basic:
            problems.append(f"basic role {', '.join(basic)} is not allowed; use a predefined or custom role")
        members = [props.get("member"), *_seq(props.get("members")), *_policy_data_members(props.get("policyData"))]
        public = sorted({str(m) for m in members if m in _PUBLIC_GCP_MEMBERS})
        if public:
            problems.append(f"grants {', '.join(public)}: wildcard members are not allowed")
    if resource_type.startswith("aws:"):
        for key, document in _aws_policy_documents(props):
            problems += [f"{key}: {p}" for p in _aws_statement_problems(document)]
        arn = props.get("policyArn")
        if isinstance(arn, str) and _ADMIN_POLICY_ARNS.search(arn):
            problems.append(f"attaches {arn.rsplit('/', 1)[-1]}: use a policy scoped to what the role needs")
    return problems


_KEY_TYPES = (
    "gcp:serviceaccount/key:Key",
    "gcp:storage/hmacKey:HmacKey",
    "aws:iam/accessKey:AccessKey",
)


def no_key_mode_in_prod(resource_type: str, props: Mapping[str, Any], ctx: Context = DEFAULT) -> list[str]:
    """Production uses keyless identity (Workload Identity, IRSA / Pod Identity): no exported keys."""
    if resource_type in _KEY_TYPES and ctx.prod:
        return [
            f"{resource_type} in production stack {ctx.stack!r}: long-lived keys leak and never expire; use "
            f"Workload Identity (GKE) or IRSA / EKS Pod Identity (identity: workload-identity)"
        ]
    return []


def istio_mtls_strict(resource_type: str, props: Mapping[str, Any], ctx: Context = DEFAULT) -> list[str]:
    """PeerAuthentication accepts only mTLS; a port-level PERMISSIVE exception only for allowed ports."""
    if _kind(resource_type, props) != "PeerAuthentication" or not _api_group(resource_type, props).endswith("istio.io"):
        return []
    spec = _map(props.get("spec"))
    problems = []
    mode = _map(spec.get("mtls")).get("mode")
    if mode != "STRICT":
        problems.append(f"spec.mtls.mode is {mode!r}: set STRICT (unset inherits the mesh default, PERMISSIVE)")
    for port, setting in _map(spec.get("portLevelMtls")).items():
        port_mode = _map(setting).get("mode")
        if port_mode == "STRICT":
            continue
        if port_mode == "PERMISSIVE" and _int(port) in ctx.permissive_mtls_ports:
            continue
        problems.append(
            f"portLevelMtls[{port}] is {port_mode!r}: only ports {sorted(ctx.permissive_mtls_ports)} may be "
            f"PERMISSIVE (plain-text metrics scrape, fenced by a NetworkPolicy)"
        )
    return problems


def keda_max_replicas(resource_type: str, props: Mapping[str, Any], ctx: Context = DEFAULT) -> list[str]:
    """A ScaledObject's maxReplicaCount stays within the configured pool maximum."""
    if _kind(resource_type, props) != "ScaledObject" or _api_group(resource_type, props) != "keda.sh":
        return []
    spec = _map(props.get("spec"))
    maximum = _int(spec.get("maxReplicaCount"))
    effective = KEDA_DEFAULT_MAX_REPLICAS if maximum is None else maximum
    problems = []
    minimum = _int(spec.get("minReplicaCount"))
    if minimum is not None and minimum > effective:
        problems.append(f"minReplicaCount {minimum} is above maxReplicaCount {effective}")
    if ctx.max_replica_count is not None and effective > ctx.max_replica_count:
        unset = " (unset: KEDA's default)" if maximum is None else ""
        problems.append(
            f"maxReplicaCount is {effective}{unset}, above the pool maximum {ctx.max_replica_count}: replicas "
            f"beyond it stay Pending on GPUs that do not exist"
        )
    return problems


Rule = Callable[[str, Mapping[str, Any], Context], list[str]]

#: name -> (validator, description). The names are the CrossGuard policy names.
RESOURCE_RULES: dict[str, tuple[Rule, str]] = {
    "triton-gpu-limits": (triton_gpu_limits, "Triton containers request their GPUs as limits."),
    "restricted-pod-security": (
        restricted_pod_security,
        "Pods meet the restricted Pod Security Standard and use a read-only root filesystem.",
    ),
    "no-public-bucket": (no_public_bucket, "Model buckets are never public (GCS PAP + UBLA, S3 public access block)."),
    "no-wide-iam": (no_wide_iam, "No project-wide, basic-role or wildcard IAM grants."),
    "no-key-mode-in-prod": (no_key_mode_in_prod, "Production stacks use keyless identity, never exported keys."),
    "istio-mtls-strict": (istio_mtls_strict, "Istio PeerAuthentication enforces STRICT mTLS."),
    "keda-max-replicas-within-pool": (
        keda_max_replicas,
        "KEDA maxReplicaCount stays within the GPU pool's capacity.",
    ),
}


# ---------------------------------------------------------------------------------------------
# Stack validators: rules that relate several resources


@dataclass(frozen=True)
class StackResource:
    """One resource as a stack rule sees it (built from a render or from CrossGuard's PolicyResource)."""

    type: str
    name: str
    props: Mapping[str, Any]
    depends_on: frozenset[str] = field(default_factory=frozenset)  # "type::name" of dependencies

    @property
    def id(self) -> str:
        return f"{self.type}::{self.name}"


def stack_rules(resources: Sequence[StackResource], ctx: Context = DEFAULT) -> list[Violation]:
    return [
        *_s3_buckets_blocked(resources),
        *_mesh_has_strict_mtls(resources),
        *_autoscaling_fits_gpu_pools(resources),
    ]


def _s3_buckets_blocked(resources: Sequence[StackResource]) -> Iterator[Violation]:
    buckets = [r for r in resources if r.type in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")]
    blocks = [r for r in resources if r.type == "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"]
    for bucket in buckets:
        if not any(
            bucket.id in block.depends_on or block.props.get("bucket") == bucket.props.get("bucket") for block in blocks
        ):
            yield Violation(
                "no-public-bucket",
                "S3 bucket has no BucketPublicAccessBlock in this stack; add one with all four settings true",
                bucket.id,
            )


def _mesh_has_strict_mtls(resources: Sequence[StackResource]) -> Iterator[Violation]:
    istio = [r for r in resources if _api_group(r.type, r.props).endswith("istio.io")]
    if not istio:
        return
    strict = [
        r
        for r in istio
        if _kind(r.type, r.props) == "PeerAuthentication"
        and _map(_map(r.props.get("spec")).get("mtls")).get("mode") == "STRICT"
        and not _map(r.props.get("spec")).get("selector")
    ]
    if not strict:
        yield Violation(
            "istio-mtls-strict",
            "the stack configures Istio but has no namespace-wide PeerAuthentication with mtls.mode STRICT",
        )


def _gpus_per_replica(deployment: StackResource) -> int:
    spec = pod_spec(deployment.type, deployment.props) or {}
    total = 0
    for label, container in _containers(spec):
        if label.startswith("containers/"):
            limits = _map(_map(container.get("resources")).get("limits"))
            total += sum(_int(v) or 0 for k, v in limits.items() if k.startswith("nvidia.com/"))
    return total


def _gke_pool_gpus(pool: StackResource) -> int | None:
    """GPUs schedulable on a GKE pool at its autoscaling maximum, or None when unknown."""
    autoscaling = _map(pool.props.get("autoscaling"))
    nodes = _int(autoscaling.get("totalMaxNodeCount"))
    if nodes is None and _int(autoscaling.get("maxNodeCount")) is not None:
        zones = len(_seq(pool.props.get("nodeLocations")))
        nodes = _int(autoscaling.get("maxNodeCount")) * zones if zones else None  # type: ignore[operator]
    if nodes is None and not autoscaling:
        nodes = _int(pool.props.get("nodeCount"))
    if nodes is None:
        return None
    per_node = 0
    for accelerator in _seq(_map(pool.props.get("nodeConfig")).get("guestAccelerators")):
        accelerator = _map(accelerator)
        if accelerator.get("gpuPartitionSize"):
            return None  # MIG: partitions per GPU depend on the profile
        shared = _int(_map(accelerator.get("gpuSharingConfig")).get("maxSharedClientsPerGpu")) or 1
        per_node += (_int(accelerator.get("count")) or 0) * shared
    return nodes * per_node if per_node else None


def _autoscaling_fits_gpu_pools(resources: Sequence[StackResource]) -> Iterator[Violation]:
    pools = [r for r in resources if r.type == "gcp:container/nodePool:NodePool"]
    capacities = [_gke_pool_gpus(p) for p in pools]
    gpu_pools = [c for c in capacities if c != 0]
    if not gpu_pools or None in gpu_pools:
        return  # no GPU pool in this stack (bring-your-own cluster) or one we cannot size
    capacity = sum(c for c in gpu_pools if c)
    deployments = {
        (_map(r.props.get("metadata")).get("namespace"), _name(r.props)): r
        for r in resources
        if _is_kubernetes(r.type) and _kind(r.type, r.props) == "Deployment"
    }
    scaled: set[tuple[Any, str]] = set()
    needed, parts = 0, []
    for r in resources:
        if _kind(r.type, r.props) != "ScaledObject" or _api_group(r.type, r.props) != "keda.sh":
            continue
        spec = _map(r.props.get("spec"))
        key = (_map(r.props.get("metadata")).get("namespace"), _map(spec.get("scaleTargetRef")).get("name"))
        target = deployments.get(key)  # type: ignore[arg-type]
        if target is None:
            continue
        scaled.add(key)  # type: ignore[arg-type]
        maximum = _int(spec.get("maxReplicaCount"))
        maximum = KEDA_DEFAULT_MAX_REPLICAS if maximum is None else maximum
        gpus = _gpus_per_replica(target)
        needed += maximum * gpus
        parts.append(f"{key[1]}: {maximum} x {gpus} GPU")
    if not parts:
        return
    for key, deployment in deployments.items():
        if key not in scaled:
            replicas = _int(_map(deployment.props.get("spec")).get("replicas"))
            gpus = _gpus_per_replica(deployment)
            if replicas and gpus:
                needed += replicas * gpus
                parts.append(f"{key[1]}: {replicas} x {gpus} GPU (fixed)")
    if needed > capacity:
        yield Violation(
            "keda-max-replicas-within-pool",
            f"autoscaling maxima need {needed} GPU(s) ({'; '.join(parts)}) but the GPU node pools hold at most "
            f"{capacity}: lower maxReplicaCount or raise the pool's maximum node count",
        )


# ---------------------------------------------------------------------------------------------
# Policy documents


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _policy_data_bindings(value: Any) -> Iterator[Mapping[str, Any]]:
    for binding in _seq(_map(_json(value)).get("bindings")):
        yield _map(binding)


def _policy_data_members(value: Any) -> list[Any]:
    return [m for b in _policy_data_bindings(value) for m in _seq(b.get("members"))]


def _policy_data_roles(value: Any) -> list[Any]:
    return [b.get("role") for b in _policy_data_bindings(value)]


def _statements(document: Any) -> list[Mapping[str, Any]]:
    statements = _map(_json(document)).get("Statement")
    if isinstance(statements, Mapping):
        return [statements]
    return [_map(s) for s in _seq(statements)]


def _aws_policy_documents(props: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for key, value in props.items():
        if key.lower().endswith("policy") and _statements(value):
            yield key, value
    for i, inline in enumerate(_seq(props.get("inlinePolicies"))):
        if _statements(_map(inline).get("policy")):
            yield f"inlinePolicies[{i}]", _map(inline).get("policy")


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(v) for v in _seq(value)]


def _public_principal(statement: Mapping[str, Any]) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    return any("*" in _as_list(v) for v in _map(principal).values())


def _aws_statement_problems(document: Any) -> list[str]:
    problems = []
    for i, statement in enumerate(_statements(document)):
        if statement.get("Effect") != "Allow":
            continue
        actions = _as_list(statement.get("Action"))
        wildcard = [a for a in actions if a == "*" or a.endswith(":*")]
        if wildcard:
            problems.append(f"Statement[{i}] allows wildcard action(s) {wildcard}; list the actions needed")
        if "NotAction" in statement:
            problems.append(f"Statement[{i}] uses NotAction with Allow, which grants everything else")
        if "*" in _as_list(statement.get("Resource")):
            problems.append(f"Statement[{i}] applies to Resource '*'; name the bucket ARN and 'arn/*'")
        if "NotResource" in statement:
            problems.append(f"Statement[{i}] uses NotResource with Allow")
        if _public_principal(statement) and not statement.get("Condition"):
            problems.append(f"Statement[{i}] allows Principal '*' without a condition")
    return problems


# ---------------------------------------------------------------------------------------------
# Entry points


def validate_resource(
    resource_type: str, props: Mapping[str, Any], ctx: Context = DEFAULT, resource: str = ""
) -> list[Violation]:
    """Every resource rule over one resource."""
    return [
        Violation(name, message, resource)
        for name, (rule, _) in RESOURCE_RULES.items()
        for message in rule(resource_type, props, ctx)
    ]


def validate_resources(resources: Iterable[StackResource], ctx: Context = DEFAULT) -> list[Violation]:
    """Resource rules over each resource, then the stack rules over all of them."""
    resources = list(resources)
    found = [v for r in resources for v in validate_resource(r.type, r.props, ctx, r.id)]
    return found + stack_rules(resources, ctx)


def from_render(payload: Mapping[str, Any]) -> list[StackResource]:
    """The custom resources of a ``resources.json`` payload (components are not sent to policies)."""
    return [
        StackResource(r["type"], r["name"], r.get("inputs") or {}, frozenset(r.get("dependsOn") or ()))
        for r in payload.get("resources", [])
        if r.get("custom", True) and not r["type"].startswith("pulumi:providers:")
    ]


def validate_render(payload: Mapping[str, Any], ctx: Context | None = None) -> list[Violation]:
    context = ctx or Context(stack=str(payload.get("stack", "")))
    return validate_resources(from_render(payload), context)


def main(argv: list[str] | None = None) -> int:
    """``python policy/triton_policy_rules.py DIR...``: run the pack over offline renders."""
    dirs = [Path(a) for a in (argv if argv is not None else sys.argv[1:])] or [Path("rendered")]
    failed = 0
    for directory in dirs:
        for file in sorted(directory.glob("*/resources.json")):
            payload = json.loads(file.read_text())
            violations = validate_render(payload)
            failed += len(violations)
            status = "ok" if not violations else f"{len(violations)} violation(s)"
            print(f"{payload.get('stack', file.parent.name)}: {status}")
            for violation in violations:
                print(f"  {violation}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
