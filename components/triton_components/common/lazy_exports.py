"""Lazy exports for the cloud subpackages, and the error a user sees when a cloud's extra is missing.

``triton_components.gcp`` and ``.aws`` export their components through PEP 562 ``__getattr__`` so
that validation code (the catalogs) never loads a cloud SDK. The SDKs are optional dependencies
(``triton-platform[gcp]``, ``[aws]``), so the first touch of a component is also where a missing
SDK shows: it names the extra to install instead of a bare ``No module named 'pulumi_gcp'``.
"""

from __future__ import annotations

import importlib
from typing import Any

DISTRIBUTION = "triton-platform"


def load_export(package: str, module: str, name: str, sdk: str, extra: str) -> Any:
    """``package.module.name``; a missing ``sdk`` becomes an ImportError naming ``extra``."""
    try:
        loaded = importlib.import_module(f".{module}", package)
    except ModuleNotFoundError as error:
        # Only the SDK itself being absent means "install the extra"; anything else (a missing
        # submodule of an installed SDK, a bug of ours) is not ours to reword.
        if error.name != sdk:
            raise
        raise ModuleNotFoundError(
            f"{package}.{name} needs the {sdk} package, which is not installed; "
            f"install the {extra!r} extra: pip install '{DISTRIBUTION}[{extra}]'",
            name=sdk,
        ) from error
    return getattr(loaded, name)
