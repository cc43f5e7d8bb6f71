"""Compare two offline renders and write a merge-request comment (``triton-platform diff``).

Input: two directories written by ``triton-platform render --out DIR`` (one per side of a merge
request), each holding ``<stack>/resources.json``; stacks are paired by name, or across names with a
stack map (a new stack against the one it was copied from). Output: Markdown with a summary table
per stack, the changes a reviewer must look at hard, then every changed field path with before and
after in full (a stack added or removed as a whole is a count per type).

What is flagged for hard review:

* a stateful or protected resource (bucket, node pool, cluster, namespace, volume, key ring, or
  anything with ``protect``) that is deleted, or whose change touches a field providers cannot
  update in place (so Pulumi replaces it, and named resources are deleted first);
* protection removed (``protect`` or ``retainOnDelete`` dropped);
* a resource whose name, type or parent chain changed without an ``alias`` (Pulumi deletes the old
  one and creates a new one);
* any change to a secret-bearing resource (a secret type or a secret input; secret *outputs* the
  provider SDK adds, such as a computed ``effectiveLabels``, do not count) and any change to IAM or
  Kubernetes RBAC;
* a stack added or removed.

Limits: the render has no cloud state, so this is the *intended* change, not a refresh; whether a
provider replaces a resource is inferred from the immutable fields of each type's provider (a type
with none on record gets a guess that says so; ``pulumi preview --diff`` is authoritative); secret
values are redacted in renders, so a changed secret value is invisible.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..clouds import registered
from ..clouds.registry import EVERY_INPUT

SECRET = "[secret]"
#: Hidden marker CI uses to find and update its own comment instead of posting a new one.
COMMENT_MARKER = "<!-- triton-platform:offline-diff -->"
#: GitHub rejects comments above 65,536 characters; stay below with room for a CI footer.
DEFAULT_MAX_CHARS = 60_000

# The last segment of a type token (``<package>:storage/bucket:Bucket`` -> ``Bucket``) for resources
# whose deletion or replacement loses data or takes the platform down.
STATEFUL_KINDS = frozenset(
    {
        "Bucket",
        "BucketV2",  # the model repository
        "NodePool",
        "NodeGroup",
        "ManagedNodeGroup",  # the GPU nodes, as some component packages name their groups
        "Cluster",
        "Namespace",  # deletes every object inside it
        "PersistentVolume",
        "PersistentVolumeClaim",
        "StatefulSet",
        "KeyRing",
        "CryptoKey",  # destroying a key loses what it encrypted
        "Repository",  # container images
    }
)

_SECRET_TYPE = re.compile(
    r"^kubernetes:core/v1:Secret$|secretmanager|secretsmanager|randomPassword|serviceaccount/key:Key$"
    r"|iam/accessKey:AccessKey$|^tls:",
    re.IGNORECASE,
)
_IAM_TYPE = re.compile(r"iam|rbac\.authorization\.k8s\.io", re.IGNORECASE)

# Fields providers cannot change in place: a change means replace. Paths are relative to
# ``inputs``; a prefix matches everything below it. ``pulumi preview`` has the last word.
#
# Kubernetes: the provider's own rules, mirrored by group, version and kind (pulumi-kubernetes
# provider/v4, pkg/provider/diff.go ``forceNew`` and ``forceNewProperties``; helm_release.go
# ``Diff``: ``forceNewFields := []string{".name", ".namespace"}``). Every object is replaced when
# ``metadata.name`` or ``metadata.namespace`` changes; a kind absent from the table (custom
# resources: ScaledObject, VirtualService, ServiceMonitor...) only then. A changed ``apiVersion`` or
# ``kind`` is another type token, so it already shows as one object removed and another added.
# ConfigMap and Secret contents are replaced on any change unless the provider is configured with
# ``enableConfigMapMutable`` / ``enableSecretMutable``: this platform never sets those, so a changed
# dashboard or admin key is a replacement (tests/e2e saw the real engine do it).
_KUBERNETES_METADATA = ("metadata.name", "metadata.namespace")
_LABEL_SELECTOR = ("spec.selector",)
_CONTAINER_FIELDS = (
    "args",
    "command",
    "env",
    "image",
    "imagePullPolicy",
    "lifecycle",
    "livenessProbe",
    "ports",
    "readinessProbe",
    "resources",
    "securityContext",
    "stdin",
    "stdinOnce",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "tty",
    "volumeDevices",
    "volumeMounts",
    "workingDir",
)
_POD = (
    "spec.affinity",
    "spec.automountServiceAccountToken",
    "spec.dnsConfig",
    "spec.dnsPolicy",
    "spec.enableServiceLinks",
    "spec.hostAliases",
    "spec.hostIPC",
    "spec.hostNetwork",
    "spec.hostPID",
    "spec.hostname",
    "spec.imagePullSecrets",
    "spec.nodeName",
    "spec.nodeSelector",
    "spec.overhead",
    "spec.preemptionPolicy",
    "spec.priority",
    "spec.priorityClassName",
    "spec.readinessGates",
    "spec.restartPolicy",
    "spec.runtimeClassName",
    "spec.schedulerName",
    "spec.securityContext",
    "spec.serviceAccount",
    "spec.serviceAccountName",
    "spec.shareProcessNamespace",
    "spec.subdomain",
    "spec.terminationGracePeriodSeconds",
    "spec.volumes",
    *(f"spec.{c}.{f}" for c in ("containers", "initContainers") for f in _CONTAINER_FIELDS),
)
_PERSISTENT_VOLUME = tuple(
    f"spec.{source}"
    for source in (
        "awsElasticBlockStore",
        "azureDisk",
        "azureFile",
        "cephfs",
        "cinder",
        "csi",
        "fc",
        "flexVolume",
        "flocker",
        "gcePersistentDisk",
        "glusterfs",
        "hostPath",
        "iscsi",
        "local",
        "nfs",
        "photonPersistentDisk",
        "portworxVolume",
        "quobyte",
        "rbd",
        "scaleIO",
        "storageos",
        "vsphereVolume",
    )
)
_STATEFUL_SET = (
    "spec.podManagementPolicy",
    "spec.revisionHistoryLimit",
    "spec.serviceName",
    "spec.volumeClaimTemplates",
    *_LABEL_SELECTOR,
)
_JOB = ("spec.completions", "spec.parallelism", "spec.template", *_LABEL_SELECTOR)
_CORE_V1 = {
    "PersistentVolume": _PERSISTENT_VOLUME,
    "PersistentVolumeClaim": ("spec.accessModes", "spec.storageClassName", "spec.volumeName", *_LABEL_SELECTOR),
    "Pod": _POD,
    "ResourceQuota": ("spec.scopes",),
    "Service": ("spec.clusterIP",),
    "Secret": ("type", "data", "stringData"),  # never mutable here (see above)
    "ConfigMap": ("data", "binaryData"),  # never mutable here (see above)
}
_APPS = {"Deployment": _LABEL_SELECTOR, "DaemonSet": _LABEL_SELECTOR, "StatefulSet": _STATEFUL_SET}
_ROLE_BINDINGS: dict[str, tuple[str, ...]] = {"RoleBinding": ("roleRef",), "ClusterRoleBinding": ("roleRef",)}
#: ``apiVersion`` -> kind -> input paths that force a replacement, beyond ``metadata.name``/``namespace``.
KUBERNETES_FORCE_NEW: dict[str, dict[str, tuple[str, ...]]] = {
    "v1": _CORE_V1,
    "apps/v1": _APPS,
    "apps/v1beta2": _APPS,
    "apps/v1beta1": {"StatefulSet": _STATEFUL_SET},
    "batch/v1": {"Job": _JOB},
    "batch/v1beta1": {"Job": _JOB},
    "policy/v1beta1": {"PodDisruptionBudget": ("spec",)},  # policy/v1 updates in place
    "rbac.authorization.k8s.io/v1": _ROLE_BINDINGS,
    "rbac.authorization.k8s.io/v1beta1": _ROLE_BINDINGS,
    "storage.k8s.io/v1": {"StorageClass": ("parameters", "provisioner")},
}
#: A Helm release (``kubernetes:helm.sh/v3:Release``) has no ``metadata``: its own name and namespace.
HELM_RELEASE_FORCE_NEW = ("name", "namespace")
_HELM_RELEASE = "kubernetes:helm.sh/v3:Release"

# Replacement rules of a cloud's types come from its folder (``Cloud.force_new``); random's are here.
# They are the ForceNew / RequiresReplace fields of the Terraform resource each Pulumi provider
# bridges, in Pulumi's names (camelCase; a block that is a list is plural, as the SDK names it). A block
# listed whole replaces on any change below it; a block that is Optional+Computed in the schema is
# never listed whole, because Terraform's SDK applies a block's own ForceNew only when the block is
# added or removed, and a computed block always exists in the state. Replacements that depend on the
# direction of a change (CustomizeDiff ``ForceNewIfChange``) are not listed. pulumi-random 4 bridges
# hashicorp/terraform-provider-random (internal/provider/resource_*.go, every argument has
# ``RequiresReplace``).
RANDOM_FORCE_NEW: dict[str, tuple[str, ...]] = {
    "random:index/randomId:RandomId": (EVERY_INPUT,),
    "random:index/randomPassword:RandomPassword": (EVERY_INPUT,),
}


def cloud_force_new() -> dict[str, tuple[str, ...]]:
    """Type token -> input paths that force a replacement (``EVERY_INPUT``: all of them), every cloud's."""
    return {**{t: f for cloud in registered() for t, f in cloud.force_new.items()}, **RANDOM_FORCE_NEW}


