"""Optional dependencies of model delivery, imported on first use with an error that names the extra.

The core install (render, validate, ``pulumi up``) stays free of tritonclient and the object-store
clients; ``pip install 'triton-platform[delivery]'`` adds what ``model check`` needs,
``[delivery-<store>]`` adds the client of one cloud's object store (``clouds/<cloud>/store.py``).
"""

from __future__ import annotations

from types import ModuleType

from ..clouds.store import MissingExtra, require

__all__ = ["MissingExtra", "model_config_pb2", "require"]


def model_config_pb2() -> ModuleType:
    """Triton's own ``ModelConfig`` protobuf, as shipped with tritonclient."""
    return require("tritonclient.grpc.model_config_pb2", "delivery", "reading config.pbtxt")
