"""Settings that two concerns' args contracts share, declared once.

A model group's load budget sizes its pods' startup probe (serving) and how long the "not ready" alert
waits (observability); serving and observability never import each other, so the one ``Setting`` both
contracts annotate their key with lives here.
"""

from __future__ import annotations

from .args import Setting

#: ``model_load_timeout_seconds``: the budget for loading every model of a group.
MODEL_LOAD_TIMEOUT_SECONDS = Setting(600, ge=30, le=7200)
