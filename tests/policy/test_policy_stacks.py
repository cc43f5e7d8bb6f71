"""Every committed stack passes the whole policy pack, so a CrossGuard run would not block it."""

from __future__ import annotations

from pathlib import Path

import pytest

import triton_policy_rules as rules
from triton_platform.review.render import render_stack, stack_files

ROOT = Path(__file__).resolve().parents[2]
STACKS = sorted(stack_files(ROOT))


@pytest.mark.parametrize("stack", STACKS)
def test_rendered_stack_has_no_policy_violations(stack):
    render = render_stack(ROOT, stack)
    payload = {"stack": stack, "resources": render.resources}
    resources = rules.from_render(payload)
    assert any(r.type.startswith("kubernetes:") for r in resources), "the render is empty: nothing was checked"
    violations = rules.validate_render(payload)
    assert violations == [], "\n".join(str(v) for v in violations)


def test_a_prod_render_with_a_key_would_be_rejected():
    """Guards the test above against passing vacuously: the same machinery does find violations."""
    stack = "prod" if "prod" in STACKS else STACKS[0]
    render = render_stack(ROOT, stack)
    assert rules.validate_render({"stack": "prod", "resources": render.resources}) == []
    payload = {
        "stack": "prod",
        "resources": [
            *render.resources,
            {"type": "gcp:serviceaccount/key:Key", "name": "leaked", "custom": True, "inputs": {}, "dependsOn": []},
        ],
    }
    violations = rules.validate_render(payload)
    assert [v.policy for v in violations] == ["no-key-mode-in-prod"]
