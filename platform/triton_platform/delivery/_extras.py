"""Optional dependencies of model delivery, imported on first use with an error that names the extra.

The core install (render, validate, ``pulumi up``) stays free of tritonclient and the object-store
clients; ``pip install 'triton-platform[delivery]'`` adds what ``model check`` needs,
``[delivery-gcs]`` / ``[delivery-s3]`` add the client of one object store.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtra(RuntimeError):
    """An optional dependency is not installed; the message says which extra brings it."""


def require(module: str, extra: str, purpose: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtra(
            f"{purpose} needs the Python package that provides '{module}' ({error}); "
            f"install it with: pip install 'triton-platform[{extra}]'"
        ) from None


def model_config_pb2() -> ModuleType:
    """Triton's own ``ModelConfig`` protobuf, as shipped with tritonclient."""
    return require("tritonclient.grpc.model_config_pb2", "delivery", "reading config.pbtxt")