#: The Kubernetes provider is replaced, and every object it manages with it, when its kubeconfig
#: points at another cluster (provider.go ``DiffConfig``: the active cluster's settings differ, or
#: the kubeconfig is not known yet); any other kubeconfig edit updates it.
KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"
#: A type with no rule above (a resource of a project's own code): a guess from field names the
#: common providers treat as immutable, said to be a guess where it fires.
_UNKNOWN_TYPE_GUESS = (
    "name",
    "location",
    "project",
    "region",
    "zone",
    "accountId",
    "bucket",
    "cluster",
    "clusterName",
    "network",
    "subnetwork",
    "subnetIds",
    "keyRing",
    "purpose",
)


#: A value added or removed as a whole is one line up to this many characters; a longer object or
#: list becomes one line per leaf, so every route, weight and port shows in full.
INLINE_CHARS = 160
#: Only a single long text (a dashboard, a rule file) is shortened, its length said.
TEXT_CHARS = 400


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, str) and len(text) > TEXT_CHARS:
        return f"{text[: TEXT_CHARS - 1]}… ({len(value)} characters)"
    return text


@dataclass
class FieldChange:
    path: str
    before: Any = None
    after: Any = None
    kind: str = "changed"  # "added" | "removed" | "changed" | "reordered"
    secret: bool = False

    def line(self) -> str:
        if self.secret:
            return f"~ {self.path}: (secret {self.kind}; value not shown)"
        if self.kind == "added":
            return f"+ {self.path}: {_show(self.after)}"
        if self.kind == "removed":
            return f"- {self.path}: {_show(self.before)}"
        if self.kind == "reordered":
            return f"~ {self.path}: order {_show(self.before)} -> {_show(self.after)}"
        return f"~ {self.path}: {_show(self.before)} -> {_show(self.after)}"


