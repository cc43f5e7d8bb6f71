"""Every upstream version the library deploys, pinned in one visible place.

Bump these deliberately, in their own commit, after reading the upstream release notes.
The golden renders under ``tests/golden`` show every place a bump lands.
"""

from __future__ import annotations

#: NVIDIA Triton Inference Server container (NGC ``nvcr.io/nvidia/tritonserver``).
#: Release notes: https://docs.nvidia.com/deeplearning/triton-inference-server/release-notes/
#: 26.10 is the newest release whose notes we read. It is well above the security floor below.
TRITON_IMAGE_REPOSITORY = "nvcr.io/nvidia/tritonserver"
TRITON_IMAGE_TAG = "26.10-py3"

#: Oldest Triton release the config validation accepts. 25.07 fixes the Python-backend RCE chain
#: and HTTP stack overflows of NVIDIA security bulletin 5687 (CVE-2025-23310/23311/23317/23319/
#: 23320/23334); bulletin 5535 (CVE-2024-0087/0088/0100) was fixed in 24.04.
TRITON_MINIMUM_RELEASE = (25, 7)

#: Oldest GPU each Triton release runs on (CUDA compute capability), by first release: the "GPU
#: Requirements" section of each release's notes. 25.03 and 25.08 (CUDA 13.0) say "compute capability
#: 7.5 and later" (Turing onwards: no Volta V100, no Pascal P100/P4); 24.04 and earlier say 6.0. The
#: releases between 24.05 and 25.02 are not verified here and keep 6.0. Config validation refuses a GPU
#: below the floor of any image a stack runs (``triton.imageTag`` and every canary ``imageTag``).
TRITON_COMPUTE_CAPABILITY_FLOORS: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = (
    ((25, 3), (7, 5)),
    ((0, 0), (6, 0)),
)


def triton_compute_capability_floor(release: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """``(first release of that floor, minimum compute capability)`` for a Triton ``(year, month)`` release."""
    return next((first, floor) for first, floor in TRITON_COMPUTE_CAPABILITY_FLOORS if release >= first)


#: KEDA Helm chart (https://kedacore.github.io/charts, chart ``keda``; chart version = KEDA version).
#: 2.20.2 matches the ScaledObject CRD schema the tests validate against
#: (``shared/crd-schemas/keda``, kedacore/keda tag v2.20.2).
KEDA_CHART_REPOSITORY = "https://kedacore.github.io/charts"
KEDA_CHART_VERSION = "2.20.2"
#: Oldest KEDA the generated ScaledObjects work with: fallback for ``Value`` triggers (the queue-time
#: trigger) arrived in 2.18.0 (kedacore/keda#6655); older admission webhooks reject such objects.
KEDA_MINIMUM_VERSION = (2, 18)

#: kube-prometheus-stack Helm chart (https://prometheus-community.github.io/helm-charts): Prometheus
#: Operator, Prometheus, Alertmanager, Grafana, kube-state-metrics. 88.2.0 ships Prometheus Operator
#: v0.93.0, the release whose ServiceMonitor/PodMonitor/PrometheusRule CRD schemas the tests
#: validate against (``shared/crd-schemas/prometheus-operator``).
KUBE_PROMETHEUS_STACK_CHART_REPOSITORY = "https://prometheus-community.github.io/helm-charts"
KUBE_PROMETHEUS_STACK_CHART_VERSION = "88.2.0"

#: Istio from its official Helm charts (https://istio-release.storage.googleapis.com/charts, charts
#: ``base``, ``istiod``, ``cni``, ``gateway``; chart version = Istio version), installed only when a
#: stack sets ``mesh.install.enabled``. 1.30.5 is the newest patch whose notes we read; 1.30.4 fixed
#: Envoy RBAC path-matching bypasses (CVE-2026-73551, CVE-2026-73553) that path-based
#: AuthorizationPolicies depend on. The CRD schemas the tests validate against are istio/api 1.30.3
#: (``shared/crd-schemas/istio``); re-copy them when moving to a new minor release.
ISTIO_CHART_REPOSITORY = "https://istio-release.storage.googleapis.com/charts"
ISTIO_VERSION = "1.30.5"

#: NVIDIA device plugin Helm chart (EKS GPU nodes advertise ``nvidia.com/gpu`` through it).
#: Chart repository: https://nvidia.github.io/k8s-device-plugin (NVIDIA/k8s-device-plugin releases).
NVIDIA_DEVICE_PLUGIN_CHART_REPOSITORY = "https://nvidia.github.io/k8s-device-plugin"
NVIDIA_DEVICE_PLUGIN_CHART_VERSION = "0.18.2"
