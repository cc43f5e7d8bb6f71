"""``model check`` proven on the real Triton (the lab's CPU tritonserver, the staging stack's flags).

Every broken model of the corpus that ``check`` rejects is also rejected by Triton (its load fails,
or never finishes), except the ones marked as this platform's own rules; every model ``check``
accepts loads and answers. One server in explicit mode tries each model through the repository
API, so the whole corpus takes one start-up.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import corpus
from delivery_fixtures import harness, rendered, start_triton, triton_install  # noqa: F401 - pytest fixtures
from triton_platform.delivery import GroupSpec, check_model_repository

pytestmark = pytest.mark.lab

#: A load that has not answered by then is a rejection: a Python model without its file never loads.
LOAD_TIMEOUT_SECONDS = 10
LAB_GROUP = GroupSpec("lab", gpus_per_replica=0)  # the lab has no GPU


def load(harness, server, admin_key: str, model: str) -> tuple[int, str]:
    status, body = harness.http_status(f"{server.http}/v2/repository/models/{model}/load",
                                       method="POST", headers={"admin-key": admin_key}, body=b"{}",
                                       timeout=LOAD_TIMEOUT_SECONDS)
    return status, body.decode(errors="replace")


def good_models(root: Path) -> list[str]:
    """Models check accepts, in the shapes users write them."""
    corpus.write_model(root, "two_versions", versions=(1, 2))
    corpus.write_model(root, "all_versions", versions=(1, 2),
                       config_text=corpus.config("all_versions", "version_policy: { all: { } }\n"))
    corpus.write_model(root, "no_name_field", config_text=corpus.config("x").replace('name: "x"\n', ""))
    corpus.write_model(root, "backend_from_file", config_text=corpus.config("backend_from_file").replace('backend: "python"\n', ""))
    corpus.write_model(root, "default_instances", config_text=corpus.config("default_instances").replace(
        "instance_group [ { kind: KIND_CPU count: 1 } ]\n", ""))
    corpus.write_model(root, "dynamic_batching", config_text=corpus.config("dynamic_batching", "dynamic_batching { }\n"))
    extra = corpus.write_model(root, "extra_folder")
    (extra / "notes").mkdir()
    ensemble = root / "ensemble_ok"
    (ensemble / "1").mkdir(parents=True)
    (ensemble / "config.pbtxt").write_text(corpus.ensemble_config("ensemble_ok", "two_versions"))
    return ["two_versions", "all_versions", "no_name_field", "backend_from_file", "default_instances",
            "dynamic_batching", "extra_folder", "ensemble_ok"]


def test_triton_rejects_what_check_rejects_and_loads_what_check_accepts(harness, rendered, start_triton, tmp_path: Path):
    repository = tmp_path / "repository"
    corpus.write_model(repository, "bert-base")  # what the rendered group loads at start
    for case in corpus.BROKEN:
        corpus.write_broken(repository, case)
    accepted = good_models(repository)

    problems = check_model_repository(repository, LAB_GROUP)
    flagged = {Path(p.file).relative_to(repository).parts[0] for p in problems}
    assert flagged == set(corpus.BROKEN), "check flags exactly the broken models"

    server, admin_key = start_triton(rendered("staging", "text"), str(repository))
    verdicts = {case: load(harness, server, admin_key, case) for case in corpus.BROKEN}
    for case, (status, body) in verdicts.items():
        if corpus.BROKEN[case].triton_rejects:
            assert status != 200, f"{case}: Triton loaded it ({body}); check must not reject what Triton serves"
        else:
            assert status == 200, f"{case}: marked as a platform-only rule, yet Triton rejects it: {body}"

    for model in accepted:
        status, body = load(harness, server, admin_key, model)
        assert status == 200, f"{model}: check accepts it, Triton does not: {body}"
        answer = harness.http_status(f"{server.http}/v2/models/{model}/infer", method="POST", body=json.dumps(
            {"inputs": [{"name": "IN" if model.startswith("ensemble") else "INPUT0", "datatype": "FP32",
                         "shape": [1, 4], "data": [1, 2, 3, 4]}]}).encode())
        assert answer[0] == 200, f"{model}: {answer}"
