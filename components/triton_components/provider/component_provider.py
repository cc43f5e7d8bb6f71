"""The component provider that serves every public component to any Pulumi language.

Pulumi's ``pulumi.provider.experimental`` infers a package schema from a component's typed args and
output annotations. Ours are written as the Python API needs them, so four gaps are bridged here
rather than by bending the args contracts:

* the annotations are strings (``from __future__ import annotations``); they are evaluated with the
  same resolution ``check_args`` uses, so the schema and the Python check read one contract;
* ``Literal`` choices become their basic type: which values are accepted stays the component's own
  check, with its own message, and the field's docstring (the schema's description) lists them;
* keys holding Pulumi resources (``wait_for``) and attributes that are resources (child components,
  SDK objects) exist for Python callers only: another language orders work with ``dependsOn`` and
  reads the declared outputs, so they are left out of the schema;
* ``construct`` hands the component the args the way a Python caller would, unknown keys and wrong
  types included, so bad input from YAML or Go fails with the same one-line ``ArgsError``
  (the stock provider drops unknown keys and truncates a fractional number given for an integer).
"""

from __future__ import annotations

import ast
import collections.abc
import importlib.metadata
import inspect
import json
import sys
import textwrap
import types
import typing
from typing import Any, Literal, NotRequired, Required, Union

import pulumi
from pulumi.provider.experimental.analyzer import (
    Analyzer,
    ComponentDefinition,
    PropertyDefinition,
    PropertyType,
    TypeDefinition,
)
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.experimental.schema import generate_schema
from pulumi.provider.experimental.util import camel_case
from pulumi.provider.provider import ConstructResult, Provider
from pulumi.provider.server import ComponentInitError

from ..common.args import contract_fields, resolve_annotation
from ..common.lazy_exports import DISTRIBUTION

#: The package name: the first part of every component's type token (``tritonplatform:index:TritonServer``).
PACKAGE_NAME = "tritonplatform"


def public_components() -> list[type[pulumi.ComponentResource]]:
    """Every ComponentResource in the public API (``__all__`` of the package and its cloud
    subpackages), in that order. Loads both cloud SDKs."""
    import triton_components
    from triton_components import aws, gcp

    found: list[type[pulumi.ComponentResource]] = []
    for module in (triton_components, gcp, aws):
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) and issubclass(value, pulumi.ComponentResource):
                found.append(value)
    return found


def package_version() -> str:
    return importlib.metadata.version(DISTRIBUTION)


def is_python_only(annotation: Any) -> bool:
    """Whether an args key or attribute holds Pulumi resources, which only a Python caller can give
    or use."""
    if inspect.isclass(annotation) and issubclass(annotation, pulumi.Resource):
        return True
    return any(is_python_only(arg) for arg in typing.get_args(annotation))


def plain_literals(annotation: Any) -> Any:
    """``annotation`` with every ``Literal[...]`` replaced by the type of its values."""
    origin, params = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        (kind,) = {type(value) for value in params}
        return kind
    if not params:
        return annotation
    plain = tuple(plain_literals(p) for p in params)
    if plain == params:
        return annotation
    if origin in (Union, types.UnionType):
        return Union[plain]  # noqa: UP007 - rebuilt from its parts
    if origin in (NotRequired, Required):
        return origin[plain[0]]
    if origin in (list, dict, collections.abc.Sequence, collections.abc.Mapping, collections.abc.MutableMapping):
        return origin[plain if len(plain) > 1 else plain[0]]
    raise TypeError(f"cannot describe {annotation!r} in the package schema")


def declared_bases(cls: type) -> list[type]:
    """The classes ``cls`` is declared to extend (a TypedDict keeps none at run time), read from its source."""
    try:
        (node,) = ast.parse(textwrap.dedent(inspect.getsource(cls))).body
    except (OSError, TypeError, ValueError):
        return []
    namespace = vars(sys.modules[cls.__module__])
    bases = [namespace.get(base.id) for base in getattr(node, "bases", []) if isinstance(base, ast.Name)]
    return [base for base in bases if inspect.isclass(base)]


