"""The clouds a stack can provision. Importing this package registers the built-in ones; each is one
folder (its settings and rules, layer, preview checks, render mocks, diff replacement rules and model
store) that registers itself in ``registry``."""

# Each registers itself on import; GCP first, so the order of sections, schemes and messages stays.
# isort: off
from . import gcp  # noqa: F401
from . import aws  # noqa: F401

# isort: on
from .registry import Cloud, register, registered, stack_cloud

__all__ = ["Cloud", "register", "registered", "stack_cloud"]
