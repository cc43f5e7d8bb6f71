"""A model group's object names are spelled once (``triton_components.common.names``).

Routing, monitors, autoscalers, alerts and the delivery commands find a group's objects by name;
the rendered stacks must use exactly those names, and no other module may spell them again.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from triton_components.common import labels, names

ROOT = Path(__file__).resolve().parents[2]
STACKS = sorted(p.name for p in (ROOT / "tests" / "golden").iterdir() if p.is_dir())

GROUP = labels.MODEL_GROUP_LABEL
#: Names that are per stack or environment, not per model group.
_NOT_GROUP_NAMES = re.compile(r"triton-\{(environment|stack|args\['environment'\])\}")


def _objects(stack: str, kind: str) -> list[dict]:
    """The stack's rendered Kubernetes objects of one kind (its recorded render, held equal to the live one)."""
    manifests = (ROOT / "tests" / "golden" / stack / "manifests.yaml").read_text()
    return [o for o in yaml.safe_load_all(manifests) if o and o.get("kind") == kind]


@pytest.mark.parametrize("stack", STACKS)
def test_rendered_group_objects_carry_the_names_module_names(stack: str) -> None:
    group_of = {
        d["metadata"]["name"]: d["metadata"]["labels"][GROUP]
        for d in _objects(stack, "Deployment")
        if GROUP in d["metadata"].get("labels", {})
    }
    assert group_of, f"{stack}: no model-group Deployment rendered"
    deployments, groups = set(group_of), set(group_of.values())
    expected = {names.deployment_name(g) for g in groups}
    assert expected <= deployments
    assert deployments <= expected | {names.deployment_name(g, names.CANARY) for g in groups}
    services = {s["metadata"]["name"] for s in _objects(stack, "Service") if GROUP in s["metadata"].get("labels", {})}
    assert services == {names.group_object_name(g) for g in groups}
    for deployment, group in group_of.items():
        assert re.fullmatch(names.pod_regex(group), f"{deployment}-7d9f8c6b5-x2x9q"), deployment
    for scaled in _objects(stack, "ScaledObject"):
        group = scaled["metadata"]["labels"][GROUP]
        assert scaled["metadata"]["name"] == names.scaled_object_name(group)
        assert scaled["spec"]["scaleTargetRef"]["name"] == names.deployment_name(group)
        hpa = scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["name"]
        assert hpa == names.hpa_name(group) and re.fullmatch(names.HPA_NAME_REGEX, hpa)


def test_a_group_pod_regex_matches_no_other_group() -> None:
    assert not re.fullmatch(names.pod_regex("text"), "triton-text-embed-7d9f8c6b5-x2x9q")
    assert re.fullmatch(names.pod_regex("text"), "triton-text-canary-7d9f8c6b5-x2x9q")


def test_no_other_module_spells_a_group_object_name() -> None:
    own = ROOT / "components" / "triton_components" / "common" / "names.py"
    offenders = []
    for package in ("components", "platform", "stacks"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == own:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                spelled = re.search(r"""f["']triton-\{""", line) and not _NOT_GROUP_NAMES.search(line)
                if spelled or "keda-hpa-" in line:
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "spell group object names through triton_components.common.names:\n" + "\n".join(offenders)
