"""Which file Triton loads from a version folder, per backend and platform (Triton's backend docs)."""

from __future__ import annotations

from typing import Any

#: The model file each platform / backend loads from a version folder when the config names none
#: (``default_model_filename``). Triton's backend docs; a trailing ``/`` is a directory.
PLATFORM_FILES = {
    "tensorrt_plan": "model.plan",
    "onnxruntime_onnx": "model.onnx",
    "pytorch_libtorch": "model.pt",
    "tensorflow_graphdef": "model.graphdef",
    "tensorflow_savedmodel": "model.savedmodel/",
}
BACKEND_FILES = {
    "tensorrt": "model.plan",
    "onnxruntime": "model.onnx",
    "pytorch": "model.pt",
    "python": "model.py",
    "openvino": "model.xml",
    "dali": "model.dali",
    "vllm": "model.json",
}
#: Backends in NVIDIA's Triton images (``-py3``, ``-vllm-python-py3``, ``-trtllm-python-py3``)
#: whose model files are not one fixed name; the folder is checked to exist only.
OTHER_KNOWN_BACKENDS = frozenset({"tensorflow", "fil", "tensorrtllm", "identity", "repeat", "square"})


def declared_model_file(config: Any) -> str | None:
    """The model file a ``ModelConfig`` makes Triton look for; None for ensembles and unknown backends."""
    if config.platform == "ensemble":
        return None
    if config.default_model_filename:
        return config.default_model_filename
    # With both set, Triton loads through the backend; platform names the file for tensorflow.
    if config.backend in BACKEND_FILES:
        return BACKEND_FILES[config.backend]
    return PLATFORM_FILES.get(config.platform)
