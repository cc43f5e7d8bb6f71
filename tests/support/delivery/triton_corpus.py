"""A corpus of model folders over every area of ``config.pbtxt`` that Triton validates at load.

Each case is one model folder (a Python-backend model answering ``INPUT0 + version``, or an
ensemble over the shared ``member_*`` models) with one change to its ``config.pbtxt`` or files.
Cases are written by hand per area, plus a seeded, bounded random family of dims/reshape pairs, so
the corpus is the same on every run. Nothing says here whether Triton loads a case: the lab test
asks the real Triton, and ``model check`` must agree with it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from support.delivery.corpus import MODEL_PY

SEED = 20261203
RANDOM_RESHAPES = 16


@dataclass(frozen=True)
class Case:
    name: str
    area: str
    config: str
    #: Files besides config.pbtxt, relative to the model folder (content).
    files: dict[str, str] = field(default_factory=lambda: {"1/model.py": MODEL_PY})


def model(
    name: str,
    *,
    max_batch: int = 8,
    inputs: str | None = None,
    outputs: str | None = None,
    instances: str = "instance_group [ { kind: KIND_CPU count: 1 } ]",
    extra: str = "",
) -> str:
    inputs = inputs if inputs is not None else '{ name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] }'
    outputs = outputs if outputs is not None else '{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] }'
    return (
        f'name: "{name}"\nbackend: "python"\nmax_batch_size: {max_batch}\n'
        f"input [ {inputs} ]\noutput [ {outputs} ]\n{instances}\n{extra}\n"
    )


def _shape(dims: list[int]) -> str:
    return "[ " + ", ".join(str(d) for d in dims) + " ]"


def _io(name: str, dims: list[int], reshape: list[int] | None = None, dtype: str = "TYPE_FP32", more: str = "") -> str:
    text = f'{{ name: "{name}" data_type: {dtype} dims: {_shape(dims)}'
    if reshape is not None:
        text += f" reshape: {{ shape: {_shape(reshape)} }}"
    return text + (f" {more}" if more else "") + " }"


# Shared ensemble members, written once into the repository beside the cases.
MEMBERS = {
    "member_a": model("member_a"),
    "member_int": model(
        "member_int", inputs=_io("INPUT0", [4], dtype="TYPE_INT32"), outputs=_io("OUTPUT0", [4], dtype="TYPE_INT32")
    ),
    "member_wide": model("member_wide", inputs=_io("INPUT0", [8]), outputs=_io("OUTPUT0", [8])),
    "member_unbatched": model("member_unbatched", max_batch=0),
    "member_two_out": model("member_two_out", outputs=_io("OUTPUT0", [4]) + ", " + _io("OUTPUT1", [4])),
    "member_two_in": model("member_two_in", inputs=_io("INPUT0", [4]) + ", " + _io("INPUT1", [4])),
}


def ensemble(
    name: str,
    steps: list[tuple[str, dict[str, str], dict[str, str]]],
    *,
    max_batch: int = 8,
    inputs: str | None = None,
    outputs: str | None = None,
    version: int = -1,
) -> str:
    inputs = inputs if inputs is not None else _io("IN", [4])
    outputs = outputs if outputs is not None else _io("OUT", [4])
    rendered = []
    for member, input_map, output_map in steps:
        maps = " ".join(f'input_map {{ key: "{k}" value: "{v}" }}' for k, v in input_map.items())
        maps += " " + " ".join(f'output_map {{ key: "{k}" value: "{v}" }}' for k, v in output_map.items())
        rendered.append(f'{{ model_name: "{member}" model_version: {version} {maps} }}')
    return (
        f'name: "{name}"\nplatform: "ensemble"\nmax_batch_size: {max_batch}\ninput [ {inputs} ]\n'
        f"output [ {outputs} ]\nensemble_scheduling {{ step [ {', '.join(rendered)} ] }}\n"
    )


ENSEMBLE_FILES = {"1/.keep": ""}
IN, OUT = {"INPUT0": "IN"}, {"OUTPUT0": "OUT"}


def _reshapes() -> list[Case]:
    """Dims and reshape, by hand (the first-time user's [4] -> [3] among them) and from a seeded draw."""
    pairs: list[tuple[str, list[int], list[int] | None, int]] = [
        ("reshape_first_time_user", [4], [3], 8),
        ("reshape_same_count", [4], [2, 2], 8),
        ("reshape_variable_both", [-1], [-1], 8),
        ("reshape_variable_dims_only", [-1], [4], 8),
        ("reshape_variable_split", [-1, 4], [-1, 2, 2], 8),
        ("reshape_two_variables", [-1, -1], [-1], 8),
        ("reshape_empty_of_one", [1], [], 8),
        ("reshape_empty_of_four", [4], [], 8),
        ("reshape_unbatched", [2, 2], [4], 0),
        ("dims_empty_batched", [], None, 8),
        ("dims_empty_unbatched", [], None, 0),
        ("dims_variable", [-1], None, 8),
        ("dims_zero", [0], None, 8),
        ("dims_below_minus_one", [-2], None, 8),
    ]
    draw = random.Random(SEED)
    for i in range(RANDOM_RESHAPES):
        dims = [draw.choice([-1, 1, 2, 3, 4]) for _ in range(draw.randint(0, 3))]
        reshape = [draw.choice([-1, 1, 2, 3, 4, 6]) for _ in range(draw.randint(0, 3))]
        pairs.append((f"reshape_drawn_{i:02d}", dims, reshape, draw.choice([0, 8])))
    return [
        Case(name, "dims and reshape", model(name, max_batch=mb, inputs=_io("INPUT0", dims, reshape)))
        for name, dims, reshape, mb in pairs
    ]


def cases() -> list[Case]:
    found = _reshapes()

    def add(area: str, name: str, config: str, files: dict[str, str] | None = None) -> None:
        found.append(Case(name, area, config, files if files is not None else {"1/model.py": MODEL_PY}))

    area = "data types and tensor formats"
    add(area, "type_string", model("type_string", inputs=_io("INPUT0", [4], dtype="TYPE_STRING")))
    add(area, "type_bf16", model("type_bf16", inputs=_io("INPUT0", [4], dtype="TYPE_BF16")))
    add(area, "type_missing", model("type_missing", inputs='{ name: "INPUT0" dims: [ 4 ] }'))
    add(area, "format_nhwc", model("format_nhwc", inputs=_io("INPUT0", [2, 2, 3], more="format: FORMAT_NHWC")))
    add(
        area, "format_nchw_one_dim", model("format_nchw_one_dim", inputs=_io("INPUT0", [4], more="format: FORMAT_NCHW"))
    )
    add(
        area,
        "format_nchw_variable",
        model("format_nchw_variable", inputs=_io("INPUT0", [3, -1, -1], more="format: FORMAT_NCHW")),
    )
    add(area, "input_without_name", model("input_without_name", inputs="{ data_type: TYPE_FP32 dims: [ 4 ] }"))
    add(area, "output_twice", model("output_twice", outputs=_io("OUTPUT0", [4]) + ", " + _io("OUTPUT0", [4])))
    add(area, "optional_input", model("optional_input", inputs=_io("INPUT0", [4], more="optional: true")))

    area = "dynamic batching"
    add(
        area,
        "batching_preferred_ok",
        model("batching_preferred_ok", extra="dynamic_batching { preferred_batch_size: [ 4, 8 ] }"),
    )
    add(
        area,
        "batching_preferred_above_max",
        model("batching_preferred_above_max", extra="dynamic_batching { preferred_batch_size: [ 16 ] }"),
    )
    add(
        area,
        "batching_preferred_zero",
        model("batching_preferred_zero", extra="dynamic_batching { preferred_batch_size: [ 0 ] }"),
    )
    add(
        area,
        "batching_without_batch_size",
        model("batching_without_batch_size", max_batch=0, extra="dynamic_batching { }"),
    )
    add(
        area,
        "batching_priority_ok",
        model("batching_priority_ok", extra="dynamic_batching { priority_levels: 2 default_priority_level: 1 }"),
    )
    add(
        area,
        "batching_default_priority_above",
        model(
            "batching_default_priority_above", extra="dynamic_batching { priority_levels: 2 default_priority_level: 3 }"
        ),
    )
    add(
        area,
        "batching_priority_without_default",
        model("batching_priority_without_default", extra="dynamic_batching { priority_levels: 2 }"),
    )
    add(
        area,
        "batching_queue_policy_level_above",
        model(
            "batching_queue_policy_level_above",
            extra=(
                "dynamic_batching { priority_levels: 2 default_priority_level: 1 "
                "priority_queue_policy { key: 5 value: { max_queue_size: 4 } } }"
            ),
        ),
    )
    add(
        area,
        "batching_queue_delay",
        model("batching_queue_delay", extra="dynamic_batching { max_queue_delay_microseconds: 100 }"),
    )

    area = "sequence batching"
    start = 'control_input [ { name: "START" control [ { kind: CONTROL_SEQUENCE_START fp32_false_true: [ 0, 1 ] } ] } ]'
    add(area, "sequence_start_ok", model("sequence_start_ok", extra=f"sequence_batching {{ {start} }}"))
    add(
        area,
        "sequence_three_values",
        model(
            "sequence_three_values",
            extra=(
                'sequence_batching { control_input [ { name: "START" control [ { kind: CONTROL_SEQUENCE_START '
                "int32_false_true: [ 0, 1, 2 ] } ] } ] }"
            ),
        ),
    )
    add(
        area,
        "sequence_start_twice",
        model(
            "sequence_start_twice",
            extra=(
                f'sequence_batching {{ {start[:-2]}, {{ name: "START2" control [ {{ kind: CONTROL_SEQUENCE_START '
                "fp32_false_true: [ 0, 1 ] } ] } ] }"
            ),
        ),
    )
    add(
        area,
        "sequence_control_no_values",
        model(
            "sequence_control_no_values",
            extra=(
                'sequence_batching { control_input [ { name: "START" control [ { kind: CONTROL_SEQUENCE_START } ] } ] }'
            ),
        ),
    )
    add(
        area,
        "sequence_control_named_like_input",
        model(
            "sequence_control_named_like_input",
            extra=(
                'sequence_batching { control_input [ { name: "INPUT0" control [ { kind: CONTROL_SEQUENCE_START '
                "fp32_false_true: [ 0, 1 ] } ] } ] }"
            ),
        ),
    )
    add(
        area,
        "sequence_oldest",
        model("sequence_oldest", extra="sequence_batching { oldest { max_candidate_sequences: 4 } }"),
    )
    add(
        area,
        "sequence_state_ok",
        model(
            "sequence_state_ok",
            extra=(
                'sequence_batching { state [ { input_name: "STATE_IN" output_name: "STATE_OUT" data_type: TYPE_FP32 dims: [ 4 ] } ] }'
            ),
        ),
    )
    add(
        area,
        "sequence_state_no_dims",
        model(
            "sequence_state_no_dims",
            extra=(
                'sequence_batching { state [ { input_name: "STATE_IN" output_name: "STATE_OUT" data_type: TYPE_FP32 } ] }'
            ),
        ),
    )

    area = "batch inputs and outputs"
    add(
        area,
        "batch_input_ok",
        model(
            "batch_input_ok",
            extra=(
                'batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "COUNT" data_type: TYPE_FP32 source_input: "INPUT0" } ]'
            ),
        ),
    )
    add(
        area,
        "batch_input_unknown_source",
        model(
            "batch_input_unknown_source",
            extra=(
                'batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "COUNT" data_type: TYPE_FP32 source_input: "NOPE" } ]'
            ),
        ),
    )
    add(
        area,
        "batch_input_int_count",
        model(
            "batch_input_int_count",
            extra=(
                'batch_input [ { kind: BATCH_ACCUMULATED_ELEMENT_COUNT target_name: "COUNT" data_type: TYPE_INT32 source_input: "INPUT0" } ]'
            ),
        ),
    )
    add(
        area,
        "batch_output_ok",
        model(
            "batch_output_ok",
            extra=(
                'batch_output [ { target_name: "OUTPUT0" kind: BATCH_SCATTER_WITH_INPUT_SHAPE source_input: "INPUT0" } ]'
            ),
        ),
    )
    add(
        area,
        "batch_output_unknown_target",
        model(
            "batch_output_unknown_target",
            extra=(
                'batch_output [ { target_name: "NOPE" kind: BATCH_SCATTER_WITH_INPUT_SHAPE source_input: "INPUT0" } ]'
            ),
        ),
    )

    area = "shape tensors"
    add(
        area,
        "shape_tensor_int32",
        model(
            "shape_tensor_int32",
            inputs=_io("INPUT0", [4]) + ", " + _io("SHAPE", [1], dtype="TYPE_INT32", more="is_shape_tensor: true"),
        ),
    )
    add(
        area,
        "shape_tensor_fp32",
        model("shape_tensor_fp32", inputs=_io("INPUT0", [4]) + ", " + _io("SHAPE", [1], more="is_shape_tensor: true")),
    )
    add(
        area,
        "shape_tensor_output",
        model("shape_tensor_output", outputs=_io("OUTPUT0", [4], dtype="TYPE_INT32", more="is_shape_tensor: true")),
    )

    area = "instance groups"
    add(
        area,
        "instances_two_groups",
        model(
            "instances_two_groups",
            instances="instance_group [ { kind: KIND_CPU count: 1 }, { kind: KIND_CPU count: 1 } ]",
        ),
    )
    add(
        area,
        "instances_count_zero",
        model("instances_count_zero", instances="instance_group [ { kind: KIND_CPU count: 0 } ]"),
    )
    add(
        area,
        "instances_count_negative",
        model("instances_count_negative", instances="instance_group [ { kind: KIND_CPU count: -1 } ]"),
    )
    add(
        area,
        "instances_kind_model",
        model("instances_kind_model", instances="instance_group [ { kind: KIND_MODEL count: 1 } ]"),
    )
    add(
        area,
        "instances_cpu_with_gpus",
        model("instances_cpu_with_gpus", instances="instance_group [ { kind: KIND_CPU count: 1 gpus: [ 0 ] } ]"),
    )
    add(
        area,
        "instances_rate_limiter",
        model(
            "instances_rate_limiter",
            instances=(
                'instance_group [ { kind: KIND_CPU count: 1 rate_limiter { resources [ { name: "R" count: 2 } ] priority: 1 } } ]'
            ),
        ),
    )
    add(
        area,
        "instances_same_name",
        model(
            "instances_same_name",
            instances=(
                'instance_group [ { name: "g" kind: KIND_CPU count: 1 }, { name: "g" kind: KIND_CPU count: 1 } ]'
            ),
        ),
    )
    add(area, "instances_none", model("instances_none", instances=""))

    area = "model warmup"
    add(
        area,
        "warmup_ok",
        model(
            "warmup_ok",
            extra=(
                'model_warmup [ { name: "w" batch_size: 1 inputs { key: "INPUT0" value: { data_type: TYPE_FP32 dims: [ 4 ] zero_data: true } } } ]'
            ),
        ),
    )
    add(
        area,
        "warmup_unknown_input",
        model(
            "warmup_unknown_input",
            extra=(
                'model_warmup [ { name: "w" batch_size: 1 inputs { key: "NOPE" value: { data_type: TYPE_FP32 dims: [ 4 ] zero_data: true } } } ]'
            ),
        ),
    )
    add(
        area,
        "warmup_batch_above_max",
        model(
            "warmup_batch_above_max",
            extra=(
                'model_warmup [ { name: "w" batch_size: 16 inputs { key: "INPUT0" value: { data_type: TYPE_FP32 dims: [ 4 ] zero_data: true } } } ]'
            ),
        ),
    )
    add(
        area,
        "warmup_wrong_dims",
        model(
            "warmup_wrong_dims",
            extra=(
                'model_warmup [ { name: "w" batch_size: 1 inputs { key: "INPUT0" value: { data_type: TYPE_FP32 dims: [ 5 ] zero_data: true } } } ]'
            ),
        ),
    )
    add(
        area,
        "warmup_wrong_type",
        model(
            "warmup_wrong_type",
            extra=(
                'model_warmup [ { name: "w" batch_size: 1 inputs { key: "INPUT0" value: { data_type: TYPE_INT32 dims: [ 4 ] zero_data: true } } } ]'
            ),
        ),
    )
    add(
        area,
        "warmup_missing_file",
        model(
            "warmup_missing_file",
            extra=(
                'model_warmup [ { name: "w" batch_size: 1 inputs { key: "INPUT0" value: { data_type: TYPE_FP32 dims: [ 4 ] '
                'input_data_file: "raw_input" } } } ]'
            ),
        ),
    )
    add(
        area,
        "warmup_no_data",
        model(
            "warmup_no_data",
            extra=(
                'model_warmup [ { name: "w" batch_size: 1 inputs { key: "INPUT0" value: { data_type: TYPE_FP32 dims: [ 4 ] } } } ]'
            ),
        ),
    )

    area = "version policies"
    two = {"1/model.py": MODEL_PY, "2/model.py": MODEL_PY}
    add(
        area,
        "versions_specific_one_missing",
        model("versions_specific_one_missing", extra="version_policy: { specific: { versions: [ 1, 3 ] } }"),
    )
    add(
        area,
        "versions_specific_all_missing",
        model("versions_specific_all_missing", extra="version_policy: { specific: { versions: [ 3 ] } }"),
    )
    add(
        area,
        "versions_latest_zero",
        model("versions_latest_zero", extra="version_policy: { latest: { num_versions: 0 } }"),
    )
    add(
        area,
        "versions_latest_more_than_exist",
        model("versions_latest_more_than_exist", extra="version_policy: { latest: { num_versions: 3 } }"),
        two,
    )
    add(area, "versions_all", model("versions_all", extra="version_policy: { all: { } }"), two)
    add(
        area,
        "versions_old_one_without_file",
        model("versions_old_one_without_file"),
        {"1/other.py": "", "2/model.py": MODEL_PY},
    )
    add(area, "versions_none", model("versions_none"), {})

    area = "execution environments"
    env = 'parameters { key: "EXECUTION_ENV_PATH" value: { string_value: "$$TRITON_MODEL_DIRECTORY/env.tar.gz" } }'
    add(area, "env_missing_archive", model("env_missing_archive", extra=env))
    add(
        area,
        "env_not_an_archive",
        model("env_not_an_archive", extra=env),
        {"1/model.py": MODEL_PY, "env.tar.gz": "not a tar"},
    )

    area = "ensembles"
    add(area, "ens_ok", ensemble("ens_ok", [("member_a", IN, OUT)]), ENSEMBLE_FILES)
    add(
        area,
        "ens_chain",
        ensemble("ens_chain", [("member_a", IN, {"OUTPUT0": "MID"}), ("member_a", {"INPUT0": "MID"}, OUT)]),
        ENSEMBLE_FILES,
    )
    add(
        area,
        "ens_unconnected",
        ensemble("ens_unconnected", [("member_a", IN, {"OUTPUT0": "MID"}), ("member_a", {"INPUT0": "OTHER"}, OUT)]),
        ENSEMBLE_FILES,
    )
    add(
        area,
        "ens_output_never_produced",
        ensemble("ens_output_never_produced", [("member_a", IN, {"OUTPUT0": "MID"})]),
        ENSEMBLE_FILES,
    )
    add(
        area,
        "ens_unused_input",
        ensemble("ens_unused_input", [("member_a", IN, OUT)], inputs=_io("IN", [4]) + ", " + _io("IN2", [4])),
        ENSEMBLE_FILES,
    )
    add(
        area,
        "ens_cycle",
        ensemble(
            "ens_cycle",
            [
                ("member_two_in", {"INPUT0": "IN", "INPUT1": "B"}, {"OUTPUT0": "A"}),
                ("member_two_in", {"INPUT0": "A", "INPUT1": "IN"}, {"OUTPUT0": "B"}),
                ("member_a", {"INPUT0": "A"}, OUT),
            ],
        ),
        ENSEMBLE_FILES,
    )
    add(
        area,
        "ens_self_reference",
        ensemble("ens_self_reference", [("ens_self_reference", {"IN": "IN"}, {"OUT": "OUT"})]),
        ENSEMBLE_FILES,
    )
    add(area, "ens_dtype_mismatch", ensemble("ens_dtype_mismatch", [("member_int", IN, OUT)]), ENSEMBLE_FILES)
    add(area, "ens_shape_mismatch", ensemble("ens_shape_mismatch", [("member_wide", IN, OUT)]), ENSEMBLE_FILES)
    add(
        area,
        "ens_two_writers",
        ensemble("ens_two_writers", [("member_a", IN, OUT), ("member_a", IN, OUT)]),
        ENSEMBLE_FILES,
    )
    add(
        area,
        "ens_two_outputs_one_unused",
        ensemble("ens_two_outputs_one_unused", [("member_two_out", IN, OUT)]),
        ENSEMBLE_FILES,
    )
    add(
        area,
        "ens_missing_member_version",
        ensemble("ens_missing_member_version", [("member_a", IN, OUT)], version=3),
        ENSEMBLE_FILES,
    )
    add(
        area,
        "ens_batch_above_member",
        ensemble("ens_batch_above_member", [("member_a", IN, OUT)], max_batch=16),
        ENSEMBLE_FILES,
    )
    add(
        area,
        "ens_batched_over_unbatched",
        ensemble("ens_batched_over_unbatched", [("member_unbatched", IN, OUT)]),
        ENSEMBLE_FILES,
    )
    add(
        area,
        "ens_unbatched_over_batched",
        ensemble(
            "ens_unbatched_over_batched",
            [("member_a", IN, OUT)],
            max_batch=0,
            inputs=_io("IN", [1, 4]),
            outputs=_io("OUT", [1, 4]),
        ),
        ENSEMBLE_FILES,
    )
    add(area, "ens_unknown_model", ensemble("ens_unknown_model", [("no_such_model", IN, OUT)]), ENSEMBLE_FILES)
    add(
        area,
        "ens_unknown_member_input",
        ensemble("ens_unknown_member_input", [("member_a", {"NOPE": "IN"}, OUT)]),
        ENSEMBLE_FILES,
    )
    add(
        area,
        "ens_no_steps",
        'name: "ens_no_steps"\nplatform: "ensemble"\nmax_batch_size: 8\n'
        f"input [ {_io('IN', [4])} ]\noutput [ {_io('OUT', [4])} ]\nensemble_scheduling {{ }}\n",
        ENSEMBLE_FILES,
    )
    add(area, "ens_no_version_folder", ensemble("ens_no_version_folder", [("member_a", IN, OUT)]), {})
    return found


def write(root: Path, selected: list[Case]) -> None:
    """The shared members and each case's folder under ``root``."""
    for name, config in {**MEMBERS, "bert-base": model("bert-base")}.items():
        (root / name / "1").mkdir(parents=True, exist_ok=True)
        (root / name / "1" / "model.py").write_text(MODEL_PY)
        (root / name / "config.pbtxt").write_text(config)
    for case in selected:
        folder = root / case.name
        folder.mkdir(parents=True)
        (folder / "config.pbtxt").write_text(case.config)
        for relative, content in case.files.items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_text(content)