@dataclass
class ResourceChange:
    id: str
    type: str
    kind: str  # "added" | "removed" | "changed" | "renamed"
    fields: list[FieldChange] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    previous_id: str | None = None

    @property
    def symbol(self) -> str:
        return {"added": "+", "removed": "-", "changed": "~", "renamed": "~"}[self.kind]


@dataclass
class StackDiff:
    stack: str
    status: str  # "added" | "removed" | "changed" | "unchanged"
    resources: list[ResourceChange] = field(default_factory=list)
    outputs: list[FieldChange] = field(default_factory=list)
    unchanged: int = 0
    flags: list[str] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for r in self.resources if r.kind == kind)

    @property
    def flagged(self) -> list[tuple[str, str]]:
        """``(subject, reason)`` for every flag of this stack."""
        found = [("stack", reason) for reason in self.flags]
        found += [(r.id, reason) for r in self.resources for reason in r.flags]
        return found


@dataclass
class Report:
    base: str
    head: str
    stacks: list[StackDiff]

    @property
    def flagged(self) -> bool:
        return any(s.flagged for s in self.stacks)

    @property
    def changed(self) -> bool:
        return any(s.status != "unchanged" for s in self.stacks)


# ---------------------------------------------------------------------------------------------
# Loading


class RenderDirError(ValueError):
    """A render that cannot be compared: the message names the file and what is wrong with it."""


class DiffInputError(ValueError):
    """Folders or a stack map that cannot make a comparison: the message says what to give instead."""


def load_render_dir(path: Path) -> dict[str, dict[str, Any]]:
    """``{stack: resources.json payload}`` for every ``<stack>/resources.json`` under ``path``."""
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a directory (expected the output of `triton-platform render --out`)")
    if (path / "resources.json").is_file():
        raise DiffInputError(f"{path} is one stack's render; give the folder that holds it ({path.parent})")
    renders: dict[str, dict[str, Any]] = {}
    for file in sorted(path.glob("*/resources.json")):
        payload = _read_render(file)
        renders[payload.get("stack") or file.parent.name] = payload
    return renders


