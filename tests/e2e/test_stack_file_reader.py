"""Our stack-file reader reads what the Pulumi engine reads.

For each stack file of the corpus (``tests/support/stack_files.py``: booleans in every spelling,
numbers in every notation and as strings, nulls, anchors and merges, multi-line strings,
timestamps, keys without a namespace or not text, secure values at the top and nested) and for every
committed ``Pulumi.<stack>.yaml``, the real CLI (``pulumi config --json --show-secrets``) and a
running program (``pulumi preview`` of a program that writes down the config it was given) are
compared with ``read_stack_file``: the same keys, the same values once decoded as the program
decodes them (secrets masked), the same keys secret, and the same validation outcome. No cluster:
only the CLI and its Python language host from the e2e toolchain.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e_pulumi import isolated_env
from e2e_toolchain import ROOT, Toolchain, require_toolchain
from support.stack_files import CASES, SECRETS, secrets_of, stack_text
from triton_platform.config import ConfigError, load_settings
from triton_platform.config.stack_file import SECRET_PLACEHOLDER, read_stack_file

pytestmark = pytest.mark.e2e

#: The program: it records the config the engine hands it, as our loader reads it in a stack.
PROGRAM = """
import json, os
import pulumi
from pulumi.runtime import config as runtime_config

config = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
secret = sorted(k for k in config
                if pulumi.runtime.is_config_secret(k) or k in runtime_config.get_config_secret_keys_env())
with open(os.environ["TRITON_CONFIG_DUMP"], "w") as out:
    json.dump({"config": config, "secret": secret}, out)
"""


class ConfigCli:
    """The real CLI on a throwaway project named like ours, its program the recorder above."""

    def __init__(self, toolchain: Toolchain, workdir: Path) -> None:
        self.toolchain = toolchain
        self.project = workdir / "project"
        (self.project / "program").mkdir(parents=True)
        (self.project / "program" / "__main__.py").write_text(PROGRAM)
        # The same project name as ours (keys without a namespace get it), run by this virtualenv.
        name = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["name"]
        (self.project / "Pulumi.yaml").write_text(
            f"name: {name}\nmain: program/\nruntime:\n  name: python\n  options:\n    virtualenv: {sys.prefix}\n"
        )
        (workdir / "state").mkdir()
        self.dump = workdir / "dump.json"
        self.env = isolated_env(
            toolchain.bin,
            workdir / "home",
            os.urandom(16).hex(),
            PULUMI_BACKEND_URL=(workdir / "state").as_uri(),
            TRITON_CONFIG_DUMP=str(self.dump),
        )

    def run(self, *args: str) -> str:
        result = subprocess.run(
            [self.toolchain["pulumi"], *args, "--non-interactive"],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"pulumi {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def stack(self, name: str, secrets: list[str]) -> tuple[Path, str, dict[str, str]]:
        """A new stack; its file's encryption salt line and a real ciphertext of each named secret."""
        self.run("stack", "init", name)
        self.run("stack", "select", name)
        for secret in secrets:
            self.run("config", "set", "--secret", f"cipher-{secret}", SECRETS[secret])
        path = self.project / f"Pulumi.{name}.yaml"
        written = yaml.safe_load(path.read_text())
        ciphers = {s: written["config"][f"triton-platform:cipher-{s}"]["secure"] for s in secrets}
        return path, f"encryptionsalt: {written['encryptionsalt']}\n", ciphers

    def engine_view(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """What ``pulumi config --json --show-secrets`` says and what the running program received."""
        shown = json.loads(self.run("config", "--json", "--show-secrets"))
        self.dump.unlink(missing_ok=True)
        self.run("preview")
        return shown, json.loads(self.dump.read_text())


@pytest.fixture(scope="module")
def cli() -> Iterator[ConfigCli]:
    with tempfile.TemporaryDirectory(prefix="triton-e2e-config-") as folder:
        workdir = Path(folder)
        toolchain = require_toolchain(workdir / "toolchain-build.log")
        yield ConfigCli(toolchain, workdir)


def decoded(text: str) -> Any:
    """A config value as the program's loader decodes it (``namespace_values``): objects from JSON."""
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


def masked(value: Any) -> Any:
    """The engine's decrypted value with each secret plaintext as the reader's placeholder."""
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return SECRET_PLACEHOLDER if value in SECRETS.values() else value


def outcome(config: dict[str, str], secret_keys: list[str]) -> Any:
    """The validated settings, or every problem (in key order, which the engine does not keep)."""
    try:
        return load_settings(config, "Pulumi.corpus.yaml", frozenset(secret_keys)).model_dump()
    except ConfigError as error:
        return sorted(error.problems)


def compare(cli: ConfigCli, path: Path) -> None:
    ours, our_secrets = read_stack_file(path)
    shown, program = cli.engine_view()
    engine = {k: masked(decoded(v)) for k, v in program["config"].items()}
    assert {k: decoded(v) for k, v in ours.items()} == engine
    # `pulumi config --json` agrees with what the program got.
    assert {k: v.get("value") for k, v in shown.items()} == program["config"]
    assert sorted(our_secrets) == program["secret"] == sorted(k for k, v in shown.items() if v["secret"])
    masked_program = {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in engine.items()}
    assert outcome(ours, our_secrets) == outcome(masked_program, program["secret"])


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_reader_reads_each_corpus_file_as_the_pulumi_engine_does(cli: ConfigCli, case: str) -> None:
    path, salt, ciphers = cli.stack(f"corpus-{case}", secrets_of(case))
    path.write_text(salt + stack_text(case, ciphers))
    compare(cli, path)


@pytest.mark.parametrize("stack", sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml")))
def test_the_reader_reads_each_committed_stack_as_the_pulumi_engine_does(cli: ConfigCli, stack: str) -> None:
    committed = (ROOT / f"Pulumi.{stack}.yaml").read_text()
    _, secret_keys = read_stack_file(ROOT / f"Pulumi.{stack}.yaml")
    path, salt, ciphers = cli.stack(f"committed-{stack}", ["key"] if secret_keys else [])
    # The committed ciphertexts belong to another passphrase: each becomes one of this stack's.
    document = yaml.safe_load(committed)
    for key in secret_keys:
        committed = committed.replace(document["config"][key]["secure"], ciphers["key"])
    path.write_text(committed + "\n" + salt)
    compare(cli, path)