class ContractAnalyzer(Analyzer):
    """The stock analyzer, reading each component's args contract and declared outputs."""

    def analyze_component(self, component: type[pulumi.ComponentResource]) -> ComponentDefinition:
        raw = inspect.get_annotations(component.__init__).get("args")
        if raw is None:
            raise TypeError(f"{component.__name__}.__init__ has no annotated 'args'")
        args = resolve_annotation(raw, component.__module__)
        definition = super().analyze_component(component)  # outputs and description, via analyze_type
        definition.inputs, definition.inputs_mapping = self.analyze_type(args, is_component_output=False)
        return definition

    def get_docstring(self, typ: type, name: str) -> str | None:
        # A field inherited from a base args class (TritonModelGroupArgs from ModelGroupArgs) has its
        # docstring there; shown as Python's help() shows it, continuation lines not indented.
        text = super().get_docstring(typ, name)
        if text:
            return inspect.cleandoc(text)
        for base in declared_bases(typ):
            text = self.get_docstring(base, name)
            if text:
                return text
        return None

    def analyze_type(
        self, typ: type, *, is_component_output: bool
    ) -> tuple[dict[str, PropertyDefinition], dict[str, str]]:
        if isinstance(typ, str):  # the stock analyze_component passes the args annotation as written
            return {}, {}
        if typing.is_typeddict(typ):
            annotations, required = contract_fields(typ)
            optional = set(annotations) - required
        else:  # a component: its declared outputs
            annotations, optional = {}, set()
            for cls in reversed(typ.__mro__):
                if cls.__module__.split(".")[0] in ("builtins", "pulumi"):
                    continue
                for key, raw in inspect.get_annotations(cls).items():
                    annotations[key] = resolve_annotation(raw, cls.__module__)
        kept = {
            key: plain_literals(annotation)
            for key, annotation in annotations.items()
            if not key.startswith("_") and not is_python_only(annotation)
        }
        properties = {
            camel_case(key): self.analyze_property(
                annotation,
                typ,
                key,
                can_be_plain=not is_component_output,
                is_component_output=is_component_output,
                optional=True if key in optional else None,
            )
            for key, annotation in kept.items()
        }
        return properties, {camel_case(key): key for key in kept}


def sdk_type_names(
    type_defs: dict[str, TypeDefinition], component_defs: dict[str, ComponentDefinition]
) -> dict[str, TypeDefinition]:
    """``type_defs`` renamed as Pulumi packages name their types: without the ``Args`` suffix our
    TypedDicts carry, which every SDK adds to an input shape itself (Go would say ``ModelGroupArgsArgs``)."""
    renames = {name: name.removesuffix("Args") for name in type_defs if name.endswith("Args") and name != "Args"}
    taken = [*component_defs, *(renames.get(name, name) for name in type_defs)]
    clashes = sorted({name for name in taken if taken.count(name) > 1})
    if clashes:
        raise ValueError(f"schema type names clash once 'Args' is dropped: {', '.join(clashes)}")
    prefix = f"#/types/{PACKAGE_NAME}:index:"

    def rename(prop: PropertyDefinition | None) -> None:
        if prop is None:
            return
        if prop.ref and prop.ref.startswith(prefix):
            name = prop.ref.removeprefix(prefix)
            prop.ref = prefix + renames.get(name, name)
        rename(prop.items)
        rename(prop.additional_properties)

    for component in component_defs.values():
        for prop in [*component.inputs.values(), *component.outputs.values()]:
            rename(prop)
    renamed: dict[str, TypeDefinition] = {}
    for name, definition in type_defs.items():
        for prop in definition.properties.values():
            rename(prop)
        definition.name = renames.get(name, name)
        definition.description = inspect.cleandoc(definition.description) if definition.description else None
        renamed[definition.name] = definition
    return renamed


