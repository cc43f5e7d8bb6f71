"""Bad input before the config model: a stack file that is not a readable, well-formed stack file.

Every such failure is one message that names the file (and the line where the parser knows it),
the command exits non-zero, and the other stacks are still validated or rendered. Nothing reaches
a user as a traceback, and a failed render never leaves an older render in place looking current.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT
from triton_platform.cli import main

GOOD = "config:\n  triton-platform:environment: dev\n  triton-platform:triton:\n    modelRepository: gs://models/repo\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder with Pulumi.yaml and the stack program, the current directory."""
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process: an uncaught exception (a traceback for the user) fails the test."""
    try:
        code = main(list(argv))
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
        if isinstance(stop.code, str):
            print(stop.code, file=sys.stderr)
    out, err = capsys.readouterr()
    return code, out, err


BROKEN = "Pulumi.broken.yaml"

CORPUS = {
    "unclosed bracket": (
        "config:\n  triton-platform:environment: [dev\n",
        "Cannot read Pulumi.broken.yaml: line 3, column 1: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence at line 2, column 32)",
    ),
    "unclosed quote": (
        "config:\n  triton-platform:environment: 'dev\n",
        "Cannot read Pulumi.broken.yaml: line 3, column 1: found unexpected end of stream "
        "(while scanning a quoted scalar at line 2, column 32)",
    ),
    "tab indentation": (
        "config:\n\ttriton-platform:environment: dev\n",
        "Cannot read Pulumi.broken.yaml: line 2, column 1: a tab character; YAML indents with spaces, never tabs",
    ),
    "inconsistent indentation": (
        "config:\n  triton-platform:environment: dev\n   triton-platform:triton: {}\n",
        "Cannot read Pulumi.broken.yaml: line 3, column 26: mapping values are not allowed here",
    ),
    "two documents": (
        "config: {}\n---\nconfig: {}\n",
        "Cannot read Pulumi.broken.yaml: line 2, column 1: a second YAML document (---); a stack file is one document",
    ),
    "undefined alias": (
        "config:\n  triton-platform:environment: *env\n",
        "Cannot read Pulumi.broken.yaml: line 2, column 32: found undefined alias 'env'",
    ),
    "value its tag cannot hold": (
        "config:\n  triton-platform:modelGroups:\n    - name: a\n      replicas: !!int two\n",
        "Cannot read Pulumi.broken.yaml: line 4, column 17: 'two' is not a valid !!int: Pulumi's YAML reads it "
        "as !!str",
    ),
    "empty value with a tag": (
        "config:\n  triton-platform:environment: !!float\n",
        "Cannot read Pulumi.broken.yaml: line 2, column 32: '' is not a valid !!float: Pulumi's YAML reads it as "
        "!!null",
    ),
    "bad base64": (
        "config:\n  triton-platform:environment: !!binary /////\n",
        "Cannot read Pulumi.broken.yaml: line 2, column 32: '/////' is not valid !!binary data (base64)",
    ),
    "python object tag": (
        "config:\n  triton-platform:environment: !!python/object/apply:os.system [id]\n",
        "Cannot read Pulumi.broken.yaml: line 2, column 32: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'",
    ),
    "not UTF-8": (
        b"config:\n  triton-platform:environment: d\xffv\n",
        "Cannot read Pulumi.broken.yaml: line 2, column 33: byte 0xff is not UTF-8 text; save the file as UTF-8",
    ),
    "UTF-16": (
        "config:\n  triton-platform:environment: dev\n".encode("utf-16"),
        "Cannot read Pulumi.broken.yaml: it is UTF-16 text; save the file as UTF-8",
    ),
    "binary": (
        bytes(range(256)),
        "Cannot read Pulumi.broken.yaml: line 1, column 1: contains a NUL byte; a stack file is UTF-8 text, "
        "not binary data",
    ),
    "NUL byte": (
        b"config:\n  triton-platform:environment: dev\x00\n",
        "Cannot read Pulumi.broken.yaml: line 2, column 35: contains a NUL byte; a stack file is UTF-8 text, "
        "not binary data",
    ),
    "control character": (
        "config:\n  triton-platform:environment: d\x01v\n",
        "Cannot read Pulumi.broken.yaml: line 2, column 33: contains the control character U+0001, which YAML "
        "does not allow",
    ),
    "top-level scalar": (
        "just some text\n",
        "Invalid configuration in Pulumi.broken.yaml (1 problem):\n"
        "  - line 1: the file holds a string, not a mapping; a stack file has a config: section mapping keys "
        "such as triton-platform:environment to values",
    ),
    "top-level list": (
        "- config\n- triton-platform:environment\n",
        "Invalid configuration in Pulumi.broken.yaml (1 problem):\n"
        "  - line 1: the file holds a list, not a mapping; a stack file has a config: section mapping keys "
        "such as triton-platform:environment to values",
    ),
    "config is a list": (
        "# dev\nconfig:\n  - triton-platform:environment: dev\n",
        "Invalid configuration in Pulumi.broken.yaml (1 problem):\n"
        "  - line 3: config holds a list, not a mapping; it maps keys such as triton-platform:environment to values",
    ),
    "config is a number": (
        "config: 3\n",
        "Invalid configuration in Pulumi.broken.yaml (1 problem):\n"
        "  - line 1: config holds a number, not a mapping; it maps keys such as triton-platform:environment to values",
    ),
    "config key not text": (
        "config:\n  triton-platform:environment: dev\n  1: one\n",
        "Invalid configuration in Pulumi.broken.yaml (1 problem):\n"
        "  - line 3: config key 1 is not text; keys are <namespace>:<name>, such as triton-platform:environment",
    ),
}


@pytest.mark.parametrize("case", CORPUS)
@pytest.mark.parametrize("command", ["validate", "render"])
def test_an_unreadable_stack_file_is_one_message_naming_file_and_line(project, capsys, case, command):
    content, expected = CORPUS[case]
    path = project / BROKEN
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, _, err = cli(capsys, command, "broken", *(["--out", "out"] if command == "render" else []))
    assert code == 1
    assert err == expected + "\n"
    assert not (project / "out").exists()


def test_a_stack_file_that_is_a_directory(project, capsys):
    (project / BROKEN).mkdir()
    code, _, err = cli(capsys, "validate")
    assert (code, err) == (1, "Cannot read Pulumi.broken.yaml: it is a directory, not a file\n")


def test_one_broken_stack_never_stops_the_others_and_no_traceback_reaches_the_user(project):
    (project / "Pulumi.a-good.yaml").write_text(GOOD)
    (project / BROKEN).write_bytes(b"config:\n\x00")
    (project / "Pulumi.z-good.yaml").write_text(GOOD)
    for command in (["validate"], ["render", "--out", "out"]):
        result = subprocess.run(
            [sys.executable, "-m", "triton_platform.cli", *command],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.splitlines() == [
            "Cannot read Pulumi.broken.yaml: line 2, column 1: contains a NUL byte; a stack file is UTF-8 text, "
            "not binary data"
        ]
        for good in ("a-good", "z-good"):
            assert good in result.stdout
    assert sorted(p.name for p in (project / "out").iterdir()) == ["a-good", "z-good"]


def test_render_out_pointing_at_a_file_is_one_message_and_renders_nothing(project, capsys):
    (project / "Pulumi.dev.yaml").write_text(GOOD)
    (project / "out").write_text("not a directory\n")
    code, out, err = cli(capsys, "render", "--out", "out")
    assert (code, out) == (2, "")
    assert (
        err == "triton-platform render: --out out is a file, not a directory; give a directory (created if missing)\n"
    )
    code, out, err = cli(capsys, "render", "--out", "out/sub")
    assert (code, out) == (2, "")
    assert err == (
        "triton-platform render: --out out/sub cannot be created: out is a file, not a directory; "
        "give a directory (created if missing)\n"
    )


@pytest.mark.parametrize("command", ["validate", "render"])
def test_a_project_without_stack_files_says_there_is_nothing_to_do(project, capsys, command):
    code, out, err = cli(capsys, command)
    assert (code, out) == (1, "")
    assert err == (
        f"triton-platform {command}: nothing to {command}: {project} has Pulumi.yaml but no Pulumi.<stack>.yaml; "
        "create one per stack (`pulumi stack init dev`, then `pulumi config set triton-platform:environment dev`)\n"
    )


def test_a_failed_render_leaves_no_older_render_of_that_stack_looking_current(project, capsys):
    (project / "Pulumi.dev.yaml").write_text(GOOD)
    (project / "Pulumi.other.yaml").write_text(GOOD)
    assert cli(capsys, "render", "--out", "out")[0] == 0
    assert (project / "out" / "dev" / "resources.json").exists()
    (project / "Pulumi.dev.yaml").write_text(GOOD.replace("dev", "qa"))
    code, _, err = cli(capsys, "render", "--out", "out")
    assert code == 1
    assert err.endswith(
        "  - triton-platform:environment = 'qa': Input should be 'dev', 'staging' or 'prod'\n"
        "Removed out/dev, the older render of this stack, so it is not mistaken for a current one\n"
    )
    assert sorted(p.name for p in (project / "out").iterdir()) == ["other"]


def test_a_render_that_fails_while_writing_keeps_neither_a_half_nor_an_older_render(project, capsys, monkeypatch):
    (project / "Pulumi.dev.yaml").write_text(GOOD)
    assert cli(capsys, "render", "--out", "out")[0] == 0
    before = (project / "out" / "dev" / "manifests.yaml").read_text()
    assert before

    dumps = json.dumps

    def full_disk(value, *args, **kwargs):  # fails on the last file of the render, after manifests.yaml
        if isinstance(value, dict) and "resources" in value:
            raise OSError(28, "No space left on device", "out/dev/resources.json")
        return dumps(value, *args, **kwargs)

    monkeypatch.setattr(json, "dumps", full_disk)
    code, _, err = cli(capsys, "render", "--out", "out")
    assert code == 1
    assert err == (
        "Rendering Pulumi.dev.yaml failed: out/dev/resources.json: no space left on device\n"
        "Removed out/dev, the older render of this stack, so it is not mistaken for a current one\n"
    )
    assert list((project / "out").iterdir()) == []


# ---------------------------------------------------------------------------------------------
# Input that used to be accepted silently.


def validate_file(project: Path, capsys, text: str) -> tuple[int, str]:
    (project / BROKEN).write_text(text)
    code, _, err = cli(capsys, "validate", "broken")
    return code, err


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        (
            "{name: a, replicas: true}",
            "triton-platform:modelGroups[0].replicas = true: Input should be a valid integer",
        ),
        ("{name: a, replicas: '2'}", "triton-platform:modelGroups[0].replicas = '2': Input should be a valid integer"),
        ("{name: a, replicas: 2.5}", "triton-platform:modelGroups[0].replicas = 2.5: Input should be a valid integer"),
        (
            "{name: a, acceptSingleReplica: 1}",
            "triton-platform:modelGroups[0].acceptSingleReplica = 1: Input should be a valid boolean",
        ),
        # YAML 1.2, as the Pulumi CLI reads it: "yes" and "on" are text, not booleans.
        (
            "{name: a, acceptSingleReplica: yes}",
            "triton-platform:modelGroups[0].acceptSingleReplica = 'yes': Input should be a valid boolean",
        ),
        (
            "{name: a, acceptSingleReplica: on}",
            "triton-platform:modelGroups[0].acceptSingleReplica = 'on': Input should be a valid boolean",
        ),
    ],
)
def test_a_boolean_is_not_a_count_and_a_number_is_not_a_boolean(project, capsys, group, expected):
    code, err = validate_file(project, capsys, GOOD + f"  triton-platform:modelGroups: [{group}]\n")
    assert (code, err) == (1, f"Invalid configuration in Pulumi.broken.yaml (1 problem):\n  - {expected}\n")


def test_a_key_given_twice_is_an_error_naming_the_lines(project, capsys):
    code, err = validate_file(
        project,
        capsys,
        GOOD + "  triton-platform:environment: prod\n"
        "  triton-platform:modelGroups:\n    - name: a\n      replicas: 1\n      cpu: '2'\n      replicas: 3\n",
    )
    assert (code, err) == (
        1,
        "Invalid configuration in Pulumi.broken.yaml (2 problems):\n"
        "  - line 5: triton-platform:environment is given twice in one mapping (first on line 2); YAML would "
        "silently keep the last one, so remove one\n"
        "  - line 10: replicas is given twice in one mapping (first on line 8); YAML would silently keep the last "
        "one, so remove one\n",
    )


def test_keys_outside_the_namespace_are_errors_unless_a_provider_reads_them(project, capsys):
    providers = (
        "  gcp:project: acme\n  aws:region: us-east-1\n  kubernetes:context: kind\n  pulumi:tags: {a: b}\n"
        "  random:x: y\n"
    )
    code, err = validate_file(project, capsys, GOOD + providers)
    assert (code, err) == (0, "")
    # A key without a namespace is the project's, as the CLI reads it: modelGroups is checked as ours.
    code, err = validate_file(
        project, capsys, GOOD + "  modelGroups: []\n  tritonplatform:mesh: {}\n  datadog:apiKey: x\n"
    )
    assert (code, err) == (
        1,
        "Invalid configuration in Pulumi.broken.yaml (3 problems):\n"
        "  - tritonplatform:mesh: no program reads the namespace 'tritonplatform'; did you mean triton-platform:mesh? "
        "This stack reads triton-platform and the providers' aws, gcp, kubernetes, pulumi, random\n"
        "  - datadog:apiKey: no program reads the namespace 'datadog'; "
        "this stack reads triton-platform and the providers' aws, gcp, kubernetes, pulumi, random\n"
        "  - triton-platform:modelGroups = []: List should have at least 1 item after validation, not 0\n",
    )


def test_an_unknown_top_level_key_is_an_error(project, capsys):
    code, err = validate_file(project, capsys, "confg:\n  triton-platform:environment: dev\nencryptionsalt: x\n")
    assert (code, err) == (
        1,
        "Invalid configuration in Pulumi.broken.yaml (1 problem):\n"
        "  - line 1: confg is not a stack-file key; did you mean config? a stack file holds config, environment, "
        "secretsprovider, encryptedkey, encryptionsalt\n",
    )


# ---------------------------------------------------------------------------------------------
# Property: for any bytes written as a stack file, the CLI exits 0 or 1 without a traceback, and a
# failure message names the file.

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FUZZ = "Pulumi.fuzz.yaml"
#: A stack file with a bit of everything: nesting, lists, flow style, a secret, provider keys.
SEED = (ROOT / "Pulumi.staging.yaml").read_bytes()
#: Pieces YAML gives meaning to, and pieces of stack files, so generated text reaches deep.
TOKENS = [
    "config",
    ":",
    " ",
    "  ",
    "\t",
    "\n",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "#",
    "'",
    '"',
    "&a ",
    "*a",
    "!!int ",
    "!!binary ",
    "!!set ",
    "? ",
    "<<: ",
    "|",
    ">",
    "---\n",
    "...",
    "%YAML 1.1\n",
    "\\",
    "triton-platform:",
    "environment",
    "dev",
    "prod",
    "modelGroups",
    "name",
    "replicas",
    "true",
    "null",
    "1",
    "-3",
    "1e400",
    "2024-01-01",
    "0x1F",
    "gcp:project",
    "secure",
    "\x00",
    "\x01",
    "\ufeff",
    "é",
    "\U0001f600",
]
yaml_like = st.lists(st.sampled_from(TOKENS), max_size=60).map("".join).map(str.encode)


@st.composite
def mutated(draw, seed: bytes = SEED):
    """The seed with a few bytes inserted, deleted or replaced: mostly valid YAML, often not."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.one_of(st.binary(min_size=1, max_size=3), st.sampled_from(TOKENS).map(str.encode)))
        if op == "insert":
            data[at:at] = piece
        elif op == "delete":
            del data[at : at + len(piece)]
        else:
            data[at : at + len(piece)] = piece
    return bytes(data)


