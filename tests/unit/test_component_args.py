"""Every component checks its args at construction with one shared helper: an unknown key (with a
close match), a missing required key or a wrong basic type fails before anything is declared,
naming the component, the key path and what is accepted."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import NotRequired, TypedDict

import pulumi
import pytest

import triton_components
from triton_components import TritonServer
from triton_components.common.args import ArgsError, check_args


def _components() -> list[type[pulumi.ComponentResource]]:
    found = {}
    for module in pkgutil.walk_packages(triton_components.__path__, "triton_components."):
        for _, cls in inspect.getmembers(importlib.import_module(module.name), inspect.isclass):
            if issubclass(cls, pulumi.ComponentResource) and cls.__module__.startswith("triton_components."):
                found[cls.__name__] = cls
    return [found[name] for name in sorted(found)]


COMPONENTS = _components()


def test_there_are_components_to_check():
    assert len(COMPONENTS) >= 15 and TritonServer in COMPONENTS


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_every_component_rejects_an_unknown_key_before_declaring_anything(run, component):
    with pytest.raises(ArgsError) as caught:
        run(lambda: component("x", {"definitely_not_an_arg": 1}))
    message = str(caught.value)
    assert message.startswith(f"{component.__name__} 'x'")
    assert "args has unknown key 'definitely_not_an_arg'; Accepted keys: " in message


def server(run, **args):
    with pytest.raises(ArgsError) as caught:
        run(lambda: TritonServer("triton", {"model_repository": "gs://b/m", **args}))
    return str(caught.value)


def test_a_misspelt_key_names_the_close_match_and_every_accepted_key(run):
    assert server(run, model_group=[{"name": "a"}]) == (
        "TritonServer 'triton': args has unknown key 'model_group'; did you mean 'model_groups'? Accepted keys: "
        "model_repository, namespace, create_namespace, namespace_labels, image, image_digest, model_control_mode, "
        "model_groups, "
        "restricted_apis, admin_api_key, service_account_annotations, credentials_file, service_account_name, "
        "extra_env, node_selector, tolerations, pod_annotations"
    )


def test_nested_args_are_checked_with_their_path(run):
    message = server(run, model_groups=[{"name": "a"}, {"name": "b", "replica": 2}])
    assert message.startswith(
        "TritonServer 'triton': args.model_groups[1] has unknown key 'replica'; did you mean 'replicas'? "
        "Accepted keys: name, models, replicas, "
    )


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (
            {"model_groups": [{"name": "a", "replicas": True}]},
            "args.model_groups[0].replicas is True (bool); give int or None",
        ),
        (
            {"model_groups": [{"name": "a", "replicas": "2"}]},
            "args.model_groups[0].replicas is '2' (str); give int or None",
        ),
        ({"restricted_apis": "trace"}, "args.restricted_apis is 'trace' (str); give list of str"),
        ({"create_namespace": "no"}, "args.create_namespace is 'no' (str); give bool"),
        ({"namespace_labels": {"istio-injection": 1}}, "args.namespace_labels['istio-injection'] is 1 (int); give str"),
        ({"model_groups": {"name": "a"}}, "args.model_groups is {'name': 'a'} (dict); give list of ModelGroupArgs"),
        ({"credentials_file": {"content": "x", "file_name": "k.json"}}, "args.credentials_file.env_var is required"),
    ],
)
def test_wrong_basic_types_and_missing_keys_are_named(run, args, problem):
    assert server(run, **args) == f"TritonServer 'triton': {problem}"


def test_several_problems_are_listed_together(run):
    with pytest.raises(ArgsError) as caught:
        run(lambda: TritonServer("triton", {"namespace": 3, "imge": "x"}))
    assert str(caught.value) == (
        "TritonServer 'triton' has 3 problems in its args:\n"
        "  - args has unknown key 'imge'; did you mean 'image'? Accepted keys: model_repository, namespace, "
        "create_namespace, namespace_labels, image, image_digest, model_control_mode, model_groups, restricted_apis, "
        "admin_api_key, "
        "service_account_annotations, credentials_file, service_account_name, extra_env, node_selector, tolerations, "
        "pod_annotations\n"
        "  - args.model_repository is required\n"
        "  - args.namespace is 3 (int); give str"
    )


def test_outputs_are_accepted_where_the_args_take_pulumi_inputs(run):
    render = run(
        lambda: TritonServer(
            "triton",
            {"model_repository": pulumi.Output.from_input("gs://b/m"), "admin_api_key": pulumi.Output.secret("k")},
        )
    )
    assert render.find("kubernetes:apps/v1:Deployment")


class ThingArgs(TypedDict):
    size: int
    label: NotRequired[str | None]


def test_the_error_is_both_a_type_error_and_a_value_error():
    check_args("Thing", "t", {"size": 1, "label": None}, ThingArgs)
    with pytest.raises(TypeError, match=r"^Thing 't': args.size is 1.5 \(float\); give int$"):
        check_args("Thing", "t", {"size": 1.5}, ThingArgs)
    with pytest.raises(ValueError, match=r"^Thing 't': args is \[\] \(list\); give a dict of ThingArgs$"):
        check_args("Thing", "t", [], ThingArgs)  # type: ignore[arg-type]
