"""Every rule over a structurally valid stack: each concern's, then each registered cloud's.

Each rule yields a ``Problem`` naming the one key to change, its value and what is accepted. They
all run, so a user sees every problem of a stack file at once.
"""

from __future__ import annotations

from collections.abc import Iterator

from .base import Problem
from .cluster_rules import check_cluster
from .mesh_rules import check_mesh
from .observability_rules import check_observability
from .serving_rules import check_model_groups, check_triton
from .settings import PlatformSettings, cloud_sections


def check(settings: PlatformSettings) -> list[Problem]:
    problems = [*check_triton(settings), *check_model_groups(settings), *_model_repository(settings)]
    for section in cloud_sections():
        value = getattr(settings, section.key, None)
        if value is not None:
            problems += section.check(settings, value)
    return [*problems, *check_cluster(settings), *check_mesh(settings), *check_observability(settings)]


def _model_repository(s: PlatformSettings) -> Iterator[Problem]:
    repo = s.triton.model_repository
    sections = cloud_sections()
    present = [c.key for c in sections if getattr(s, c.key, None) is not None]
    if len(present) > 1:
        yield Problem(
            (present[1],),
            "set",
            f"a stack targets one cloud: keep either the {' or the '.join(present)} section",
        )
    schemes = [f"{c.repository_scheme}://" for c in sections if c.repository_scheme]
    if s.cloud != "none":
        if repo is not None:
            yield Problem(
                ("triton", "modelRepository"),
                repo,
                f"is set, but this stack creates its own model bucket ({s.cloud}.modelBucket); "
                "remove triton.modelRepository",
            )
    elif repo is None:
        yield Problem(
            ("triton", "modelRepository"),
            None,
            f"is required when the stack provisions no cloud (no {' or '.join(c.key for c in sections)} section): "
            f"give {', '.join(schemes)} or an absolute path",
        )
    elif not (repo.startswith((*schemes, "/")) and len(repo) > 5):
        yield Problem(
            ("triton", "modelRepository"),
            repo,
            f"must be a {', '.join(f'{scheme}bucket/path' for scheme in schemes)} or an absolute path",
        )