def _read_render(file: Path) -> dict[str, Any]:
    """One ``resources.json``, checked for the shape the diff relies on, or ``RenderDirError``."""
    try:
        data = file.read_bytes()
    except OSError as error:
        raise RenderDirError(f"{file}: cannot be read: {(error.strerror or str(error)).lower()}") from None
    try:
        payload = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise RenderDirError(
            f"{file}: is not UTF-8 JSON (byte 0x{data[error.start]:02x} at offset {error.start})"
        ) from None
    except json.JSONDecodeError as error:
        raise RenderDirError(f"{file}: is not JSON: {error}") from None
    if not isinstance(payload, dict):
        raise RenderDirError(
            f"{file}: holds {_json_kind(payload)}, not a render (an object with stack, outputs and resources)"
        )
    resources = payload.get("resources")
    if not isinstance(resources, list):
        raise RenderDirError(f"{file}: has no resources list")
    if not isinstance(payload.get("outputs", {}), dict):
        raise RenderDirError(f"{file}: outputs is {_json_kind(payload['outputs'])}, not an object")
    for i, resource in enumerate(resources):
        if not isinstance(resource, dict):
            raise RenderDirError(f"{file}: resources[{i}] is {_json_kind(resource)}, not an object")
        for key in ("id", "type", "name"):
            if not isinstance(resource.get(key), str):
                raise RenderDirError(f"{file}: resources[{i}] has no text {key}")
        for key in ("options", "inputs"):
            if not isinstance(resource.get(key, {}), dict):
                raise RenderDirError(f"{file}: resources[{i}].{key} is {_json_kind(resource[key])}, not an object")
    return payload


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "null" if value is None else "an object"


# ---------------------------------------------------------------------------------------------
# Classification


def type_kind(type_: str) -> str:
    return type_.rsplit(":", 1)[-1]


def is_stateful(resource: Mapping[str, Any]) -> bool:
    type_ = resource["type"]
    if not resource.get("custom", True):
        return False
    return type_kind(type_) in STATEFUL_KINDS or any(type_ in cloud.stateful_types for cloud in registered())


def is_protected(resource: Mapping[str, Any]) -> bool:
    return bool(resource.get("options", {}).get("protect"))


def is_secret_bearing(resource: Mapping[str, Any]) -> bool:
    """A type that holds a secret, or a secret among the inputs we send.

    ``additionalSecretOutputs`` alone does not count: provider SDKs mark computed outputs secret on
    ordinary resources (a provider SDK may do so for every labelled resource's ``effectiveLabels`` and
    ``pulumiLabels``), which would flag every bucket edit. An input of that name is still masked
    (``_secret_fields``) and a change to it is flagged (``_changed``).
    """
    return bool(_SECRET_TYPE.search(resource["type"])) or _contains_secret(resource.get("inputs"))


def is_iam(resource: Mapping[str, Any]) -> bool:
    return bool(_IAM_TYPE.search(resource["type"]))


def _contains_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_secret(v) for v in value)
    return value == SECRET


def has_replacement_rule(type_: str) -> bool:
    """Whether the diff knows from the type's provider which of its fields force a replacement."""
    return (
        type_ in (_HELM_RELEASE, KUBERNETES_PROVIDER) or type_.startswith("kubernetes:") or type_ in cloud_force_new()
    )


def immutable_prefixes(resource: Mapping[str, Any]) -> tuple[str, ...]:
    """Input paths (``inputs.``-relative, dotted, no indices) that force a replacement."""
    type_ = resource["type"]
    if type_ == _HELM_RELEASE:
        return HELM_RELEASE_FORCE_NEW
    if type_.startswith("kubernetes:"):
        module = type_.split(":")[1]  # "core/v1", "apps/v1", "keda.sh/v1alpha1"
        api_version = module.removeprefix("core/")
        return _KUBERNETES_METADATA + KUBERNETES_FORCE_NEW.get(api_version, {}).get(type_kind(type_), ())
    if type_ == KUBERNETES_PROVIDER or not resource.get("custom", True):
        return ()
    return cloud_force_new().get(type_, _UNKNOWN_TYPE_GUESS)


