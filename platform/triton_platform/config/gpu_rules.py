"""GPUs the Triton images of a stack can run on: each release supports CUDA compute capability from a
floor up (``versions.TRITON_COMPUTE_CAPABILITY_FLOORS``), and a pool of older GPUs would schedule
pods whose every CUDA call fails. The floor is the highest of every image the stack runs (the
stable ``triton.imageTag`` and each canary's ``imageTag``), so a canary on a newer release is held to
its own floor.
"""

from __future__ import annotations

from collections.abc import Iterator

from triton_components.aws import catalog as aws_catalog
from triton_components.common import versions
from triton_components.gcp import catalog as gcp_catalog

from .base import Problem
from .models import PlatformSettings

Capability = tuple[int, int]


def check_gpus(settings: PlatformSettings) -> Iterator[Problem]:
    tag, where, (first, floor) = _highest_floor(settings)
    needs = (
        f"Triton {tag} ({where}) supports compute capability {_cc(floor)} and newer "
        f"(release notes: every release from {'%02d.%02d' % first})"
    )
    if settings.gcp is not None:
        accelerator = settings.gcp.gpu_pool.accelerator_type
        gpu = gcp_catalog.GPUS.get(accelerator)
        if gpu is not None and gpu[2] < floor:
            usable = sorted(a for a, (_, _, cc) in gcp_catalog.GPUS.items() if cc >= floor)
            yield Problem(
                ("gcp", "gpuPool", "acceleratorType"),
                accelerator,
                f"is a {gpu[0]} ({gpu[1]}, compute capability {_cc(gpu[2])}); {needs}: use "
                f"{', '.join(usable[:-1])} or {usable[-1]}",
            )
    if settings.aws is not None:
        usable = [f for f, (_, _, cc) in aws_catalog.GPUS.items() if cc >= floor]
        for i, instance in enumerate(settings.aws.gpu_node_group.instance_types):
            gpu = aws_catalog.GPUS.get(aws_catalog.family_of(instance) or "")
            if gpu is not None and aws_catalog.gpus_of(instance) is not None and gpu[2] < floor:
                yield Problem(
                    ("aws", "gpuNodeGroup", "instanceTypes", i),
                    instance,
                    f"has {gpu[0]} GPUs ({gpu[1]}, compute capability {_cc(gpu[2])}); {needs}: use a type of the "
                    f"{', '.join(usable)} families",
                )


def _highest_floor(settings: PlatformSettings) -> tuple[str, str, tuple[tuple[int, int], Capability]]:
    """The image with the strictest GPU floor: its tag, the key naming it, and its floor."""
    images = [(settings.triton.image_tag, "triton.imageTag")]
    for i, group in enumerate(settings.model_groups):
        if group.canary is not None and group.canary.image_tag is not None:
            images.append((group.canary.image_tag, f"modelGroups[{i}].canary.imageTag"))
    floors = [(versions.triton_compute_capability_floor(_release(tag)), tag, where) for tag, where in images]
    floor, tag, where = max(floors, key=lambda f: f[0][1])
    return tag, where, floor


def _release(tag: str) -> tuple[int, int]:
    year, month = tag.split("-", 1)[0].split(".")[:2]
    return int(year), int(month)


def _cc(capability: Capability) -> str:
    return "%d.%d" % capability
