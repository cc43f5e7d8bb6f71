"""The clouds a stack can provision. Importing this package registers the built-in ones; each is one
folder (its layer, preview checks and render mocks) that registers itself in ``registry``."""

from . import aws, gcp  # noqa: F401 - each registers itself on import
from .registry import Cloud, register, registered, stack_cloud

__all__ = ["Cloud", "register", "registered", "stack_cloud"]