def _active_cluster(kubeconfig: Any) -> Any:
    """The settings of the cluster a kubeconfig's current context uses, or ``None`` where that
    cannot be read offline (a secret, a file path, not YAML)."""
    if not isinstance(kubeconfig, str) or kubeconfig == SECRET:
        return None
    try:
        config = yaml.safe_load(kubeconfig)
    except yaml.YAMLError:
        return None
    if not isinstance(config, dict):
        return None
    entries = lambda key: {e.get("name"): e for e in config.get(key) or () if isinstance(e, dict)}  # noqa: E731
    context = (entries("contexts").get(config.get("current-context")) or {}).get("context") or {}
    return (entries("clusters").get(context.get("cluster")) or {}).get("cluster")


def _holds(value: Any, path: str) -> bool:
    """Whether ``value`` (a dict, or a list of them) has something at the dotted ``path``."""
    if not path:
        return True
    if isinstance(value, list):
        return any(_holds(item, path) for item in value)
    head, _, rest = path.partition(".")
    return isinstance(value, dict) and head in value and _holds(value[head], rest)


def _replacement_fields(
    before: Mapping[str, Any], after: Mapping[str, Any], changes: Iterable[FieldChange]
) -> list[str]:
    changed = [c for c in changes if c.path.startswith("inputs.")]
    if before["type"] == KUBERNETES_PROVIDER:
        old = _active_cluster(before.get("inputs", {}).get("kubeconfig"))
        new = _active_cluster(after.get("inputs", {}).get("kubeconfig"))
        moved = old is None or new is None or old != new
        return [c.path for c in changed] if moved and any(c.path == "inputs.kubeconfig" for c in changed) else []
    prefixes = immutable_prefixes(before)
    hits = []
    for change in changed:
        plain = re.sub(r"\[[^\]]*\]", "", change.path[len("inputs.") :])
        if (
            EVERY_INPUT in prefixes
            or any(plain == p or plain.startswith(p + ".") for p in prefixes)
            # A block added or removed whole that sets an immutable field below it.
            or any(
                p.startswith(plain + ".")
                and (_holds(change.before, p[len(plain) + 1 :]) or _holds(change.after, p[len(plain) + 1 :]))
                for p in prefixes
            )
        ):
            hits.append(change.path)
    return hits


# ---------------------------------------------------------------------------------------------
# Structural diff


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _key_path(prefix: str, key: str) -> str:
    if _IDENTIFIER.match(key):
        return f"{prefix}.{key}" if prefix else key
    return f"{prefix}[{json.dumps(key)}]"


def _named(items: list[Any]) -> bool:
    """A list of objects identified by a unique ``name`` (containers, env, ports, volumes...)."""
    if not items or not all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
        return False
    return len({i["name"] for i in items}) == len(items)


def diff_values(before: Any, after: Any, path: str = "", secret: bool = False) -> Iterator[FieldChange]:
    """Every leaf-level difference between two JSON values, with readable paths."""
    secret = secret or before == SECRET or after == SECRET
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            sub = _key_path(path, key)
            if key not in before:
                yield from _whole(sub, after[key], "added", secret)
            elif key not in after:
                yield from _whole(sub, before[key], "removed", secret)
            else:
                yield from diff_values(before[key], after[key], sub, secret)
        return
    if isinstance(before, list) and isinstance(after, list):
        yield from _diff_lists(before, after, path, secret)
        return
    if before != after:
        yield FieldChange(path, before, after, "changed", secret)


def _whole(path: str, value: Any, kind: str, secret: bool) -> Iterator[FieldChange]:
    """A value added or removed as a whole: one line when short, else one line per leaf."""
    secret = secret or _contains_secret(value)
    short = len(json.dumps(value, sort_keys=True, ensure_ascii=False)) <= INLINE_CHARS
    for leaf_path, leaf in [(path, value)] if secret or short else _leaves(value, path):
        if kind == "added":
            yield FieldChange(leaf_path, after=leaf, kind=kind, secret=secret)
        else:
            yield FieldChange(leaf_path, before=leaf, kind=kind, secret=secret)


