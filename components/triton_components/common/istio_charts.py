"""Istio's charts as its source tree lays them out: shared by ``IstioInstallation`` and the config
check of ``mesh.install.chartFolder`` (which may not import Pulumi resources)."""

from __future__ import annotations

from pathlib import Path

#: Chart name in Istio's Helm repository -> its folder in Istio's source tree (``manifests/charts``).
CHART_FOLDERS = {
    "base": "base",
    "istiod": "istio-control/istio-discovery",
    "cni": "istio-cni",
    "gateway": "gateway",
}


def missing_charts(folder: str) -> list[str]:
    """The chart folders ``folder`` lacks (``<folder>/<chart folder>/Chart.yaml``); a relative folder
    is taken from the working directory, which is the project folder under ``pulumi``."""
    return [sub for sub in CHART_FOLDERS.values() if not (Path(folder) / sub / "Chart.yaml").is_file()]
