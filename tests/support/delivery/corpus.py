"""Model folders for the delivery tests: a versioned Python model, and a corpus of broken ones.

``addv`` answers ``INPUT0 + <its version number>``, so a response tells which version served it.
``BROKEN`` lists models that Triton rejects (seen on the real server by ``test_lab_check.py``) or
that this platform cannot serve, each with the line ``check`` must print for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: One admin key for every server a test starts, as one Secret serves every pod of a stack.
ADMIN_KEY = "lab-admin-key"

MODEL_PY = """\
import time

import numpy as np
import triton_python_backend_utils as pb_utils

LOAD_SECONDS = 0  # a slow load makes a version swap take real time


class TritonPythonModel:
    def initialize(self, args):
        self.version = float(args["model_version"])
        time.sleep(LOAD_SECONDS)

    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            out = pb_utils.Tensor("OUTPUT0", (x + self.version).astype(np.float32))
            responses.append(pb_utils.InferenceResponse(output_tensors=[out]))
        return responses
"""

FAILING_MODEL_PY = """\
class TritonPythonModel:
    def initialize(self, args):
        raise RuntimeError("this version cannot load")

    def execute(self, requests):
        return []
"""


def config(name: str, extra: str = "") -> str:
    text = f'''name: "{name}"
backend: "python"
max_batch_size: 8
input [ {{ name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] }} ]
output [ {{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] }} ]
instance_group [ {{ kind: KIND_CPU count: 1 }} ]
'''
    return text + extra


def write_model(
    root: Path,
    name: str,
    versions: tuple[int, ...] = (1,),
    *,
    config_text: str | None = None,
    model_py: str = MODEL_PY,
    load_seconds: float = 0,
    folder: str | None = None,
) -> Path:
    """``root/<folder or name>/`` with config.pbtxt and ``<v>/model.py`` for each version."""
    model = root / (folder or name)
    for version in versions:
        (model / str(version)).mkdir(parents=True, exist_ok=True)
        (model / str(version) / "model.py").write_text(
            model_py.replace("LOAD_SECONDS = 0", f"LOAD_SECONDS = {load_seconds:g}")
        )
    model.mkdir(parents=True, exist_ok=True)
    (model / "config.pbtxt").write_text(config_text if config_text is not None else config(name))
    return model


def ensemble_config(name: str, step_model: str, input_key: str = "INPUT0") -> str:
    return f'''name: "{name}"
platform: "ensemble"
max_batch_size: 8
input [ {{ name: "IN" data_type: TYPE_FP32 dims: [ 4 ] }} ]
output [ {{ name: "OUT" data_type: TYPE_FP32 dims: [ 4 ] }} ]
ensemble_scheduling {{ step [ {{ model_name: "{step_model}" model_version: -1
  input_map {{ key: "{input_key}" value: "IN" }} output_map {{ key: "OUTPUT0" value: "OUT" }} }} ] }}
'''


@dataclass
class Broken:
    """One broken model: how to build it from a good one, and what ``check`` says about it."""

    config_edit: tuple[str, str] | None = None  # (old, new) in the good config.pbtxt
    config_extra: str = ""
    files: dict[str, str | None] = field(default_factory=lambda: {"1/model.py": MODEL_PY})
    no_config: bool = False
    folder: str | None = None
    ensemble_step: str | None = None  # an ensemble over addv_member with this step model / input key
    ensemble_input: str = "INPUT0"
    #: (field, fragment of the message) check must report.
    expect: tuple[str, str] = ("", "")
    #: False where Triton 2.51 accepts the model and only this platform's rule rejects it.
    triton_rejects: bool = True
    #: check needs the group to see it (a GPU count, a group's models).
    needs_group: bool = False


GOOD_INPUT = 'input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] } ]'
BROKEN: dict[str, Broken] = {
    "missing_config": Broken(no_config=True, expect=("(file)", "is missing")),
    "syntax_error": Broken(
        config_edit=("max_batch_size: 8", "max_batch_size 8 ]"), expect=("line 3 column", "cannot parse")
    ),
    "unknown_field": Broken(config_extra="max_batch: 4\n", expect=("line 7 column", 'no field named "max_batch"')),
    "name_mismatch": Broken(
        config_edit=('name: "name_mismatch"', 'name: "other"'), expect=("name", "Triton requires them to be equal")
    ),
    "no_version_folder": Broken(files={}, expect=("(version folders)", "none found")),
    "non_numeric_version": Broken(files={"v1/model.py": MODEL_PY}, expect=("(version folders)", "none found")),
    "missing_model_file": Broken(files={"1/other.py": "x = 1\n"}, expect=("model.py", "is missing")),
    "default_filename_missing": Broken(
        config_extra='default_model_filename: "main.py"\n', expect=("main.py", "is missing")
    ),
    "negative_max_batch": Broken(
        config_edit=("max_batch_size: 8", "max_batch_size: -1"), expect=("max_batch_size", "is -1")
    ),
    "dims_zero": Broken(
        config_edit=(GOOD_INPUT, GOOD_INPUT.replace("[ 4 ]", "[ 0 ]")), expect=("input[0] 'INPUT0'.dims", "has [0]")
    ),
    "dims_below_minus_one": Broken(
        config_edit=(GOOD_INPUT, GOOD_INPUT.replace("[ 4 ]", "[ -2 ]")), expect=("input[0] 'INPUT0'.dims", "has [-2]")
    ),
    "dims_missing": Broken(
        config_edit=(GOOD_INPUT, GOOD_INPUT.replace(" dims: [ 4 ]", "")),
        expect=("input[0] 'INPUT0'.dims", "is not set"),
    ),
    "data_type_missing": Broken(
        config_edit=(GOOD_INPUT, GOOD_INPUT.replace(" data_type: TYPE_FP32", "")),
        expect=("input[0] 'INPUT0'.data_type", "is not set"),
    ),
    "output_without_name": Broken(config_edit=('name: "OUTPUT0" ', ""), expect=("output[0]", "has no name")),
    "preferred_batch_above_max": Broken(
        config_extra="dynamic_batching { preferred_batch_size: [ 16 ] }\n",
        expect=("dynamic_batching.preferred_batch_size", "above max_batch_size 8"),
    ),
    "specific_version_missing": Broken(
        config_extra="version_policy: { specific: { versions: [ 3 ] } }\n",
        expect=("version_policy.specific.versions", "names [3], none of which has a folder"),
    ),
    "latest_zero_versions": Broken(
        config_extra="version_policy: { latest: { num_versions: 0 } }\n",
        expect=("version_policy.latest.num_versions", "must be 1 or more"),
    ),
    "label_file_missing": Broken(
        config_edit=(
            'name: "OUTPUT0" data_type: TYPE_FP32',
            'name: "OUTPUT0" data_type: TYPE_FP32 label_filename: "labels.txt"',
        ),
        expect=("output[0] 'OUTPUT0'.label_filename", "'labels.txt' is not in"),
    ),
    "unknown_backend": Broken(
        config_edit=('backend: "python"', 'backend: "pythonn"'), expect=("backend", "'pythonn' is not a backend")
    ),
    "gpu_instances_without_gpu": Broken(
        config_edit=("KIND_CPU", "KIND_GPU"), expect=("instance_group[0].kind", "gpusPerReplica 0"), needs_group=True
    ),
    "ensemble_unknown_step": Broken(
        files={"1/.keep": ""},
        ensemble_step="no_such_model",
        expect=("ensemble_scheduling.step[0].model_name", "'no_such_model' is not in this repository"),
    ),
    "ensemble_bad_input_map": Broken(
        files={"1/.keep": ""},
        ensemble_step="addv_member",
        ensemble_input="NOPE",
        expect=("ensemble_scheduling.step[0].input_map", "key 'NOPE' is not an input"),
    ),
    "reshape_other_size": Broken(
        config_edit=(GOOD_INPUT, GOOD_INPUT.replace("[ 4 ]", "[ 4 ] reshape: { shape: [ 3 ] }")),
        expect=("input[0] 'INPUT0'.reshape", "different number of elements than dims [4]"),
    ),
    "bad+name": Broken(expect=("(folder name)", "not a model name the gateway can route"), triton_rejects=False),
    "duplicate_input": Broken(
        config_edit=(GOOD_INPUT, GOOD_INPUT[:-2] + ', { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] } ]'),
        expect=("input[1] 'INPUT0'.name", "used by two inputs"),
        triton_rejects=False,
    ),
}


def write_broken(root: Path, case: str) -> Path:
    """The broken model ``case`` (folder named after it) in ``root``; ensembles get their member too."""
    spec = BROKEN[case]
    model = root / case
    model.mkdir(parents=True)
    if spec.ensemble_step is not None:
        write_model(root, "addv_member")
        text = ensemble_config(case, spec.ensemble_step, spec.ensemble_input)
    else:
        text = config(case)
    if spec.config_edit is not None:
        old, new = spec.config_edit
        assert old in text, f"{case}: {old!r} not in the good config"
        text = text.replace(old, new)
    text += spec.config_extra
    if not spec.no_config:
        (model / "config.pbtxt").write_text(text)
    for relative, content in spec.files.items():
        path = model / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content or "")
    return model
