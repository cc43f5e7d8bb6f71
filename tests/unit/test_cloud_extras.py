"""A cloud's components without its extra installed say which extra to install.

The cloud SDKs are optional (``triton-platform[gcp]``, ``[aws]``). Each case runs in a fresh
interpreter where the SDK is blocked (``sys.modules[sdk] = None``, which makes ``import sdk`` raise
ModuleNotFoundError as if it were not installed), so this test's own process keeps its SDKs.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CLOUDS = {"gcp": "pulumi_gcp", "aws": "pulumi_aws"}


def without(sdk: str, code: str) -> subprocess.CompletedProcess[str]:
    program = f"import sys\nsys.modules[{sdk!r}] = None\n{code}"
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_every_component_names_the_extra_when_its_sdk_is_missing(cloud):
    sdk = CLOUDS[cloud]
    probe = f"""
import json
import triton_components.{cloud} as package
from triton_components.{cloud} import catalog  # validation needs no SDK
errors = {{}}
for name in package.__all__:
    try:
        getattr(package, name)
    except ImportError as error:
        errors[name] = [type(error).__name__, error.name, str(error)]
print(json.dumps(errors))
"""
    result = without(sdk, probe)
    assert result.returncode == 0, result.stderr
    errors = json.loads(result.stdout)
    package = f"triton_components.{cloud}"
    exports = __import__(package, fromlist=["__all__"]).__all__
    assert sorted(errors) == sorted(exports), "every export needs the SDK and must say so"
    for name, (kind, missing, message) in errors.items():
        assert (kind, missing) == ("ModuleNotFoundError", sdk)
        assert message == (
            f"{package}.{name} needs the {sdk} package, which is not installed; "
            f"install the '{cloud}' extra: pip install 'triton-platform[{cloud}]'"
        )


def test_the_from_import_a_user_writes_fails_with_the_extra_in_the_message():
    result = without("pulumi_gcp", "from triton_components.gcp import GkeGpuNodePool")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        "ModuleNotFoundError: triton_components.gcp.GkeGpuNodePool needs the pulumi_gcp package, which is "
        "not installed; install the 'gcp' extra: pip install 'triton-platform[gcp]'"
    )


def test_the_other_clouds_sdk_missing_does_not_matter():
    """An AWS-only install imports the AWS components (the GCP SDK is never needed)."""
    result = without("pulumi_gcp", "from triton_components.aws import EksGpuNodeGroup, S3ModelBucket")
    assert result.returncode == 0, result.stderr


def test_a_missing_module_that_is_not_the_sdk_is_not_reworded():
    """Only the SDK's own absence means "install the extra"; any other missing module keeps
    Python's message, so a real bug is not disguised as an install problem."""
    result = without("triton_components.gcp.node_service_account", "from triton_components.gcp import GkeCluster")
    assert result.returncode == 1
    assert "pip install" not in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("ModuleNotFoundError: import of triton_components.gcp.node_service_account halted")
    )
