"""The public entry point of ``triton-platform bench``; the runner is ``triton_platform.review.bench``."""

from ..review.bench import run

__all__ = ["run"]
