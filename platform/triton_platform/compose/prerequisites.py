"""What a stack needs of a cluster it does not set up itself, checked against that cluster at
``pulumi preview``, before anything is created: each message names the stack-file key, its value,
and how to fix the cluster or what to set instead. Each cloud checks the cluster it looks up in its
own folder (``clouds/<cloud>/preview.py``: identity and NetworkPolicy enforcement); these checks are
the cloud-neutral ones.

On a cluster where the stack does not install them, what the cluster runs is read too:

* Istio's sidecar injector (``mesh.install.enabled: false``): the Triton namespace enforces Pod
  Security ``restricted``, which refuses the ``istio-init`` container (NET_ADMIN, NET_RAW, root)
  the injector adds unless Istio's CNI node agent sets up the traffic redirection
  (``pilot.cni.enabled`` in the injector's values, the ``istio-sidecar-injector`` ConfigMap, or
  ``istio-sidecar-injector-<rev>`` for ``mesh.revision``). Those values decide what the injector writes
  into every pod, so they are what is checked. The Kubernetes provider reads an object only by
  ``get``, which fails the whole preview when it is missing; docs/deploy.md says what that error means.
* KEDA's version (autoscaling without ``observability.addons.keda``): the ScaledObjects use
  ``fallback`` with ``Value``-type triggers, which KEDA accepts from 2.18. Its Helm chart and its
  release manifests both label the ScaledObject CRD with ``app.kubernetes.io/version``. An older
  version is refused; a CRD without the label is a warning, not an error: KEDA's admission webhook
  (on by default) rejects such ScaledObjects at ``pulumi up`` anyway, and refusing a working KEDA for
  a missing label would leave no way forward but to relabel it.

A failed check raises ``PrerequisiteError``, a ``RunError``: Pulumi prints the message, no traceback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from triton_components.common import versions

from ..clouds.seam import verified
from ..config.base import Problem
from ..config.settings import PlatformSettings

#: The injector's ConfigMap of Istio's default revision (the ``istio-injection: enabled`` label's);
#: a revision's is this name with ``-<revision>`` appended.
ISTIO_INJECTOR_CONFIG_MAP = "istio-system/istio-sidecar-injector"
#: The CRD KEDA's chart and release manifests label with the KEDA version.
KEDA_CRD = "scaledobjects.keda.sh"
KEDA_VERSION_LABEL = "app.kubernetes.io/version"


def cluster_checks(settings: PlatformSettings, provider: k8s.Provider | None) -> list[pulumi.Output[Any]]:
    """Read what the cluster runs of what this stack does not install; each Output fails the program
    with a ``PrerequisiteError`` when it falls short. Everything in the cluster waits on them."""
    opts = pulumi.ResourceOptions(provider=provider) if provider is not None else None
    checks: list[pulumi.Output[Any]] = []
    if settings.mesh.enabled and not settings.mesh.install.enabled:
        config_map = istio_injector_config_map(settings.mesh.revision)
        injector = k8s.core.v1.ConfigMap.get("istio-sidecar-injector", config_map, opts=opts)
        checks.append(
            injector.data.apply(lambda data: verified(injector, istio_injector_problems(data, config_map), settings))
        )
    autoscaled = any(g.autoscaling is not None for g in settings.model_groups)
    if settings.observability.enabled and autoscaled and not settings.observability.addons.keda:
        crd = k8s.apiextensions.v1.CustomResourceDefinition.get("keda-scaledobjects-crd", KEDA_CRD, opts=opts)
        checks.append(
            crd.metadata.apply(lambda meta: verified(crd, keda_problems(meta, settings, pulumi.log.warn), settings))
        )
    return checks


def istio_injector_config_map(revision: str | None) -> str:
    """``namespace/name`` of the injector ConfigMap of ``revision`` (None: the default revision)."""
    return ISTIO_INJECTOR_CONFIG_MAP if revision is None else f"{ISTIO_INJECTOR_CONFIG_MAP}-{revision}"


def istio_injector_problems(
    data: Mapping[str, str] | None, config_map: str = ISTIO_INJECTOR_CONFIG_MAP
) -> list[Problem]:
    """Problems of the cluster's sidecar injector, from its ConfigMap's ``data``."""
    try:
        values = json.loads((data or {}).get("values") or "{}")
    except json.JSONDecodeError:
        values = {}
    # Istio 1.22+ reads pilot.cni.enabled; istio_cni.enabled is the older spelling it still honours.
    if _flag(values, "pilot", "cni", "enabled") or _flag(values, "istio_cni", "enabled"):
        return []
    return [
        Problem(
            ("mesh", "install", "enabled"),
            False,
            "the cluster's Istio injects the istio-init container (NET_ADMIN and NET_RAW as root; "
            f"{config_map} has no pilot.cni.enabled), which Pod Security restricted refuses in the "
            "Triton namespace, so no Triton pod would start: install Istio's CNI node agent (Helm chart istio/cni, "
            "or ambient mode) and set pilot.cni.enabled=true on istiod, or set mesh.install.enabled: true",
        )
    ]


def _flag(values: Any, *path: str) -> bool:
    for part in path:
        values = values.get(part) if isinstance(values, dict) else None
    return values is True or (isinstance(values, str) and values.lower() == "true")


def keda_problems(metadata: Any, settings: PlatformSettings, warn: Any = None) -> list[Problem]:
    """Problems of the cluster's KEDA, from the ScaledObject CRD's metadata; ``warn`` gets the line
    saying the version is unknown, when it is."""
    labels = (metadata.get("labels") if isinstance(metadata, dict) else getattr(metadata, "labels", None)) or {}
    label = labels.get(KEDA_VERSION_LABEL)
    minimum = "%d.%d" % versions.KEDA_MINIMUM_VERSION
    found = re.match(r"^v?(\d+)\.(\d+)", label or "")
    if found is None:
        if warn is not None:
            warn(
                f"The cluster's KEDA version is unknown (CRD {KEDA_CRD} has no {KEDA_VERSION_LABEL} label"
                + (f", it says {label!r}" if label else "")
                + f"); this stack's ScaledObjects need KEDA {minimum} or newer (fallback with Value-type triggers). "
                "Check the keda-operator image tag: `kubectl get deploy -A -l app.kubernetes.io/name=keda-operator "
                "-o jsonpath='{..image}'`"
            )
        return []
    if (int(found.group(1)), int(found.group(2))) >= versions.KEDA_MINIMUM_VERSION:
        return []
    first = next(i for i, g in enumerate(settings.model_groups) if g.autoscaling is not None)
    return [
        Problem(
            ("modelGroups", first, "autoscaling"),
            "set",
            f"the cluster's KEDA is {label} ({KEDA_VERSION_LABEL} of CRD {KEDA_CRD}), but this stack's ScaledObjects "
            f"use fallback with Value-type triggers, which KEDA accepts from {minimum}: upgrade KEDA to {minimum} or "
            f"newer (this platform pins {versions.KEDA_CHART_VERSION}: `helm upgrade keda kedacore/keda --namespace "
            f"<its namespace> --version {versions.KEDA_CHART_VERSION}`), or remove autoscaling",
        )
    ]