class TritonComponentProvider(ComponentProvider):
    """Serves ``components`` (by default every public one) as the ``tritonplatform`` package."""

    def __init__(
        self,
        components: list[type[pulumi.ComponentResource]] | None = None,
        version: str | None = None,
    ) -> None:
        components = public_components() if components is None else components
        version = package_version() if version is None else version
        self._name = PACKAGE_NAME
        self.analyzer = ContractAnalyzer(PACKAGE_NAME)
        result = self.analyzer.analyze(components)
        self._components = {component.__name__: component for component in components}
        self._component_defs = result["component_definitions"]
        self._type_defs = sdk_type_names(result["type_definitions"], self._component_defs)
        self._external_enum_types = result["external_enum_types"]
        self._dependencies = sorted(result["dependencies"], key=lambda d: f"{d.name}{d.version}")
        self.package_schema: dict[str, Any] = generate_schema(
            PACKAGE_NAME, version, None, self._component_defs, self._type_defs, self._dependencies
        ).to_json()
        # Go's generator writes the input shape of an object type only where some property takes it
        # as an Input; ours are plain lists of args objects (model groups, route groups), whose
        # `XArgs` it then references without writing it, and the SDK does not compile.
        self.package_schema["language"]["go"]["generateExtraInputTypes"] = True
        Provider.__init__(
            self, version, json.dumps(self.package_schema)
        )  # the schema built above, not a second analysis

    def construct(
        self,
        name: str,
        resource_type: str,
        inputs: pulumi.Inputs,
        options: pulumi.ResourceOptions | None = None,
    ) -> ConstructResult:
        self.validate_resource_type(self._name, resource_type)
        component_name = resource_type.rsplit(":", maxsplit=1)[-1]
        if component_name not in self._components:
            raise ValueError(
                f"{resource_type} is not a component of {PACKAGE_NAME}; it has {', '.join(sorted(self._components))}"
            )
        definition = self._component_defs[component_name]
        args = self._python_args(inputs, definition.inputs, definition.inputs_mapping)
        try:
            # Every component here takes (name, args, opts), not ComponentResource's (type, name, props, opts).
            component: collections.abc.Callable[..., pulumi.ComponentResource] = self._components[component_name]
            instance = component(name, args, options)
        except Exception as error:  # any failure: the engine shows the component's own message
            raise ComponentInitError(error) from error
        return ConstructResult(instance.urn, self.get_state(instance, definition))

    def _python_args(self, value: Any, properties: dict[str, PropertyDefinition], mapping: dict[str, str]) -> Any:
        """``value`` with the schema's names turned into the contract's; anything the schema does not
        know is passed on as given, for ``check_args`` to report."""
        if not isinstance(value, dict):
            return value
        return {
            mapping.get(key, key): self._python_value(item, properties[key]) if key in properties else item
            for key, item in value.items()
        }

    def _python_value(self, value: Any, prop: PropertyDefinition) -> Any:
        if prop.ref:
            definition = self.get_type_definition(prop)
            if definition is not None and not definition.enum:
                return self._python_args(value, definition.properties, definition.properties_mapping)
            return value
        if prop.items is not None and isinstance(value, list):
            return [self._python_value(item, prop.items) for item in value]
        if prop.additional_properties is not None and isinstance(value, dict):
            return {key: self._python_value(item, prop.additional_properties) for key, item in value.items()}
        # Numbers cross the wire as floats: a whole one given for an integer is that integer.
        if prop.type == PropertyType.INTEGER and isinstance(value, float) and value.is_integer():
            return int(value)
        return value


def serve(args: list[str] | None = None) -> None:
    """Run the provider as the engine starts a plugin (``__main__.py`` beside ``PulumiPlugin.yaml``)."""
    from pulumi.provider import main

    main(TritonComponentProvider(), sys.argv[1:] if args is None else args)
