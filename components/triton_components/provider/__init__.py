"""The component package: every public component served by one Pulumi component provider, so
TypeScript, Go, C#, Java and YAML programs use them through ``pulumi package add`` (the plugin's
``PulumiPlugin.yaml`` and ``__main__.py`` are at the repository root)."""

from .component_provider import PACKAGE_NAME, TritonComponentProvider, public_components, serve

__all__ = ["PACKAGE_NAME", "TritonComponentProvider", "public_components", "serve"]
