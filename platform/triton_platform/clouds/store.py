"""The cloud-neutral seam of model stores: a model repository's location, the small interface
publishing needs of the object store it lives in, and how a store's client library is loaded (an
optional extra, named in the error when it is missing)."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType


class MissingExtra(RuntimeError):
    """An optional dependency is not installed; the message says which extra brings it."""


def require(module: str, extra: str, purpose: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtra(
            f"{purpose} needs the Python package that provides '{module}' ({error}); "
            f"install it with: pip install 'triton-platform[{extra}]'"
        ) from None


class StorageError(RuntimeError):
    """The repository cannot be read or written; the message says which bucket and why."""


@dataclass(frozen=True)
class Location:
    """A model repository: ``scheme://bucket/prefix``; ``file`` locations are folders."""

    scheme: str
    bucket: str
    prefix: str = ""
    #: S3-compatible endpoint named in the URL (Triton's ``s3://http://host:port/bucket`` form).
    endpoint: str | None = None

    @property
    def url(self) -> str:
        if self.scheme == "file":
            return str(Path(self.bucket, self.prefix))
        host = f"{self.endpoint}/" if self.endpoint else ""
        return f"{self.scheme}://{host}{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")

    def key(self, *parts: str) -> str:
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))

    def at(self, path: str) -> Location:
        """Another path in the same bucket (a canary's ``modelRepositoryPath`` is relative to the bucket)."""
        return replace(self, prefix=path.strip("/"))


class ObjectStore(ABC):
    def __init__(self, location: Location) -> None:
        self.location = location

    @abstractmethod
    def check_bucket(self) -> None:
        """Raise ``StorageError`` unless the bucket exists and can be listed."""

    @abstractmethod
    def list(self, prefix: str) -> dict[str, int]:
        """Every key under ``prefix`` (recursively) with its size in bytes."""

    @abstractmethod
    def upload(self, key: str, path: Path) -> None: ...

    @abstractmethod
    def copy(self, source: str, target: str) -> None:
        """Server-side copy; the target appears whole, in one step."""

    @abstractmethod
    def delete(self, keys: Sequence[str]) -> None: ...

    @abstractmethod
    def read_text(self, key: str) -> str | None:
        """A small object's text, or None if there is no such key."""
