"""The layout is checked by tools, not by memory.

``lint-imports`` (contracts in pyproject.toml, run by ``make test``) enforces the layers between
packages. This module adds what import-linter does not: no import cycle between any two modules of
``components/`` and ``platform/`` (``TYPE_CHECKING`` imports included), the stack program importing
only the platform, and the public names of the library staying importable where users import them.
"""

from __future__ import annotations

import ast
import importlib

import grimp
import pytest

from support import ROOT

PACKAGES = ("triton_components", "triton_platform")

#: The public API as of the move into subpackages: user programs import these names from these
#: modules, so each must keep working. Extend it when a name is added; never shrink it silently.
PUBLIC_NAMES = {
    "triton_components": {
        "AlertGroupArgs",
        "AlertThresholdsArgs",
        "CanaryArgs",
        "CanaryRouteArgs",
        "CredentialsFileArgs",
        "CredentialsSecretArgs",
        "DashboardArgs",
        "FallbackArgs",
        "GatewayMonitorArgs",
        "GatewayTlsArgs",
        "IstioInstallation",
        "IstioInstallationArgs",
        "JwtArgs",
        "KedaAddonArgs",
        "MeshSecurity",
        "MeshSecurityArgs",
        "ModelGroupArgs",
        "MonitoringAddons",
        "MonitoringAddonsArgs",
        "OutlierDetectionArgs",
        "PrometheusStackArgs",
        "RetryArgs",
        "RouteGroupArgs",
        "ScaleToZeroArgs",
        "ScaleUpArgs",
        "TritonAlerts",
        "TritonAlertsArgs",
        "TritonAutoscaler",
        "TritonAutoscalerArgs",
        "TritonDashboard",
        "TritonDashboardArgs",
        "TritonModelGroup",
        "TritonModelGroupArgs",
        "TritonMonitoring",
        "TritonMonitoringArgs",
        "TritonRouting",
        "TritonRoutingArgs",
        "TritonServer",
        "TritonServerArgs",
    },
    "triton_components.gcp": {
        "GcpModelReaderIdentity",
        "GcpModelReaderIdentityArgs",
        "GcsModelBucket",
        "GcsModelBucketArgs",
        "GkeCluster",
        "GkeClusterArgs",
        "GkeGpuNodePool",
        "GkeGpuNodePoolArgs",
        "GkeSecretsKey",
        "GkeSecretsKeyArgs",
    },
    "triton_components.aws": {
        "AwsModelReaderIdentity",
        "AwsModelReaderIdentityArgs",
        "EksGpuNodeGroup",
        "EksGpuNodeGroupArgs",
        "S3ModelBucket",
        "S3ModelBucketArgs",
    },
}


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every strongly connected set of two or more modules (Tarjan), each sorted, the list sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in graph.modules:
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return sorted(cycles)


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for importer, imported in (("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")):
        graph.add_import(importer=importer, imported=imported)
    assert import_cycles(graph) == [["p.a", "p.b", "p.c"]]


def test_no_module_of_components_or_platform_is_in_an_import_cycle():
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False)
    assert len(graph.modules) > 40, "the graph must see the whole tree"
    assert import_cycles(graph) == []


def test_the_stack_program_imports_only_the_platform():
    tree = ast.parse((ROOT / "stacks" / "__main__.py").read_text())
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert imported == {"pulumi", "triton_platform"}


@pytest.mark.parametrize("module", sorted(PUBLIC_NAMES))
def test_public_names_stay_importable(module):
    imported = importlib.import_module(module)
    assert PUBLIC_NAMES[module] <= set(imported.__all__), PUBLIC_NAMES[module] - set(imported.__all__)
    for name in sorted(PUBLIC_NAMES[module]):
        assert getattr(imported, name) is not None


def test_every_component_module_lives_in_a_concern_folder():
    """A reader finds a resource's code from folder names: no flat modules beside the subpackages."""
    package = ROOT / "components" / "triton_components"
    assert sorted(p.name for p in package.glob("*.py")) == ["__init__.py"]
    assert {p.name for p in package.iterdir() if p.is_dir() and p.name != "__pycache__"} == {
        "aws",
        "common",
        "gcp",
        "mesh",
        "observability",
        "provider",
        "serving",
    }
