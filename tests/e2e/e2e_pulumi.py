"""Drive the real Pulumi CLI on this project, the way a user runs it.

The project is a copy of the working tree (tracked and untracked, not ignored files) in the e2e
cache, so the uv toolchain's ``.venv`` there survives between runs and the developer's own
``.venv`` is never re-synced under the running test session. The CLI, the language host and the
Kubernetes provider come from ``.ci/toolchain/build``; state goes to a ``file://`` backend in a
temporary folder, secrets use a passphrase, and no plugin is ever downloaded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2e_toolchain import Toolchain

#: The stack the suite deploys: the committed on-premises / bring-your-own-cluster stack.
STACK = "local"
#: Kept between runs of the copy: the program's virtualenv (uv) and the policy pack's (pip).
KEPT = (".venv", "policy/venv")


class PulumiFailed(Exception):
    pass


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


def isolated_env(tools: Path, home: Path, passphrase: str, **extra: str) -> dict[str, str]:
    """The environment of one isolated Pulumi CLI: nothing of the developer's Pulumi, virtualenv or
    kubeconfig leaks in, no update check, no plugin download (nothing outside is reachable)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "VIRTUAL_ENV", "KUBE"))}
    env.update(
        PATH=os.pathsep.join([str(tools), env.get("PATH", "/usr/bin:/bin")]),
        PULUMI_HOME=str(home),
        PULUMI_CONFIG_PASSPHRASE=passphrase,
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        PULUMI_SELF_MANAGED_STATE_NO_LEGACY_WARNING="true",
        **extra,
    )
    return env


def project_files(root: Path) -> list[str]:
    """What a clone with the developer's uncommitted work has: tracked and untracked, not ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted(p for p in listed.split("\0") if p and (root / p).is_file())


def copy_project(root: Path, target: Path) -> None:
    """Mirror the working tree into ``target``, keeping only the virtualenvs of a previous run."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in target.iterdir():
        if entry.name == ".venv":
            continue
        if entry.name == "policy" and entry.is_dir():
            for inner in entry.iterdir():
                if inner.name != "venv":
                    shutil.rmtree(inner) if inner.is_dir() and not inner.is_symlink() else inner.unlink()
            continue
        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    for relative in project_files(root):
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, destination)


