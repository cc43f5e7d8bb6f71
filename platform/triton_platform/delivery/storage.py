"""Where a model repository lives: an object store of a registered cloud (by its URL scheme) or a
local folder, behind the small interface of ``clouds.store``. Each cloud's client library is imported
only for its scheme and configured by its standard mechanisms (credentials, emulator and endpoint
variables), as the cloud's store says."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from ..clouds import registered
from ..clouds.store import Location, ObjectStore, StorageError

__all__ = ["LocalStore", "Location", "ObjectStore", "StorageError", "open_store", "parse_location"]


def parse_location(url: str) -> Location:
    stores = [c for c in registered() if c.store is not None]
    schemes = "|".join(re.escape(c.store.scheme) for c in stores if c.store is not None)
    match = re.match(rf"^({schemes})://(?:(https?://[^/]+)/)?([^/]+)/?(.*)$", url) if schemes else None
    if match:
        scheme, endpoint, bucket, prefix = match.groups()
        with_endpoint = [c.store.name for c in stores if c.store is not None and c.store.endpoint_in_url]
        if endpoint and scheme not in {
            c.store.scheme for c in stores if c.store is not None and c.store.endpoint_in_url
        }:
            raise StorageError(f"{url}: an endpoint in the URL is Triton's form for {' and '.join(with_endpoint)} only")
        return Location(scheme, bucket, prefix.strip("/"), endpoint)
    if "://" in url and not url.startswith("file://"):
        forms = ", ".join(f"{c.store.scheme}://bucket/path" for c in stores if c.store is not None)
        raise StorageError(f"{url}: not a model repository URL; use {forms} or a folder")
    # A folder: its parent plays the bucket, so staging can sit beside the repository, outside it.
    folder = Path(url.removeprefix("file://")).resolve()
    return Location("file", str(folder.parent), folder.name)


def open_store(location: Location, endpoint_url: str | None = None) -> ObjectStore:
    for cloud in registered():
        if cloud.store is not None and cloud.store.scheme == location.scheme:
            return cloud.store.open(location, endpoint_url)
    return LocalStore(location)


class LocalStore(ObjectStore):
    """A repository on a file system (a mounted volume, tests); same semantics as the object stores."""

    def __init__(self, location: Location) -> None:
        super().__init__(location)
        self.root = Path(location.bucket)

    def check_bucket(self) -> None:
        if not self.root.is_dir():
            raise StorageError(f"{self.root} does not exist or is not a folder; nothing was written")

    def list(self, prefix: str) -> dict[str, int]:
        base = self.root / prefix if prefix else self.root
        if not base.exists():
            return {}
        return {p.relative_to(self.root).as_posix(): p.stat().st_size for p in sorted(base.rglob("*")) if p.is_file()}

    def _write(self, key: str, source: Path) -> None:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        shutil.copyfile(source, partial)
        os.replace(partial, target)  # appears whole, like an object

    def upload(self, key: str, path: Path) -> None:
        self._write(key, path)

    def copy(self, source: str, target: str) -> None:
        self._write(target, self.root / source)

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            path = self.root / key
            path.unlink(missing_ok=True)
            for parent in path.parents:
                if parent == self.root or not parent.is_relative_to(self.root) or any(parent.iterdir()):
                    break
                parent.rmdir()

    def read_text(self, key: str) -> str | None:
        path = self.root / key
        return path.read_text(encoding="utf-8") if path.is_file() else None
