"""The contract every ``Storage`` backend keeps, run against each: local (a directory under
``tmp_path``), memory, and S3 (moto's server over real HTTP, under a non-empty prefix)."""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from files_service.errors import InvalidStorageKey, ObjectNotFound
from files_service.storage import (
    LocalStorage,
    MemoryStorage,
    PresignedUrls,
    S3Storage,
    Storage,
    WriteResult,
    is_file_stream,
)
from files_service.storage.interface import CHUNK_SIZE
from files_service.storage.s3 import MIN_PART_SIZE

MiB = 1024 * 1024
SIZE = 2 * CHUNK_SIZE + 1234  # three chunks, the last a short one


@dataclass
class Backend:
    name: str
    storage: Storage
    leftovers: Callable[[], list[str]]  # temporary files or multipart uploads left behind


@pytest.fixture(params=["local", "memory", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        local = LocalStorage(tmp_path / "objects")
        return Backend("local", local, lambda: os.listdir(tmp_path / "objects" / ".tmp"))
    if request.param == "memory":
        return Backend("memory", MemoryStorage(), list)
    # Only S3 needs the server, so only S3 asks for it.
    bucket: str = request.getfixturevalue("bucket")
    client: Any = request.getfixturevalue("s3_client")
    endpoint: str = request.getfixturevalue("moto_endpoint")
    s3 = S3Storage(bucket, "some/prefix", endpoint, part_size=MIN_PART_SIZE)

    def uploads() -> list[str]:
        return [u["Key"] for u in client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]

    return Backend("s3", s3, uploads)


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def chunked(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def read(storage: Storage, key: str, start: int = 0, end: int | None = None) -> bytes:
    stream = storage.open(key, start, end)
    try:
        chunks = list(stream)
    finally:
        stream.close()
    assert all(0 < len(chunk) <= CHUNK_SIZE for chunk in chunks)
    return b"".join(chunks)


class Boom(Exception):
    pass


def failing_after(data: bytes, chunk_size: int = MiB) -> Iterator[bytes]:
    yield from chunked(data, chunk_size)
    raise Boom("the upload broke off")


def never_read() -> Iterable[bytes]:
    raise AssertionError("a refused key must be refused before reading any chunk")
    yield b""  # pragma: no cover - makes this a generator


BAD_KEYS = [
    "",
    "../x",
    "a/../../x",
    "/abs",
    "a\\b",
    "a//b",
    "a/",
    "./a",
    "nul\x00byte",
    "control\x1fchar",
    "lone\ud800surrogate",
    "x" * 1025,
]


# The optional abilities of each backend: URLs of its own, read streams that are files.
ABILITIES = {"local": (False, True), "memory": (False, False), "s3": (True, False)}


class TestStorageContract:
    def test_check_passes(self, backend: Backend) -> None:
        backend.storage.check()

    def test_optional_abilities_are_declared(self, backend: Backend) -> None:
        presigns, files = ABILITIES[backend.name]
        assert isinstance(backend.storage, PresignedUrls) is presigns
        data = payload(SIZE)
        backend.storage.write("abilities", [data])
        stream = backend.storage.open("abilities", 10, 2 * CHUNK_SIZE)
        try:
            assert is_file_stream(stream) is files
            assert is_file_stream(stream) is files  # remembered per class: the same answer
            if is_file_stream(stream):
                # What sendfile relies on: the descriptor at the range's start, and reads
                # that stop at its end.
                assert os.lseek(stream.fileno(), 0, os.SEEK_CUR) == 10
                got = b"".join(iter(lambda: stream.read(100_000), b""))
                assert got == data[10:2 * CHUNK_SIZE + 1]
        finally:
            stream.close()

    def test_url_names_the_scheme(self, backend: Backend) -> None:
        assert backend.storage.url.startswith(f"{backend.name}://")

    def test_write_reports_size_and_sha256(self, backend: Backend) -> None:
        data = payload(1000)
        result = backend.storage.write("doc.bin", chunked(data, 300))
        assert result == WriteResult("doc.bin", 1000, hashlib.sha256(data).hexdigest())

    def test_write_accepts_any_bytes_like_chunk(self, backend: Backend) -> None:
        result = backend.storage.write("mixed", [b"ab", bytearray(b"cd"), memoryview(b"ef")])
        assert (result.size, read(backend.storage, "mixed")) == (6, b"abcdef")

    def test_stat_after_write(self, backend: Backend) -> None:
        backend.storage.write("a/b/c.txt", [b"hello"])
        info = backend.storage.stat("a/b/c.txt")
        assert (info.key, info.size) == ("a/b/c.txt", 5)
        assert abs(info.last_modified - time.time()) < 60

    def test_open_whole_object_in_chunks(self, backend: Backend) -> None:
        data = payload(SIZE)
        backend.storage.write("whole", chunked(data))
        stream = backend.storage.open("whole")
        try:
            chunks = list(stream)
        finally:
            stream.close()
        assert b"".join(chunks) == data
        assert [len(c) for c in chunks] == [CHUNK_SIZE, CHUNK_SIZE, 1234]

    @pytest.mark.parametrize(
        ("start", "end"),
        [
            pytest.param(0, 0, id="first-byte"),
            pytest.param(SIZE - 1, SIZE - 1, id="last-byte"),
            pytest.param(SIZE - 1, None, id="last-byte-open-ended"),
            pytest.param(100, 199, id="middle"),
            pytest.param(10, None, id="to-the-end"),
            pytest.param(0, SIZE - 1, id="everything-as-a-range"),
            pytest.param(CHUNK_SIZE - 5, CHUNK_SIZE + 5, id="across-a-chunk-boundary"),
            pytest.param(1, 2 * CHUNK_SIZE + 1, id="across-two-boundaries"),
        ],
    )
    def test_range(self, backend: Backend, start: int, end: int | None) -> None:
        data = payload(SIZE)
        backend.storage.write("ranged", chunked(data))
        expected = data[start:] if end is None else data[start : end + 1]
        assert read(backend.storage, "ranged", start, end) == expected

    def test_range_past_the_end_is_clamped(self, backend: Backend) -> None:
        data = payload(100)
        backend.storage.write("short", [data])
        assert read(backend.storage, "short", 97, 1000) == data[97:]

    def test_range_starting_past_the_end_yields_nothing(self, backend: Backend) -> None:
        backend.storage.write("short", [payload(100)])
        assert read(backend.storage, "short", 100) == b""
        assert read(backend.storage, "short", 150, 200) == b""

    @pytest.mark.parametrize(("start", "end"), [(-1, None), (-1, 5), (5, 4)])
    def test_invalid_range_refused(self, backend: Backend, start: int, end: int | None) -> None:
        backend.storage.write("short", [b"0123456789"])
        with pytest.raises(ValueError):
            backend.storage.open("short", start, end)

    def test_empty_object(self, backend: Backend) -> None:
        result = backend.storage.write("empty", [])
        assert result == WriteResult("empty", 0, hashlib.sha256(b"").hexdigest())
        assert backend.storage.stat("empty").size == 0
        assert read(backend.storage, "empty") == b""

    def test_overwrite_replaces(self, backend: Backend) -> None:
        backend.storage.write("k", [b"first version, longer"])
        backend.storage.write("k", [b"second"])
        assert backend.storage.stat("k").size == 6
        assert read(backend.storage, "k") == b"second"

    def test_missing_object(self, backend: Backend) -> None:
        with pytest.raises(ObjectNotFound) as stat_error:
            backend.storage.stat("no/such/key")
        assert stat_error.value.key == "no/such/key"
        assert isinstance(stat_error.value, FileNotFoundError)
        # From open() itself, before any stream exists to iterate.
        with pytest.raises(ObjectNotFound):
            backend.storage.open("no/such/key")
        with pytest.raises(ObjectNotFound):
            backend.storage.open("no/such/key", 5, 10)

    def test_delete_is_idempotent(self, backend: Backend) -> None:
        backend.storage.write("gone", [b"x"])
        backend.storage.delete("gone")
        with pytest.raises(ObjectNotFound):
            backend.storage.stat("gone")
        backend.storage.delete("gone")
        backend.storage.delete("never/existed")

    def test_failed_write_leaves_nothing(self, backend: Backend) -> None:
        # 6 MiB: past one S3 part, so the S3 backend has a multipart upload to abort.
        with pytest.raises(Boom):
            backend.storage.write("broken", failing_after(payload(6 * MiB)))
        with pytest.raises(ObjectNotFound):
            backend.storage.stat("broken")
        assert backend.leftovers() == []

    def test_failed_overwrite_keeps_the_old_object(self, backend: Backend) -> None:
        backend.storage.write("kept", [b"old content"])
        with pytest.raises(Boom):
            backend.storage.write("kept", failing_after(payload(100), 10))
        assert read(backend.storage, "kept") == b"old content"
        assert backend.leftovers() == []

    def test_large_object_round_trips(self, backend: Backend) -> None:
        # Over two S3 parts of 5 MiB and a short third one.
        data = payload(11 * MiB + 12345)
        result = backend.storage.write("big.bin", chunked(data, MiB))
        assert result == WriteResult("big.bin", len(data), hashlib.sha256(data).hexdigest())
        assert backend.storage.stat("big.bin").size == len(data)
        assert read(backend.storage, "big.bin") == data
        boundary = 5 * MiB
        assert (
            read(backend.storage, "big.bin", boundary - 3, boundary + 3)
            == data[boundary - 3 : boundary + 4]
        )

    @pytest.mark.parametrize(
        "key",
        [
            "with space.txt",
            "dir/sub dir/ünïcödé 文件.pdf",
            "emoji/🎉.bin",
            "url chars/a+b=c&d?e#f%20g;h,i'j\"k.txt",
            "nested/.hidden/..dots../file",
        ],
    )
    def test_unusual_but_valid_keys(self, backend: Backend, key: str) -> None:
        backend.storage.write(key, [b"content"])
        assert backend.storage.stat(key).size == 7
        assert read(backend.storage, key, 1, 3) == b"ont"
        backend.storage.delete(key)
        with pytest.raises(ObjectNotFound):
            backend.storage.stat(key)

    @pytest.mark.parametrize("key", BAD_KEYS)
    def test_bad_keys_refused(self, backend: Backend, key: str) -> None:
        # The domain's error (a ValueError too), for callers to answer as the user's mistake.
        with pytest.raises(InvalidStorageKey):
            backend.storage.stat(key)
        with pytest.raises(InvalidStorageKey):
            backend.storage.open(key)
        with pytest.raises(InvalidStorageKey):
            backend.storage.write(key, never_read())
        with pytest.raises(InvalidStorageKey):
            backend.storage.delete(key)

    def test_stream_closes_early_and_twice(self, backend: Backend) -> None:
        backend.storage.write("s", [payload(SIZE)])
        stream = backend.storage.open("s")
        assert len(next(stream)) == CHUNK_SIZE
        stream.close()
        stream.close()
        with pytest.raises(StopIteration):
            next(stream)
        # The backend still serves after a stream was abandoned half way.
        assert read(backend.storage, "s", 0, 9) == payload(SIZE)[:10]