@dataclass
class PulumiCli:
    toolchain: Toolchain
    workdir: Path
    project: Path
    kubeconfig: Path
    passphrase: str = field(default_factory=lambda: os.urandom(16).hex())
    timings: dict[str, float] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.home = self.workdir / "pulumi-home"
        self.state_dir = self.workdir / "state"
        self.tools = self.workdir / "tools"
        for folder in (self.home, self.state_dir, self.tools):
            folder.mkdir(parents=True, exist_ok=True)
        # uv comes from the project's own install (the `e2e` extra); only it joins PATH, not the
        # developer virtualenv's python.
        uv = Path(sys.executable).parent / "uv"
        if not uv.exists():
            found = shutil.which("uv")
            if found is None:
                raise PulumiFailed(
                    "uv is not installed; it comes with the project's e2e extra: "
                    "`.venv/bin/pip install -r requirements.lock` (make install)"
                )
            uv = Path(found)
        link = self.tools / "uv"
        if not link.exists():
            link.symlink_to(uv)

    @property
    def env(self) -> dict[str, str]:
        # The CLI runs by absolute path and finds its Python host next to itself (a bundled
        # plugin); every provider comes from PULUMI_HOME (`plugin install --file`), never PATH.
        return isolated_env(
            self.tools,
            self.home,
            self.passphrase,
            PULUMI_IGNORE_AMBIENT_PLUGINS="true",
            KUBECONFIG=str(self.kubeconfig),
            NO_COLOR="1",
        )

    def run(
        self,
        *args: str,
        label: str | None = None,
        check: bool = True,
        cwd: Path | None = None,
        timeout: float = 600,
        input: str | None = None,
    ) -> Result:
        command = [self.toolchain["pulumi"], *args]
        start = time.monotonic()
        completed = subprocess.run(
            command, cwd=cwd or self.project, env=self.env, capture_output=True, text=True, timeout=timeout, input=input
        )
        result = Result(list(args), completed.returncode, completed.stdout, completed.stderr, time.monotonic() - start)
        shown = ["[secret]" if i and args[i - 1] == "adminApiKey" else a for i, a in enumerate(args)]
        self.log.append(f"$ pulumi {' '.join(shown)}  ({result.seconds:.1f} s, exit {result.returncode})")
        if label:
            self.timings[label] = round(result.seconds, 2)
        if check and result.returncode != 0:
            raise PulumiFailed(
                f"`pulumi {' '.join(args)}` exited {result.returncode} after {result.seconds:.0f} s:\n"
                f"{_tail(result.output, 60)}"
            )
        return result

    # ---------------------------------------------------------------- setup

    def setup(self) -> None:
        """Backend, provider plugin, dependencies, stack: what a user does once per machine and stack."""
        self.run("login", f"file://{self.state_dir}")
        versions = self.toolchain.versions
        self.run(
            "plugin",
            "install",
            "resource",
            "kubernetes",
            "v" + versions["PULUMI_KUBERNETES_PLUGIN_VERSION"],
            "--file",
            self.toolchain["pulumi-resource-kubernetes"],
        )
        self.install_dependencies()
        self.run("stack", "init", STACK, "--secrets-provider", "passphrase", "--non-interactive")
        # The admin key as a Pulumi secret, as the deploy steps (docs/deploy.md) set it (no random provider).
        self.run("config", "set", "--secret", "adminApiKey", os.urandom(24).hex(), "--stack", STACK)

    def install_dependencies(self) -> None:
        """``pulumi install``: with ``toolchain: uv`` the language host runs ``uv sync`` into ``.venv``."""
        self.run("install", label="install dependencies", timeout=1800)

    def config_set(self, path: str, value: str) -> None:
        self.run("config", "set", "--path", f"triton-platform:{path}", value, "--stack", STACK)

    # ---------------------------------------------------------------- operations

    def preview(self, *extra: str, label: str | None = None, check: bool = True) -> Result:
        return self.run("preview", "--stack", STACK, "--non-interactive", *extra, label=label, check=check)

    def preview_steps(self, *extra: str, label: str | None = None) -> list[Step]:
        result = self.preview("--json", "--diff", *extra, label=label)
        return steps_of(result.json())

    def up(self, *extra: str, label: str | None = None, check: bool = True) -> Result:
        return self.run(
            "up",
            "--stack",
            STACK,
            "--yes",
            "--skip-preview",
            "--non-interactive",
            "--diff",
            *extra,
            label=label,
            check=check,
        )

    def outputs(self) -> dict[str, Any]:
        return dict(self.run("stack", "output", "--stack", STACK, "--json", "--show-secrets").json())

    def state(self) -> list[dict[str, Any]]:
        exported = self.run("stack", "export", "--stack", STACK).json()
        return list(exported["deployment"].get("resources") or [])


@dataclass(frozen=True)
class Step:
    op: str
    urn: str

    @property
    def type(self) -> str:
        return self.urn.split("::")[2].split("$")[-1]

    @property
    def name(self) -> str:
        return self.urn.split("::")[3]

    @property
    def key(self) -> tuple[str, str]:
        return self.type, self.name


#: Engine step operations that stand for one resource's replacement.
REPLACE_OPS = {"replace", "create-replacement", "delete-replaced"}


def steps_of(preview: dict[str, Any]) -> list[Step]:
    return [Step(step["op"], step["urn"]) for step in preview.get("steps", [])]


def changes(steps: list[Step]) -> dict[tuple[str, str], str]:
    """``{(type, name): create|update|replace|delete}`` for every resource the engine would touch."""
    found: dict[tuple[str, str], str] = {}
    for step in steps:
        if step.op in ("same", "read", "refresh"):
            continue
        if step.type.startswith("pulumi:pulumi:Stack"):
            continue
        op = "replace" if step.op in REPLACE_OPS else step.op
        if found.get(step.key) == "replace":
            continue
        found[step.key] = op
    return found


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def redact(text: str, secret: str) -> str:
    return re.sub(re.escape(secret), "[secret]", text) if secret else text
