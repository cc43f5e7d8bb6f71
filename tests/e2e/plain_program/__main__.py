"""The benchmark's floor: the local stack's Kubernetes objects as plain pulumi_kubernetes resources.

No config model, no components, no Outputs between resources: each object of the offline render
(``objectsFile``) becomes one typed resource (``pulumi_kubernetes.apps.v1.Deployment(...)``, a
``CustomResource`` for Istio, KEDA and Prometheus Operator kinds), namespaced objects depending on
their Namespace. `pulumi preview`/`up` of this program against the same cluster is what the
local stack's preview/up time is compared with (benchmarks/e2e-results.json).
"""

import importlib
import json
import re

import pulumi
import pulumi_kubernetes as k8s

with open(pulumi.Config().require("objectsFile")) as objects_file:
    objects = json.load(objects_file)
namespaces: dict[str, pulumi.Resource] = {}


def typed_class(api_version: str, kind: str):
    group, _, version = api_version.rpartition("/")
    module = {"": "core", "apps": "apps", "policy": "policy", "networking.k8s.io": "networking"}.get(group)
    if module is None:
        return None
    return getattr(importlib.import_module(f"pulumi_kubernetes.{module}.{version}"), kind)


def declare(obj: dict) -> None:
    meta = obj["metadata"]
    name = "-".join(p for p in (obj["kind"].lower(), meta.get("namespace", ""), meta["name"]) if p)
    namespace = meta.get("namespace")
    opts = pulumi.ResourceOptions(depends_on=[namespaces[namespace]] if namespace in namespaces else [])
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata", "status")}
    if obj["kind"] == "Secret" and "stringData" in body:
        body["stringData"] = dict.fromkeys(body["stringData"], "benchmark")
    cls = typed_class(obj["apiVersion"], obj["kind"])
    if cls is None:
        k8s.apiextensions.CustomResource(
            name, api_version=obj["apiVersion"], kind=obj["kind"], metadata=meta, spec=body.get("spec"), opts=opts
        )
        return
    arguments = {re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower(): v for k, v in body.items()}
    resource = cls(name, metadata=meta, opts=opts, **arguments)
    if obj["kind"] == "Namespace":
        namespaces[meta["name"]] = resource


for obj in sorted(objects, key=lambda o: o["kind"] != "Namespace"):
    declare(obj)
