"""The GCS model store (google-cloud-storage, the ``delivery-gcs`` extra); ``STORAGE_EMULATOR_HOST``
or an endpoint URL selects an emulator."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..store import Location, ObjectStore, StorageError, require


class GcsStore(ObjectStore):
    def __init__(self, location: Location, endpoint_url: str | None = None) -> None:
        super().__init__(location)
        storage = require("google.cloud.storage", "delivery-gcs", "publishing to GCS")
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