def assert_no_traceback_and_file_named(project: Path, capsys, content: bytes, *argv: str) -> None:
    (project / FUZZ).write_bytes(content)
    code, out, err = cli(capsys, *argv)
    if code == 0:
        assert err == "" and out.startswith("fuzz: ")
    else:
        assert code == 1 and out == "", (content, out)
        assert err.startswith(
            (
                "Cannot read Pulumi.fuzz.yaml: ",
                "Invalid configuration in Pulumi.fuzz.yaml (",
                "Validating Pulumi.fuzz.yaml failed: ",
                "Rendering Pulumi.fuzz.yaml failed: ",
            )
        ), err
        assert "Traceback" not in err


def fuzz(max_examples: int) -> settings:
    # The fixtures are the same folder for every example (the file is rewritten each time).
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )


@fuzz(max_examples=300)
@given(content=st.one_of(st.binary(max_size=400), yaml_like, mutated()))
def test_validate_never_shows_a_traceback_for_any_bytes(project, capsys, content):
    assert_no_traceback_and_file_named(project, capsys, content, "validate")


@fuzz(max_examples=25)
@given(content=st.one_of(yaml_like, mutated(GOOD.encode())))
def test_render_never_shows_a_traceback_for_any_bytes(project, capsys, content):
    assert_no_traceback_and_file_named(project, capsys, content, "render", "--out", "out")


def test_a_new_render_replaces_the_render_files_and_keeps_anything_else(project, capsys):
    (project / "Pulumi.dev.yaml").write_text(GOOD)
    (project / "out" / "dev").mkdir(parents=True)
    (project / "out" / "dev" / "resources.json").write_text("{}")
    (project / "out" / "dev" / "notes.txt").write_text("mine")
    assert cli(capsys, "render", "--out", "out")[0] == 0
    assert sorted(p.name for p in (project / "out").iterdir()) == ["dev"]
    assert sorted(p.name for p in (project / "out" / "dev").iterdir()) == [
        "manifests.yaml",
        "notes.txt",
        "resources.json",
    ]
    assert json.loads((project / "out" / "dev" / "resources.json").read_text())["stack"] == "dev"
    assert (project / "out" / "dev" / "notes.txt").read_text() == "mine"
