"""``model check``: every broken model of the corpus gets its one clear line; good models get none.

That Triton itself rejects each broken model, and loads each good one, is shown on the real
server by ``test_lab_check.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from support.delivery import corpus
from triton_platform.cli import main
from triton_platform.delivery import GroupSpec, MissingExtra, check_model_repository, check_repository
from triton_platform.delivery.check import FAST_CHECKS, inspect_repository

LAB_GROUP = GroupSpec("lab", gpus_per_replica=0)
PARTIAL_FAST = (
    "partial result: Triton's own validation did not run (--fast was given); only the fast checks did, "
    "and Triton may still refuse a model they accept"
)


@pytest.mark.parametrize("case", sorted(corpus.BROKEN))
def test_each_broken_model_gets_one_line_naming_file_and_field(tmp_path: Path, case: str):
    spec = corpus.BROKEN[case]
    model = corpus.write_broken(tmp_path, case)
    problems = check_model_repository(tmp_path, LAB_GROUP if spec.needs_group else None)
    mine = [p for p in problems if p.file.startswith(str(model))]
    field, fragment = spec.expect
    assert any(field in p.field and fragment in p.message for p in mine), [str(p) for p in problems]
    assert problems == mine, "only the broken model is reported, not the good ones beside it"
    assert all("\n" not in str(p) and str(p).startswith(str(model)) for p in problems)


def test_a_good_repository_has_no_problem(tmp_path: Path):
    corpus.write_model(tmp_path, "addv", versions=(1, 2))
    corpus.write_model(tmp_path, "plain", config_text=corpus.config("").replace('name: ""\n', ""))
    (tmp_path / "addv" / "1" / "__pycache__").mkdir()
    ensemble = tmp_path / "twice"
    (ensemble / "1").mkdir(parents=True)
    (ensemble / "config.pbtxt").write_text(corpus.ensemble_config("twice", "addv"))
    assert check_model_repository(tmp_path) == []
    assert check_model_repository(tmp_path / "addv") == [], "a model folder is checked alone too"


def test_the_version_policy_decides_which_folders_need_the_model_file(tmp_path: Path):
    model = corpus.write_model(tmp_path, "addv", versions=(1, 2))
    (model / "1" / "model.py").unlink()  # version 1 is not served under the default policy (latest 1)
    info = inspect_repository(tmp_path).models["addv"]
    assert info.served_versions() == [2]
    assert check_model_repository(tmp_path) == []
    (model / "config.pbtxt").write_text(corpus.config("addv", "version_policy: { all: { } }\n"))
    assert [p.field for p in check_model_repository(tmp_path)] == ["model.py"]


def test_gpu_instances_must_fit_the_groups_gpus(tmp_path: Path):
    corpus.write_model(
        tmp_path,
        "addv",
        config_text=corpus.config("addv").replace("kind: KIND_CPU count: 1", "kind: KIND_GPU count: 1 gpus: [ 0, 2 ]"),
    )
    [problem] = check_model_repository(tmp_path, GroupSpec("one-gpu", gpus_per_replica=1))
    assert (problem.field, "GPU(s) [2]" in problem.message) == ("instance_group[0].gpus", True)
    assert check_model_repository(tmp_path, GroupSpec("three-gpus", gpus_per_replica=3)) == []


def test_an_ensemble_step_outside_the_group_is_named(tmp_path: Path):
    corpus.write_model(tmp_path, "addv")
    ensemble = tmp_path / "twice"
    (ensemble / "1").mkdir(parents=True)
    (ensemble / "config.pbtxt").write_text(corpus.ensemble_config("twice", "addv"))
    group = GroupSpec("vision", models=("twice",), model_control_mode="explicit")
    [problem] = check_model_repository(tmp_path, group)
    assert problem.field == "ensemble_scheduling.step[0].model_name"
    assert "'addv' is not a model of group 'vision' (twice)" in problem.message
    assert check_model_repository(tmp_path, GroupSpec("vision", ("twice", "addv"), model_control_mode="explicit")) == []


def test_a_broken_link_is_a_problem_before_any_upload(tmp_path: Path):
    model = corpus.write_model(tmp_path, "addv")
    (model / "1" / "weights.bin").symlink_to(tmp_path / "nowhere")
    [problem] = check_model_repository(tmp_path)
    assert problem.file.endswith("addv/1/weights.bin") and "broken symbolic link" in problem.message


def test_cli_prints_one_line_per_problem_and_exits_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    corpus.write_broken(tmp_path, "dims_zero")
    corpus.write_broken(tmp_path, "name_mismatch")
    assert main(["model", "check", str(tmp_path), "--fast"]) == 1
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert err[:2] == [
        f"{tmp_path}/dims_zero/config.pbtxt: input[0] 'INPUT0'.dims: has [0]; each dimension is >= 1, or -1 for a variable size",
        f"{tmp_path}/name_mismatch/config.pbtxt: name: is 'other' but the folder is 'name_mismatch'; Triton requires "
        "them to be equal (rename one, or remove name)",
    ]
    assert err[2] == f"triton-platform: 2 problem(s) in {tmp_path}"
    assert captured.out.splitlines() == [f"checks run: {FAST_CHECKS}", PARTIAL_FAST]


def test_cli_checks_against_a_stacks_group(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    corpus.write_model(tmp_path, "bert-base")
    assert main(["model", "check", str(tmp_path / "bert-base"), "--stack", "staging", "--fast"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"checks run: {FAST_CHECKS}; rules of this platform for group 'text' (GPUs per pod, models of the group)",
        PARTIAL_FAST,
        f"{tmp_path / 'bert-base'}: OK for group 'text'",
    ]


def test_a_rule_of_ours_says_so(tmp_path: Path):
    corpus.write_broken(tmp_path, "bad+name")
    [problem] = check_model_repository(tmp_path)
    assert str(problem).endswith("use letters, digits, '_', '.' and '-' only (a rule of this platform, not of Triton)")


def test_first_time_users_reshape_of_another_size_is_caught_by_the_fast_checks(tmp_path: Path):
    corpus.write_broken(tmp_path, "reshape_other_size")
    [problem] = check_model_repository(tmp_path)
    assert str(problem) == (
        f"{tmp_path}/reshape_other_size/config.pbtxt: input[0] 'INPUT0'.reshape: shape [3] holds a different number "
        "of elements than dims [4]; Triton refuses it ('has different size for dims and reshape')"
    )


def test_without_a_runnable_tritonserver_the_check_falls_back_and_says_the_result_is_partial(
    tmp_path: Path, monkeypatch
):
    import importlib.util

    corpus.write_broken(tmp_path, "dims_zero")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pytriton" else real_find_spec(name, *a)
    )
    report = check_repository(tmp_path)
    assert [p.field for p in report.problems] == ["input[0] 'INPUT0'.dims"]
    assert report.lines() == [
        f"checks run: {FAST_CHECKS}",
        "partial result: Triton's own validation did not run (tritonserver is not installed; pip install "
        "'triton-platform[delivery]' (Linux x86_64)); only the fast checks did, and Triton may still refuse a model "
        "they accept",
    ]
    monkeypatch.setattr("sys.platform", "darwin")
    assert "runs on Linux x86_64 only, not darwin" in check_repository(tmp_path).partial


def test_without_tritonclient_the_error_names_the_extra(tmp_path: Path, monkeypatch):
    corpus.write_model(tmp_path, "addv")
    for module in [m for m in sys.modules if m.startswith("tritonclient")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "tritonclient", None)  # what an install without the extra looks like
    with pytest.raises(MissingExtra, match=r"pip install 'triton-platform\[delivery\]'"):
        check_model_repository(tmp_path)
