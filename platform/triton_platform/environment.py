"""The public entry point of composition (``stacks/__main__.py`` imports it); the code is in ``compose``."""

from .compose.environment import build_environment, model_group_args

__all__ = ["build_environment", "model_group_args"]
