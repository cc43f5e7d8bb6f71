"""Rules of the Triton servers and their model groups: image policy, model ownership, rollout and
prod replica rules, and ``highest_floor``, the GPU floor of every image a stack runs, which each
cloud's rules hold its GPUs to. Each names the one key a user has to change."""

from __future__ import annotations

from collections.abc import Iterator

from triton_components.common import versions
from triton_components.common.quantities import memory_bytes

from .base import Environment, Problem
from .settings import PlatformSettings

Capability = tuple[int, int]


def check_triton(s: PlatformSettings) -> Iterator[Problem]:
    floor = "%02d.%02d" % versions.TRITON_MINIMUM_RELEASE
    if s.triton.release < versions.TRITON_MINIMUM_RELEASE:
        if not s.triton.allow_vulnerable_image:
            yield Problem(
                ("triton", "imageTag"),
                s.triton.image_tag,
                f"Triton releases before {floor} have published critical CVEs (NVIDIA bulletins 5535, 5687); "
                f"use {floor} or newer, or set triton.allowVulnerableImage: true outside prod",
            )
    if s.triton.allow_vulnerable_image and s.environment is Environment.PROD:
        yield Problem(("triton", "allowVulnerableImage"), True, "is not allowed in prod; use a patched image instead")
    seen: set[str] = set()
    for i, api in enumerate(s.triton.restricted_apis):
        if api in seen:
            yield Problem(("triton", "restrictedApis", i), api, "is listed twice; Triton refuses an API in two groups")
        seen.add(api)


def check_model_groups(s: PlatformSettings) -> Iterator[Problem]:
    owner: dict[str, str] = {}
    names: set[str] = set()
    explicit = s.triton.model_control_mode == "explicit"
    for i, g in enumerate(s.model_groups):
        at = ("modelGroups", i)
        if g.name in names:
            yield Problem((*at, "name"), g.name, "is used by another model group; names must be unique")
        names.add(g.name)
        for j, model in enumerate(g.models):
            if model in owner:
                yield Problem(
                    (*at, "models", j),
                    model,
                    f"is already served by model group {owner[model]!r}; a model belongs to one group",
                )
            owner.setdefault(model, g.name)
        if g.models and not explicit:
            yield Problem(
                (*at, "models"),
                g.models,
                "lists models, but triton.modelControlMode is 'none', which loads the whole repository; "
                "set triton.modelControlMode: explicit",
            )
        if explicit and not g.models:
            yield Problem(
                (*at, "models"),
                [],
                "is empty, but triton.modelControlMode is 'explicit', so this group would load nothing",
            )
        if g.max_surge == 0 and g.max_unavailable == 0:
            yield Problem((*at, "maxUnavailable"), 0, "is 0 and maxSurge is 0; Kubernetes needs one of them above 0")
        if memory_bytes(g.shm_size) >= memory_bytes(g.memory):
            yield Problem(
                (*at, "shmSize"),
                g.shm_size,
                f"must be below memory ({g.memory}): /dev/shm is memory-backed and counts against it",
            )
        # Autoscaled groups are held to the same rule on autoscaling.minReplicas (observability.py).
        if (
            s.environment is Environment.PROD
            and g.autoscaling is None
            and g.replicas < 2
            and not g.accept_single_replica
        ):
            yield Problem(
                (*at, "replicas"),
                g.replicas,
                "prod needs at least 2 replicas so a rollout or node drain keeps serving; "
                "or set acceptSingleReplica: true to waive it",
            )
        if g.canary is not None and g.replicas == 0:
            yield Problem((*at, "canary"), "set", "needs a stable track: set replicas to 1 or more")
        if g.canary is not None and g.canary.image_tag is None and g.canary.model_repository_path is None:
            yield Problem((*at, "canary"), "set", "changes nothing: set imageTag and/or modelRepositoryPath")


def highest_floor(settings: PlatformSettings) -> tuple[str, str, tuple[tuple[int, int], Capability]]:
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


def cc(capability: Capability) -> str:
    return "%d.%d" % capability


def floor_needs(settings: PlatformSettings) -> tuple[Capability, str]:
    """The GPU floor of the stack's images, and the sentence a GPU problem quotes for it."""
    tag, where, (first, floor) = highest_floor(settings)
    needs = (
        f"Triton {tag} ({where}) supports compute capability {cc(floor)} and newer "
        f"(release notes: every release from {'%02d.%02d' % first})"
    )
    return floor, needs
