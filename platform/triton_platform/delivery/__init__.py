"""Model delivery: from a local model folder to a live endpoint (``triton-platform model ...``).

- ``check_model_repository(path, group=...)``: what Triton would reject, before anything is uploaded;
- ``publish(source, location, store, ...)``: upload new versions without ever exposing half of one;
- ``promote(...)``: copy a canary's versions into the stable repository;
- ``load_on_servers(...)``: load a new version on every Triton of a group (repository API);
- ``endpoints(...)`` / ``next_steps(...)``: where the model answers, and how it goes live.

tritonclient and the object-store clients are optional extras (``delivery``, ``delivery-gcs``,
``delivery-s3``); a missing one is named in the error.
"""

from ._extras import MissingExtra
from .check import Problem, check_model_repository, inspect_repository
from .group import GroupSpec
from .publish import PublishRefused, PublishResult, publish
from .storage import Location, ObjectStore, StorageError, open_store, parse_location

__all__ = [
    "GroupSpec",
    "Location",
    "MissingExtra",
    "ObjectStore",
    "Problem",
    "PublishRefused",
    "PublishResult",
    "StorageError",
    "check_model_repository",
    "inspect_repository",
    "open_store",
    "parse_location",
    "publish",
]
