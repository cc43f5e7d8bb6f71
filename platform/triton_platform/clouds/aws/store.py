"""The S3 model store (boto3, the ``delivery-s3`` extra); ``AWS_ENDPOINT_URL``, ``--endpoint-url`` or
Triton's ``s3://http://host:port/bucket/path`` form selects an S3-compatible endpoint."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..store import Location, ObjectStore, StorageError, require


class S3Store(ObjectStore):
    def __init__(self, location: Location, endpoint_url: str | None = None) -> None:
        super().__init__(location)
        boto3 = require("boto3", "delivery-s3", "publishing to S3")
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
