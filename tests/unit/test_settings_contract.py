"""A key's default and limits are declared once, as a ``Setting`` on the key in its args ``TypedDict``:
the component fills the default and refuses a value outside the limits, and the key's docstring
states the same default (a reader of the args sees it without running anything)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import typing

import pytest

import triton_components
from triton_components.common.args import ArgsError, Setting, check_args, settings_of
from triton_components.mesh.routing_args import OutlierDetectionArgs, RetryArgs
from triton_components.serving.model_group_args import ModelGroupArgs

_FIELD_DOCS = importlib.import_module("triton_platform.config.field_docs")


def _contracts() -> list[type]:
    """Every args TypedDict in the components package that declares at least one Setting."""
    found: dict[str, type] = {}
    for module in pkgutil.walk_packages(triton_components.__path__, "triton_components."):
        try:
            loaded = importlib.import_module(module.name)
        except ImportError:  # a cloud SDK that is not installed: its args module has no SDK, and is walked too
            continue
        for value in vars(loaded).values():
            if typing.is_typeddict(value) and value.__module__ == loaded.__name__ and settings_of(value):
                found[f"{value.__module__}.{value.__name__}"] = value
    return [found[name] for name in sorted(found)]


CONTRACTS = _contracts()


def test_the_settings_cover_the_contracts_config_reads():
    names = {c.__name__ for c in CONTRACTS}
    assert {
        "ModelGroupArgs",
        "RetryArgs",
        "OutlierDetectionArgs",
        "TritonRoutingArgs",
        "GkeGpuNodePoolArgs",
        "TritonAutoscalerArgs",
        "EksGpuNodeGroupArgs",
        "GcsModelBucketArgs",
        "GkeClusterArgs",
        "GcpModelReaderIdentityArgs",
        "GkeSecretsKeyArgs",
        "S3ModelBucketArgs",
        "AwsModelReaderIdentityArgs",
        "IstioInstallationArgs",
        "MeshSecurityArgs",
        "JwtArgs",
        "TritonEgressPolicyArgs",
        "AlertThresholdsArgs",
        "TritonMonitoringArgs",
    } <= names


def _stated_default(doc: str) -> str | None:
    found = re.search(r"Default: (.+?)\.?$", doc)
    return found.group(1) if found else None


def _shown(value: object) -> set[str]:
    """How a docstring may write a default: ``"4"``, ``4``, 600, True, ``nvidia-tesla-t4``."""
    texts = {str(value)}
    if isinstance(value, tuple):
        texts.add(json.dumps(list(value)))
    if isinstance(value, float) and value.is_integer():
        texts.add(str(int(value)))
    return {form for text in texts for form in (text, f"``{text}``", f'``"{text}"``', f"``{value!r}``")} | {repr(value)}


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.__name__)
def test_every_setting_default_is_the_one_its_docstring_states(contract):
    docs = _FIELD_DOCS.field_docstrings(contract)
    for key, setting in settings_of(contract).items():
        stated = _stated_default(docs.get(key, ""))
        if stated is None or setting.default is None:
            continue  # "Required." keys (defaulted only with their parent), and None: a value computed from others
        stated = stated.split(" (")[0]
        assert stated.split(",")[0].strip() in _shown(setting.default) or stated in _shown(setting.default), (
            f"{contract.__name__}.{key}: docstring says Default: {stated}, its Setting says {setting.default!r}"
        )


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.__name__)
def test_every_default_is_within_its_own_limits(contract):
    for key, setting in settings_of(contract).items():
        assert setting.problem(setting.default) is None, f"{contract.__name__}.{key}: default {setting.default!r}"


@pytest.mark.parametrize(
    ("contract", "args", "message"),
    [
        (ModelGroupArgs, {"name": "a", "model_load_timeout_seconds": 29}, "give a number from 30 to 7200"),
        (ModelGroupArgs, {"name": "a", "replicas": -1}, "args.replicas is -1; give a number from 0 to 100"),
        (RetryArgs, {"attempts": 3, "per_try_timeout_seconds": 5}, "args.attempts is 3; give a number from 0 to 2"),
        (
            OutlierDetectionArgs,
            {
                "consecutive_5xx_errors": 0,
                "interval_seconds": 1,
                "base_ejection_time_seconds": 1,
                "max_ejection_percent": 1,
            },
            "args.consecutive_5xx_errors is 0; give a number from 1 to 100",
        ),
    ],
)
def test_a_value_outside_a_settings_limits_is_refused_with_them(contract, args, message):
    with pytest.raises(ArgsError, match=re.escape(message)):
        check_args("Component", "x", args, contract)


def test_a_value_on_a_limit_is_accepted_and_none_stays_allowed_where_the_type_allows_it():
    check_args("Component", "x", {"name": "a", "model_load_timeout_seconds": 30, "replicas": None}, ModelGroupArgs)
    check_args("Component", "x", {"name": "a", "model_load_timeout_seconds": 7200}, ModelGroupArgs)


def test_an_exclusive_upper_bound_is_refused_on_it_and_named():
    ratio = Setting(0.05, gt=0, lt=1)
    assert ratio.problem(1) == "give a number above 0 and below 1"
    assert ratio.problem(0.99) is None
    assert Setting(0, lt=10).problem(10) == "give a number below 10"


def test_a_pattern_setting_names_what_it_accepts():
    setting = Setting("/x", pattern=r"(/[a-z]+)+", accepts="a path such as /x")
    assert setting.problem("/x/") == "give a path such as /x"
    assert Setting("a", pattern=r"[a-z]+").problem("A") == "give a text matching [a-z]+"


def test_defaults_fill_only_keys_that_have_one():
    from triton_components.common.args import with_defaults
    from triton_components.mesh.routing_args import CanaryRouteArgs

    assert with_defaults({}, CanaryRouteArgs) == {}  # both weights are required: no sentinel is filled in
    assert with_defaults({"name": "a"}, ModelGroupArgs)["model_load_timeout_seconds"] == 600