def _diff_lists(before: list[Any], after: list[Any], path: str, secret: bool) -> Iterator[FieldChange]:
    if _named(before) and _named(after):
        old = {item["name"]: (i, item) for i, item in enumerate(before)}
        new = {item["name"]: (i, item) for i, item in enumerate(after)}
        for name, (i, item) in new.items():
            if name not in old:
                yield from _whole(f"{path}[{i}]", item, "added", secret)
            else:
                yield from diff_values(old[name][1], item, f"{path}[{i}]", secret)
        for name, (i, item) in old.items():
            if name not in new:
                yield from _whole(f"{path}[{i}]", item, "removed", secret)
        common_old = [n for n in old if n in new]
        common_new = [n for n in new if n in old]
        if common_old != common_new:
            yield FieldChange(path, common_old, common_new, "reordered", secret)
        return
    # Anything else (args, tolerations...): align like a text diff so one insertion is one line.
    keys_before = [json.dumps(x, sort_keys=True) for x in before]
    keys_after = [json.dumps(x, sort_keys=True) for x in after]
    matcher = difflib.SequenceMatcher(a=keys_before, b=keys_after, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        if op == "replace" and i2 - i1 == j2 - j1:
            for k in range(i2 - i1):
                yield from diff_values(before[i1 + k], after[j1 + k], f"{path}[{j1 + k}]", secret)
            continue
        for k in range(i1, i2):
            yield from _whole(f"{path}[{k}]", before[k], "removed", secret)
        for k in range(j1, j2):
            yield from _whole(f"{path}[{k}]", after[k], "added", secret)


def _comparable(resource: Mapping[str, Any]) -> dict[str, Any]:
    return {k: resource.get(k) for k in ("parent", "provider", "dependsOn", "options", "inputs") if k in resource}


def _secret_fields(resource: Mapping[str, Any]) -> set[str]:
    """Top-level inputs whose values are secret (Secret data, additionalSecretOutputs)."""
    names = set(resource.get("options", {}).get("additionalSecretOutputs") or ())
    if resource["type"] == "kubernetes:core/v1:Secret":
        names |= {"data", "stringData"}
    return names


def diff_resource(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[FieldChange]:
    changes = list(diff_values(_comparable(before), _comparable(after)))
    secret_paths = {f"inputs.{name}" for name in _secret_fields(before) | _secret_fields(after)}
    for change in changes:
        if any(change.path == p or change.path.startswith((p + ".", p + "[")) for p in secret_paths):
            change.secret = True
    return changes


# ---------------------------------------------------------------------------------------------
# Stack comparison


def _index(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Resources by ``id``; a duplicated id (same type and name under two parents) gets its parent."""
    counts: dict[str, int] = {}
    for r in resources:
        counts[r["id"]] = counts.get(r["id"], 0) + 1
    return {(r["id"] if counts[r["id"]] == 1 else f"{r['id']} (parent {r.get('parent', '')})"): r for r in resources}


def _type_chain(resource: Mapping[str, Any], by_id: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    """The parent types that, with the name, make up the resource's URN."""
    chain = [resource["type"]]
    parent = resource.get("parent", "")
    seen = set()
    while parent in by_id and parent not in seen:
        seen.add(parent)
        chain.append(by_id[parent]["type"])
        parent = by_id[parent].get("parent", "")
    return tuple(reversed(chain))


def _aliases(resource: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(resource.get("options", {}).get("aliases") or ())


def _alias_covers(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """Does ``new`` carry an alias that maps the old URN (name and type) onto it?"""
    for alias in _aliases(new):
        urn = alias.get("urn")
        if urn:
            if urn.endswith(f"::{old['name']}") and old["type"] in urn:
                return True
            continue
        spec = alias.get("spec", {})
        if spec.get("name", new["name"]) == old["name"] and spec.get("type", new["type"]) == old["type"]:
            return True
    return False


def _alias_reparents(resource: Mapping[str, Any]) -> bool:
    return any(
        a.get("urn") or a.get("spec", {}).get("noParent") or a.get("spec", {}).get("parentUrn")
        for a in _aliases(resource)
    )


def _similarity(a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
    return -sum(1 for _ in diff_values(a.get("inputs"), b.get("inputs")))


def diff_stack(stack: str, base: Mapping[str, Any] | None, head: Mapping[str, Any] | None) -> StackDiff:
    if base is None or head is None:
        present = head if base is None else base
        assert present is not None
        kind = "added" if base is None else "removed"
        result = StackDiff(stack, kind)
        if kind == "added":
            grants = sum(1 for r in present["resources"] if r.get("custom", True) and is_iam(r))
            secrets = sum(1 for r in present["resources"] if r.get("custom", True) and is_secret_bearing(r))
            result.flags.append(
                f"stack added: every resource of `{stack}` is created on its first `pulumi up`, "
                f"{grants} IAM/RBAC grant(s) and {secrets} secret-bearing resource(s) among them"
            )
        else:
            result.flags.append(
                f"stack removed: its resources stay in the cloud until `pulumi destroy` runs on `{stack}`; "
                f"deleting the file alone deletes nothing and leaves them unmanaged by CI"
            )
        for r in sorted(present["resources"], key=lambda r: r["id"]):
            result.resources.append(ResourceChange(r["id"], r["type"], kind))
        return result

    old = _index(base["resources"])
    new = _index(head["resources"])
    result = StackDiff(stack, "unchanged")
    removed = [k for k in old if k not in new]
    added = [k for k in new if k not in old]

    # A removal paired with an addition of the same type is a rename or a reparent (new URN).
    renamed: dict[str, str] = {}  # old key -> new key, covered by an alias
    suspect: dict[str, str] = {}  # old key -> new key, no alias: Pulumi deletes and recreates
    for key in removed:
        taken = {*renamed.values(), *suspect.values()}
        candidates = [a for a in added if new[a]["type"] == old[key]["type"] and a not in taken]
        covered = [a for a in candidates if _alias_covers(new[a], old[key])]
        if covered:
            renamed[key] = covered[0]
        elif candidates:
            suspect[key] = max(candidates, key=lambda a: _similarity(old[key], new[a]))

    for key in removed:
        if key in renamed:
            continue
        change = ResourceChange(old[key]["id"], old[key]["type"], "removed")
        if key in suspect:
            successor = new[suspect[key]]
            change.flags.append(
                f"renamed or moved without an alias? `{old[key]['id']}` disappears while `{successor['id']}` of the "
                f"same type appears: Pulumi deletes the old one and creates the new one; if this is a refactor, add "
                f'`aliases=[pulumi.Alias(name="{old[key]["name"]}")]` (or the old parent) to `{successor["name"]}`'
            )
        _flag_removal(old[key], change)
        result.resources.append(change)
    successors = {v: k for k, v in suspect.items()}
    for key in added:
        if key in renamed.values():
            continue
        note = f"replaces `{old[successors[key]]['id']}` (see above)" if key in successors else None
        result.resources.append(_added(new[key], note))
    for key, new_key in renamed.items():
        change = _changed(old[key], new[new_key], old, new)
        change.kind, change.previous_id = "renamed", old[key]["id"]
        change.notes.append(f"renamed from `{old[key]['id']}` with an alias: Pulumi keeps the resource")
        result.resources.append(change)
    for key in old:
        if key in new:
            change = _changed(old[key], new[key], old, new)
            if change.fields or change.flags:
                result.resources.append(change)
            else:
                result.unchanged += 1

    result.outputs = list(diff_values(base.get("outputs", {}), head.get("outputs", {})))
    order = {"removed": 0, "renamed": 1, "changed": 2, "added": 3}
    result.resources.sort(key=lambda r: (not r.flags, order[r.kind], r.id))
    if result.resources or result.outputs:
        result.status = "changed"
    return result


def _added(resource: Mapping[str, Any], note: str | None = None) -> ResourceChange:
    change = ResourceChange(resource["id"], resource["type"], "added")
    if note:
        change.notes.append(note)
    if is_iam(resource):
        change.flags.append("IAM/RBAC grant added: check the role and the member")
    if is_secret_bearing(resource):
        change.flags.append("secret-bearing resource added: check where the value comes from and who can read it")
    secret_inputs = _secret_fields(resource)
    change.fields = [
        FieldChange(path, after=leaf, kind="added", secret=key in secret_inputs or leaf == SECRET)
        for key, value in sorted(resource.get("inputs", {}).items())
        for path, leaf in _leaves(value, _key_path("inputs", key))
    ]
    return change


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every scalar (and empty container) under ``value`` with its path."""
    if isinstance(value, dict) and value:
        for key in sorted(value):
            yield from _leaves(value[key], _key_path(path, key))
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]")
    else:
        yield path, value


def _flag_removal(resource: Mapping[str, Any], change: ResourceChange) -> None:
    if is_protected(resource):
        change.flags.append("protected resource deleted: `pulumi up` fails until protection is removed on purpose")
    elif is_stateful(resource):
        change.flags.append(f"stateful {type_kind(resource['type'])} deleted: its data or workloads go with it")
    if is_iam(resource):
        change.flags.append("IAM/RBAC grant removed: check nothing still needs it")
    if is_secret_bearing(resource):
        change.flags.append("secret-bearing resource deleted")


def _changed(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    old: Mapping[str, Mapping[str, Any]],
    new: Mapping[str, Mapping[str, Any]],
) -> ResourceChange:
    change = ResourceChange(after["id"], after["type"], "changed", diff_resource(before, after))
    if not change.fields:
        return change
    replace_paths = _replacement_fields(before, after, change.fields)
    if replace_paths:
        shown = ", ".join(f"`{p}`" for p in replace_paths[:3]) + (" ..." if len(replace_paths) > 3 else "")
        dbr = " (delete first: it has an explicit name)" if _deleted_before_replaced(before, after) else ""
        if not has_replacement_rule(after["type"]):
            shown += f" (a guess: no rule from the provider of `{after['type']}`)"
        if is_protected(before) or is_stateful(before):
            what = "protected" if is_protected(before) else f"stateful {type_kind(after['type'])}"
            change.flags.append(f"{what} may be replaced{dbr}: {shown} cannot be changed in place")
        else:
            change.notes.append(f"may be replaced{dbr}: {shown} cannot be changed in place")
    opts_before, opts_after = before.get("options", {}), after.get("options", {})
    for option in ("protect", "retainOnDelete"):
        if opts_before.get(option) and not opts_after.get(option):
            change.flags.append(f"`{option}` removed: the resource is no longer guarded against deletion")
    if _type_chain(before, old) != _type_chain(after, new) and not _alias_reparents(after):
        change.flags.append(
            f"parent changed from `{before.get('parent')}` to `{after.get('parent')}` without an alias: the URN "
            f"changes, so Pulumi deletes and recreates it; add `aliases=[pulumi.Alias(parent=...)]`"
        )
    if is_secret_bearing(before) or is_secret_bearing(after) or any(f.secret for f in change.fields):
        change.flags.append("secret-bearing resource changed")
    if is_iam(before):
        change.flags.append("IAM/RBAC changed: check the role and the members")
    return change


def _deleted_before_replaced(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether a replacement deletes the old object first (a gap in service) rather than creating
    the new one beside it. The Kubernetes provider does so only when the new object keeps the old
    name and namespace (provider.go ``Diff``: ``deleteBeforeReplace``); a Helm release never
    (helm_release.go: ``DeleteBeforeReplace: false``). A cloud resource with an explicit name cannot
    exist twice, so Pulumi must delete it first."""
    if after["type"] == _HELM_RELEASE:
        return False
    old, new = before.get("inputs", {}), after.get("inputs", {})
    if after["type"].startswith("kubernetes:"):
        old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
        return bool(new_meta.get("name")) and all(old_meta.get(k) == new_meta.get(k) for k in ("name", "namespace"))
    return bool(new.get("name"))


def diff_renders(
    base: Mapping[str, Mapping[str, Any]],
    head: Mapping[str, Mapping[str, Any]],
    stack_map: Mapping[str, str] | None = None,
) -> list[StackDiff]:
    """Stacks of the same name compared. ``stack_map`` (base stack -> head stack) compares a head
    stack with a base stack of another name instead, shown as ``dev → mine``: a new stack against
    the one it was copied from, or a renamed one, rather than every resource added (and removed)."""
    stack_map = dict(stack_map or {})
    for base_stack, head_stack in stack_map.items():
        for side, name, renders in (("base", base_stack, base), ("head", head_stack, head)):
            if name not in renders:
                raise DiffInputError(
                    f"--stack-map {base_stack}={head_stack}: no stack {name!r} on the {side} side "
                    f"(rendered there: {', '.join(sorted(renders)) or 'none'})"
                )
    base_of = {head_stack: base_stack for base_stack, head_stack in stack_map.items()}
    results = []
    for stack in sorted(set(head) | (set(base) - set(stack_map))):
        if stack in base_of:
            results.append(diff_stack(f"{base_of[stack]} → {stack}", base[base_of[stack]], head[stack]))
        else:
            results.append(diff_stack(stack, base.get(stack), head.get(stack)))
    return results


def diff_dirs(base_dir: Path, head_dir: Path, stack_map: Mapping[str, str] | None = None) -> Report:
    base, head = load_render_dir(base_dir), load_render_dir(head_dir)
    if not base and not head:
        raise DiffInputError(
            f"no rendered stack in {base_dir} or {head_dir}: give the folders `triton-platform render --out DIR` "
            f"wrote (each holds <stack>/resources.json)"
        )
    return Report(str(base_dir), str(head_dir), diff_renders(base, head, stack_map))
