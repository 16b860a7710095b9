"""``open_storage``: from a ``FILES_STORAGE`` URL to a backend."""

from __future__ import annotations

from pathlib import Path

import pytest

import files_service.storage
from files_service.storage import LocalStorage, MemoryStorage, S3Storage, open_storage


def test_local_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    storage = open_storage("local://var/objects")
    assert isinstance(storage, LocalStorage)
    assert storage.root == str(tmp_path.resolve() / "var" / "objects")
    assert storage.url == "local://var/objects"


def test_local_absolute(tmp_path: Path) -> None:
    url = f"local://{tmp_path}/abs"
    assert url.startswith("local:///")
    storage = open_storage(url)
    assert isinstance(storage, LocalStorage)
    assert storage.root == str(tmp_path.resolve() / "abs")
    assert storage.url == url


def test_s3_with_prefix(bucket: str, moto_endpoint: str) -> None:
    storage = open_storage(
        f"s3://{bucket}/some/prefix",
        s3_endpoint_url=moto_endpoint,
        connect_timeout=2,
        read_timeout=3,
    )
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix, storage.url) == (
        bucket,
        "some/prefix",
        f"s3://{bucket}/some/prefix",
    )
    config = storage.client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (2, 3)
    storage.write("k", [b"round trip"])
    assert storage.stat("k").size == 10


def test_s3_without_prefix(aws_env: None) -> None:
    storage = open_storage("s3://my-bucket")
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix, storage.url) == ("my-bucket", "", "s3://my-bucket")


def test_memory() -> None:
    assert isinstance(open_storage("memory://"), MemoryStorage)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host/dir", "'ftp'"),
        ("gs://bucket", "'gs'"),
        ("var/objects", "must start with"),
        ("", "must start with"),
        ("local://", "needs a directory"),
        ("memory://extra", "nothing after"),
        ("s3://", "bucket name"),
        ("s3://AKIAEXAMPLE:hunter2@bucket/prefix", "bucket name"),
        ("s3://bucket/a//b", "empty"),
    ],
)
def test_refused(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as error:
        open_storage(url)
    assert "hunter2" not in str(error.value)


def test_public_surface() -> None:
    for name in files_service.storage.__all__:
        assert hasattr(files_service.storage, name)
