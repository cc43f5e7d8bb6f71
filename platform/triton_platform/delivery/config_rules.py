"""Rules on one parsed ``ModelConfig``: what Triton rejects when it loads it, and what a group can serve.

Each rule yields ``(field, message, rule)``; ``check`` adds the file. ``rule`` is ``mirror`` for a
fast check of a rule Triton has (its message quotes Triton's, seen on the real server in
``tests/delivery``; Triton's own verdict replaces it when Triton runs in the check) and ``ours`` for
a rule of this platform that Triton does not have.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .group import GroupSpec

Finding = tuple[str, str]
Rule = tuple[str, str, str]
MIRROR, OURS = "mirror", "ours"


def check_config(config: Any, model: str, group: GroupSpec | None) -> Iterator[Rule]:
    for found in (*_model(config), *_batching(config)):
        yield (*found, MIRROR)
    yield from _tensors(config)
    yield from _instances(config, model, group)


def _model(config: Any) -> Iterator[Finding]:
    if config.max_batch_size < 0:
        yield "max_batch_size", f"is {config.max_batch_size}; use 0 (no batching) or a positive batch size"
    if config.platform == "ensemble" and not config.HasField("ensemble_scheduling"):
        yield "ensemble_scheduling", "is missing; an ensemble lists its steps there"


def _tensors(config: Any) -> Iterator[Rule]:
    for found in _tensor_rules(config):
        yield found if len(found) == 3 else (*found, MIRROR)


def _tensor_rules(config: Any) -> Iterator[Finding | Rule]:
    type_invalid = 0  # DataType.TYPE_INVALID
    for kind in ("input", "output"):
        seen: set[str] = set()
        for i, tensor in enumerate(getattr(config, kind)):
            at = f"{kind}[{i}]" + (f" {tensor.name!r}" if tensor.name else "")
            if not tensor.name:
                yield at, "has no name; Triton requires one"
            elif tensor.name in seen:
                # Triton 2.51 loads such a model; a client cannot tell the two apart.
                yield f"{at}.name", f"{tensor.name!r} is used by two {kind}s; names must be unique", OURS
            seen.add(tensor.name)
            if tensor.data_type == type_invalid:
                yield f"{at}.data_type", "is not set; give one such as TYPE_FP32"
            if not tensor.dims:
                yield (
                    f"{at}.dims",
                    "is not set; Triton requires dims (without the batch dimension when max_batch_size > 0)",
                )
            bad = [d for d in tensor.dims if d == 0 or d < -1]
            if bad:
                yield f"{at}.dims", f"has {bad}; each dimension is >= 1, or -1 for a variable size"
            elif tensor.HasField("reshape") and _elements(tensor.dims) != _elements(tensor.reshape.shape):
                yield (
                    f"{at}.reshape",
                    f"shape {list(tensor.reshape.shape)} holds a different number of elements "
                    f"than dims {list(tensor.dims)}; Triton refuses it ('has different size for dims and reshape')",
                )


def _elements(shape: Any) -> int | None:
    """Number of elements of a fixed shape; None when a dimension is variable (-1)."""
    count = 1
    for dim in shape:
        if dim < 0:
            return None
        count *= dim
    return count


def _batching(config: Any) -> Iterator[Finding]:
    if not config.HasField("dynamic_batching"):
        return
    preferred = list(config.dynamic_batching.preferred_batch_size)
    too_big = [size for size in preferred if config.max_batch_size > 0 and size > config.max_batch_size]
    if too_big:
        yield (
            "dynamic_batching.preferred_batch_size",
            f"has {too_big} above max_batch_size {config.max_batch_size}; Triton requires preferred sizes <= max batch size",
        )


def _instances(config: Any, model: str, group: GroupSpec | None) -> Iterator[Rule]:
    kind_gpu = 1  # ModelInstanceGroup.Kind.KIND_GPU
    for i, instances in enumerate(config.instance_group):
        at = f"instance_group[{i}]"
        if group is None:
            continue
        gpus = group.gpus_per_replica
        if instances.kind == kind_gpu and gpus == 0:
            yield (
                f"{at}.kind",
                f"is KIND_GPU but group {group.name!r} has gpusPerReplica 0; Triton fails with 'no GPUs are "
                "available' (use KIND_CPU, or give the group GPUs)",
                OURS,
            )
        outside = [g for g in instances.gpus if g >= gpus]
        if outside and gpus > 0:
            yield (
                f"{at}.gpus",
                f"names GPU(s) {outside} but group {group.name!r} gives each pod {gpus} GPU(s), numbered 0..{gpus - 1}",
                OURS,
            )
