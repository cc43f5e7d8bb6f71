"""The component package's generated SDKs compile, and a wrong argument type in a program does not.

The TypeScript and Go SDKs are generated from the schema the provider serves, with the generators
``pulumi package add`` uses (``.ci/component-package/build`` builds them from Pulumi's pkg/v3 module, and
installs TypeScript and ``@pulumi/pulumi``); the programs in ``sdk_consumers/`` are the TypeScript
and Go twins of ``examples/triton-yaml``. Nothing here skips: a missing prerequisite fails with the
command that installs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from triton_components.provider import TritonComponentProvider

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / ".ci" / "component-package" / "build"
CONSUMERS = Path(__file__).resolve().parent / "sdk_consumers"


@pytest.fixture(scope="module")
def prerequisites() -> Path:
    """``.ci/component-package/build``'s folder: bin/pulumi-sdkgen and node_modules/ (seconds when warm)."""
    result = subprocess.run(["bash", str(BUILD)], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        pytest.fail(
            f"`bash {BUILD.relative_to(ROOT)}` failed (exit {result.returncode}); run it to see why:\n"
            + result.stderr[-3000:],
            pytrace=False,
        )
    folder = Path(result.stdout.split()[-1])
    for needed in ("bin/pulumi-sdkgen", "node_modules/.bin/tsc"):
        assert (folder / needed).exists(), f"{folder / needed} missing; run `bash {BUILD.relative_to(ROOT)}`"
    return folder


@pytest.fixture(scope="module")
def schema_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("schema") / "schema.json"
    path.write_text(json.dumps(TritonComponentProvider().package_schema))
    return path


def _generate(prerequisites: Path, language: str, schema_file: Path, out: Path) -> None:
    result = subprocess.run(
        [str(prerequisites / "bin" / "pulumi-sdkgen"), language, str(schema_file), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr


def _go(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # Offline: .ci/component-package/build filled the module cache; the consumer's go.sum pins every module.
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOPROXY": "off", "GOFLAGS": "-mod=readonly", "CGO_ENABLED": "0"}
    return subprocess.run(["go", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)


def _tsc(prerequisites: Path, project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(prerequisites / "node_modules" / "typescript" / "bin" / "tsc"), "--noEmit", "-p", str(project)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=1200,
    )


def test_go_sdk_and_program_build_and_a_wrong_argument_type_does_not(prerequisites, schema_file, tmp_path):
    module = tmp_path / "go"
    shutil.copytree(CONSUMERS / "go", module)
    _generate(prerequisites, "go", schema_file, module)  # writes module/tritonplatform/
    assert (module / "tritonplatform" / "tritonServer.go").is_file()

    vetted = _go("vet", "./...", cwd=module)
    assert vetted.returncode == 0, vetted.stderr
    built = _go("build", "-o", str(tmp_path / "consumer"), "./consumer", cwd=module)
    assert built.returncode == 0, built.stderr

    program = module / "consumer" / "main.go"
    good = program.read_text()
    assert "GpusPerReplica: &gpus}" in good
    program.write_text(good.replace("GpusPerReplica: &gpus}", 'GpusPerReplica: pulumi.String("one")}'))
    broken = _go("build", "-o", str(tmp_path / "broken"), "./consumer", cwd=module)
    assert broken.returncode != 0
    assert 'cannot use pulumi.String("one")' in broken.stderr and "as *int value" in broken.stderr, broken.stderr


def test_typescript_sdk_and_program_type_check_and_a_wrong_argument_type_does_not(prerequisites, schema_file, tmp_path):
    project = tmp_path / "typescript"
    shutil.copytree(CONSUMERS / "typescript", project)
    (project / "node_modules").symlink_to(prerequisites / "node_modules", target_is_directory=True)
    _generate(prerequisites, "nodejs", schema_file, project / "sdk")
    assert (project / "sdk" / "tritonServer.ts").is_file()

    sdk = _tsc(prerequisites, project / "sdk")  # the SDK as its own package.json builds it
    assert sdk.returncode == 0, sdk.stdout
    checked = _tsc(prerequisites, project)
    assert checked.returncode == 0, checked.stdout

    program = project / "index.ts"
    good = program.read_text()
    assert "replicas: 2, gpusPerReplica: 1 }" in good
    program.write_text(good.replace("replicas: 2, gpusPerReplica: 1 }", 'replicas: "two", gpusPerReplica: 1 }'))
    broken = _tsc(prerequisites, project)
    assert broken.returncode != 0
    assert "index.ts(" in broken.stdout and "Type 'string' is not assignable to type 'number'" in broken.stdout, (
        broken.stdout
    )
