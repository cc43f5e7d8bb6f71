"""Load ``policy/triton_policy_rules.py`` (the pack directory is not a package) once per session."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

RULES_PATH = Path(__file__).resolve().parents[2] / "policy" / "triton_policy_rules.py"


def _load():
    name = "triton_policy_rules"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, RULES_PATH)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses resolve annotations through sys.modules
        spec.loader.exec_module(module)
    return sys.modules[name]


rules = _load()
