"""Model delivery: from a local model folder to a live endpoint (``triton-platform model ...``).

- ``check_repository(path, group=...)``: what Triton rejects (its own validation where it can run
  here, the fast checks otherwise) and what the group cannot serve, before anything is uploaded;
  ``check_model_repository`` runs the fast checks alone;
- ``publish(source, location, store, ...)``: upload new versions without ever exposing half of one;
- ``promote(...)``: copy a canary's versions into the stable repository;
- ``load_on_servers(...)``: load a new version on every Triton of a group (repository API);
- ``endpoints(...)`` / ``next_steps(...)``: where the model answers, and how it goes live.

tritonclient and the object-store clients are optional extras (``delivery``, and one per cloud's
store, ``delivery-<store>``); a missing one is named in the error.
"""

from ._extras import MissingExtra
from .check import CheckReport, Problem, check_model_repository, check_repository, inspect_repository
from .group import GroupSpec
from .live import LoadFailed, load_on_group, load_on_servers
from .promote import promote
from .publish import PublishRefused, PublishResult, publish
from .stack import StackContext, endpoints, load_stack, next_steps, repository_location, track_location
from .storage import Location, ObjectStore, StorageError, open_store, parse_location

__all__ = [
    "CheckReport",
    "GroupSpec",
    "LoadFailed",
    "Location",
    "MissingExtra",
    "ObjectStore",
    "Problem",
    "PublishRefused",
    "PublishResult",
    "StackContext",
    "StorageError",
    "check_model_repository",
    "check_repository",
    "endpoints",
    "inspect_repository",
    "load_on_group",
    "load_on_servers",
    "load_stack",
    "next_steps",
    "open_store",
    "parse_location",
    "promote",
    "publish",
    "repository_location",
    "track_location",
]
