"""Object stores a model repository lives in (GCS, S3, or a local folder), behind one small interface.

Only what publishing needs: does the bucket exist, which keys are under a prefix, upload a file,
copy a key server-side, delete keys, read a small text object. The cloud clients are the real
libraries (google-cloud-storage, boto3), imported only for their scheme, and configured by their
standard mechanisms: credentials as each SDK finds them, ``STORAGE_EMULATOR_HOST`` for a GCS
emulator, ``AWS_ENDPOINT_URL`` (or ``--endpoint-url``, or Triton's own
``s3://http://host:port/bucket/path`` form) for an S3-compatible endpoint.
"""

from __future__ import annotations

import os
import re
import shutil
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import _extras


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


_CLOUD_URL = re.compile(r"^(gs|s3)://(?:(https?://[^/]+)/)?([^/]+)/?(.*)$")


def parse_location(url: str) -> Location:
    match = _CLOUD_URL.match(url)
    if match:
        scheme, endpoint, bucket, prefix = match.groups()
        if endpoint and scheme != "s3":
            raise StorageError(f"{url}: an endpoint in the URL is Triton's form for S3 only")
        return Location(scheme, bucket, prefix.strip("/"), endpoint)
    if "://" in url and not url.startswith("file://"):
        raise StorageError(f"{url}: not a model repository URL; use gs://bucket/path, s3://bucket/path or a folder")
    # A folder: its parent plays the bucket, so staging can sit beside the repository, outside it.
    folder = Path(url.removeprefix("file://")).resolve()
    return Location("file", str(folder.parent), folder.name)


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


def open_store(location: Location, endpoint_url: str | None = None) -> ObjectStore:
    if location.scheme == "gs":
        return GcsStore(location, endpoint_url)
    if location.scheme == "s3":
        return S3Store(location, endpoint_url)
    return LocalStore(location)


class S3Store(ObjectStore):
    def __init__(self, location: Location, endpoint_url: str | None = None) -> None:
        super().__init__(location)
        boto3 = _extras.require("boto3", "delivery-s3", "publishing to S3")
        from botocore.exceptions import BotoCoreError, ClientError

        self._errors: tuple[type[Exception], ...] = (BotoCoreError, ClientError)
        # None lets boto3 apply AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 itself.
        self.client = boto3.client("s3", endpoint_url=endpoint_url or location.endpoint or None)
        self.bucket = location.bucket

    def _fail(self, action: str, error: Exception) -> StorageError:
        code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchBucket"):
            return StorageError(
                f"s3://{self.bucket} does not exist (or belongs to another account); nothing was written"
            )
        if code in ("403", "AccessDenied"):
            return StorageError(
                f"s3://{self.bucket}: access denied while trying to {action}; check your AWS credentials"
            )
        return StorageError(f"s3://{self.bucket}: could not {action}: {error}")

    def check_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except self._errors as error:
            raise self._fail("check the bucket", error) from None

    def list(self, prefix: str) -> dict[str, int]:
        found: dict[str, int] = {}
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                found.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
        except self._errors as error:
            raise self._fail(f"list {prefix}", error) from None
        return found

    def upload(self, key: str, path: Path) -> None:
        try:
            # Multipart uploads become visible only when completed: the object appears whole.
            self.client.upload_file(str(path), self.bucket, key)
        except self._errors as error:
            raise self._fail(f"upload {key}", error) from None

    def copy(self, source: str, target: str) -> None:
        try:
            self.client.copy({"Bucket": self.bucket, "Key": source}, self.bucket, target)
        except self._errors as error:
            raise self._fail(f"copy {source} to {target}", error) from None

    def delete(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            try:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            except self._errors as error:
                raise self._fail("delete objects", error) from None

    def read_text(self, key: str) -> str | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode("utf-8")
        except self._errors as error:
            if getattr(error, "response", {}).get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self._fail(f"read {key}", error) from None


class GcsStore(ObjectStore):
    def __init__(self, location: Location, endpoint_url: str | None = None) -> None:
        super().__init__(location)
        storage = _extras.require("google.cloud.storage", "delivery-gcs", "publishing to GCS")
        from google.api_core import exceptions

        self._exceptions = exceptions
        options: dict[str, Any] = {}
        kwargs: dict[str, Any] = {}
        if endpoint_url:
            options["api_endpoint"] = endpoint_url
        if endpoint_url or os.environ.get("STORAGE_EMULATOR_HOST"):
            # An emulator takes no Google credentials.
            from google.auth.credentials import AnonymousCredentials

            kwargs = {
                "credentials": AnonymousCredentials(),
                "project": os.environ.get("GOOGLE_CLOUD_PROJECT", "emulator"),
            }
        self.client = storage.Client(client_options=options or None, **kwargs)
        self.bucket = self.client.bucket(location.bucket)

    def _fail(self, action: str, error: Exception) -> StorageError:
        name = self.location.bucket
        if isinstance(error, self._exceptions.NotFound):
            return StorageError(f"gs://{name} does not exist (or {action} found no object); nothing was written")
        if isinstance(error, self._exceptions.Forbidden):
            return StorageError(f"gs://{name}: access denied while trying to {action}; check your Google credentials")
        return StorageError(f"gs://{name}: could not {action}: {error}")

    def check_bucket(self) -> None:
        try:
            exists = self.bucket.exists()
        except self._exceptions.GoogleAPIError as error:
            raise self._fail("check the bucket", error) from None
        if not exists:
            raise StorageError(f"gs://{self.location.bucket} does not exist; nothing was written")

    def list(self, prefix: str) -> dict[str, int]:
        try:
            return {b.name: b.size or 0 for b in self.client.list_blobs(self.bucket, prefix=prefix)}
        except self._exceptions.GoogleAPIError as error:
            raise self._fail(f"list {prefix}", error) from None

    def upload(self, key: str, path: Path) -> None:
        try:
            # Resumable uploads are finalised in one step: the object appears whole.
            self.bucket.blob(key).upload_from_filename(str(path))
        except self._exceptions.GoogleAPIError as error:
            raise self._fail(f"upload {key}", error) from None

    def copy(self, source: str, target: str) -> None:
        try:
            # rewrite: server-side, any size; never overwrites (generation 0 = must not exist).
            destination = self.bucket.blob(target)
            token, _, _ = destination.rewrite(self.bucket.blob(source), if_generation_match=0)
            while token is not None:
                token, _, _ = destination.rewrite(self.bucket.blob(source), token=token, if_generation_match=0)
        except self._exceptions.PreconditionFailed:
            raise StorageError(f"gs://{self.location.bucket}/{target} appeared meanwhile; never overwritten") from None
        except self._exceptions.GoogleAPIError as error:
            raise self._fail(f"copy {source} to {target}", error) from None

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            try:
                self.bucket.blob(key).delete()
            except self._exceptions.NotFound:
                continue
            except self._exceptions.GoogleAPIError as error:
                raise self._fail(f"delete {key}", error) from None

    def read_text(self, key: str) -> str | None:
        try:
            return self.bucket.blob(key).download_as_text()
        except self._exceptions.NotFound:
            return None
        except self._exceptions.GoogleAPIError as error:
            raise self._fail(f"read {key}", error) from None


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
