"""``model publish`` against the S3 and GCS emulators (moto, fake-gcs-server) and a local folder.

What a publish writes, in which order, and that every refusal and every failure leaves the bucket
exactly as it was. That Triton serves what was published is ``test_lab_delivery.py``.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from support.delivery import corpus
from triton_platform.cli import main
from triton_platform.delivery import (
    PublishRefused,
    StorageError,
    check_model_repository,
    open_store,
    parse_location,
    publish,
)
from triton_platform.delivery.publish import EMPTY_FOLDER_MARKER, STAGING_ROOT
from triton_platform.delivery.storage import ObjectStore

SCHEMES = ["s3", "gs"]


@pytest.fixture
def bucket(request, emulators, monkeypatch):
    """A fresh emulated bucket of the scheme; the clients find the emulator the standard way (env)."""
    scheme = request.param
    name = f"models-{uuid.uuid4().hex[:8]}"
    if scheme == "s3":
        s3 = emulators.s3
        s3.client().create_bucket(Bucket=name)
        monkeypatch.setenv("AWS_ENDPOINT_URL", s3.url)
        for var, value in (
            ("AWS_ACCESS_KEY_ID", "lab"),
            ("AWS_SECRET_ACCESS_KEY", "lab"),
            ("AWS_DEFAULT_REGION", s3.region),
        ):
            monkeypatch.setenv(var, value)
    else:
        emulators.gcs.client().create_bucket(name)
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulators.gcs.url)
    return f"{scheme}://{name}/model_repository"


def snapshot(store: ObjectStore) -> dict[str, int]:
    return store.list("")


@pytest.mark.lab
@pytest.mark.parametrize("bucket", SCHEMES, indirect=True)
def test_publish_a_model_then_a_second_version(bucket: str, tmp_path: Path):
    location = parse_location(bucket)
    store = open_store(location)
    model = corpus.write_model(tmp_path / "v1", "addv")
    first = publish(model, location, store)
    assert (first.models[0].versions, first.models[0].new_model) == ([1], True)
    assert sorted(snapshot(store)) == ["model_repository/addv/1/model.py", "model_repository/addv/config.pbtxt"]

    second = publish(model, location, store, version="next")
    assert (second.models[0].versions, second.models[0].new_model) == ([2], False)
    assert sorted(snapshot(store)) == [
        "model_repository/addv/1/model.py",
        "model_repository/addv/2/model.py",
        "model_repository/addv/config.pbtxt",
    ]
    assert not [k for k in snapshot(store) if k.startswith(STAGING_ROOT)], "staging is cleaned up"


@pytest.mark.lab
@pytest.mark.parametrize("bucket", SCHEMES, indirect=True)
def test_bad_input_gets_a_clear_error_and_leaves_the_bucket_as_it_was(bucket: str, tmp_path: Path):
    location = parse_location(bucket)
    store = open_store(location)
    good = corpus.write_model(tmp_path / "good", "addv")
    publish(good, location, store)
    before = snapshot(store)

    broken = corpus.write_broken(tmp_path / "broken", "dims_zero")
    with pytest.raises(PublishRefused, match=r"dims_zero/config.pbtxt: input\[0\] 'INPUT0'.dims: has \[0\]"):
        publish(broken, location, store)
    with pytest.raises(
        PublishRefused,
        match=r"addv: version\(s\) \[1\] already exist and are never overwritten; "
        r"publish with --version 2 \(or --version next\)",
    ):
        publish(good, location, store)
    changed = corpus.write_model(
        tmp_path / "changed", "addv", config_text=corpus.config("addv", "dynamic_batching { }\n")
    )
    with pytest.raises(
        PublishRefused, match=r"differs from .*addv/config.pbtxt; Triton applies one config to every version"
    ):
        publish(changed, location, store, version=2)
    (tmp_path / "missing-file" / "addv" / "3").mkdir(parents=True)
    (tmp_path / "missing-file" / "addv" / "3" / "model.py").write_text(corpus.MODEL_PY)
    with pytest.raises(PublishRefused, match=r"addv/config.pbtxt: .file.: is missing"):
        publish(tmp_path / "missing-file" / "addv", location, store)
    assert snapshot(store) == before

    scheme = location.scheme
    missing = parse_location(f"{scheme}://no-such-bucket-{uuid.uuid4().hex[:6]}/model_repository")
    with pytest.raises(StorageError, match=rf"{scheme}://no-such-bucket-\w+ does not exist.*nothing was written"):
        publish(good, missing, open_store(missing), version=2)


@pytest.mark.lab
@pytest.mark.parametrize("bucket", ["s3"], indirect=True)
def test_publish_runs_tritons_own_check_first_and_writes_nothing_when_it_refuses(bucket: str, tmp_path: Path):
    location = parse_location(bucket)
    store = open_store(location)
    before = snapshot(store)
    # The fast checks accept this model; only Triton's own validation refuses it.
    broken = corpus.write_model(
        tmp_path,
        "priority",
        config_text=corpus.config("priority", "dynamic_batching { priority_levels: 2 default_priority_level: 3 }\n"),
    )
    assert check_model_repository(broken) == []
    lines: list[str] = []
    with pytest.raises(PublishRefused) as refused:
        publish(broken, location, store, log=lines.append)
    assert refused.value.problems == [
        f"{broken}/config.pbtxt: Triton 2.51.0 refuses it: default priority level must be in range [1, 2]"
    ]
    assert snapshot(store) == before
    assert "Triton 2.51.0's own validation" in lines[0]


class Recording(ObjectStore):
    """Passes every call through; records the keys written, and can fail the n-th copy."""

    def __init__(self, inner: ObjectStore, fail_copy: int | None = None) -> None:
        super().__init__(inner.location)
        self.inner, self.fail_copy, self.copies, self.uploads = inner, fail_copy, [], []

    def check_bucket(self):
        return self.inner.check_bucket()

    def list(self, prefix):
        return self.inner.list(prefix)

    def upload(self, key, path):
        self.uploads.append(key)
        return self.inner.upload(key, path)

    def copy(self, source, target):
        if self.fail_copy is not None and len(self.copies) == self.fail_copy:
            raise StorageError("injected failure")
        self.copies.append(target)
        return self.inner.copy(source, target)

    def delete(self, keys):
        return self.inner.delete(keys)

    def read_text(self, key):
        return self.inner.read_text(key)


def multi_file_model(root: Path) -> Path:
    model = corpus.write_model(root, "addv")
    (model / "1" / "helpers.py").write_text("SCALE = 1\n")
    (model / "1" / "assets").mkdir()
    (model / "1" / "assets" / "weights.bin").write_bytes(b"\0" * 1024)
    (model / "labels.txt").write_text("a\nb\n")
    return model


@pytest.mark.lab
@pytest.mark.parametrize("bucket", SCHEMES, indirect=True)
def test_staged_first_then_placed_with_the_model_file_and_config_last(bucket: str, tmp_path: Path):
    location = parse_location(bucket)
    store = Recording(open_store(location))
    publish(multi_file_model(tmp_path), location, store)
    assert all(key.startswith(f"{STAGING_ROOT}/") for key in store.uploads), "nothing is uploaded into the repository"
    assert store.copies == [
        "model_repository/addv/labels.txt",
        "model_repository/addv/1/assets/weights.bin",
        "model_repository/addv/1/helpers.py",
        "model_repository/addv/1/model.py",  # what makes version 1 loadable
        "model_repository/addv/config.pbtxt",  # what makes a new model loadable at all
    ]


@pytest.mark.lab
@pytest.mark.parametrize("bucket", SCHEMES, indirect=True)
def test_a_failure_while_placing_undoes_the_copies_already_made(bucket: str, tmp_path: Path):
    location = parse_location(bucket)
    inner = open_store(location)
    before = snapshot(inner)
    with pytest.raises(StorageError, match="injected failure"):
        publish(multi_file_model(tmp_path), location, Recording(inner, fail_copy=3))
    assert snapshot(inner) == before


@pytest.mark.lab
@pytest.mark.parametrize("bucket", SCHEMES, indirect=True)
def test_an_ensembles_empty_version_folder_is_kept_by_a_marker(bucket: str, tmp_path: Path):
    location = parse_location(bucket)
    store = open_store(location)
    corpus.write_model(tmp_path, "addv")
    (tmp_path / "twice" / "1").mkdir(parents=True)
    (tmp_path / "twice" / "config.pbtxt").write_text(corpus.ensemble_config("twice", "addv"))
    publish(tmp_path, location, store)
    assert f"model_repository/twice/1/{EMPTY_FOLDER_MARKER}" in snapshot(store)


@pytest.mark.lab
@pytest.mark.parametrize("bucket", ["s3"], indirect=True)
def test_cli_publish_with_an_explicit_repository_and_endpoint(
    bucket: str, tmp_path: Path, emulators, monkeypatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    model = corpus.write_model(tmp_path, "addv")
    assert main(["model", "publish", str(model), "--repository", bucket, "--endpoint-url", emulators.s3.url]) == 0
    assert f"published addv version(s) [1] to {bucket}/addv/" in capsys.readouterr().out
    assert main(["model", "publish", str(model), "--repository", bucket, "--endpoint-url", emulators.s3.url]) == 1
    assert "already exist and are never overwritten" in capsys.readouterr().err


def test_a_local_folder_repository_behaves_the_same(tmp_path: Path):
    repository = tmp_path / "repository"
    repository.mkdir()
    location = parse_location(str(repository))
    store = Recording(open_store(location))
    publish(multi_file_model(tmp_path / "src"), location, store)
    assert sorted(p.relative_to(repository).as_posix() for p in repository.rglob("*") if p.is_file()) == [
        "addv/1/assets/weights.bin",
        "addv/1/helpers.py",
        "addv/1/model.py",
        "addv/config.pbtxt",
        "addv/labels.txt",
    ]
    assert store.copies[-2:] == ["repository/addv/1/model.py", "repository/addv/config.pbtxt"]
    assert not (tmp_path / STAGING_ROOT).exists() or not any((tmp_path / STAGING_ROOT).rglob("*.py"))
