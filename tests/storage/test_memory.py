"""The in-memory double's own features: fault injection and counting open streams."""

from __future__ import annotations

import pytest

from files_service.clock import ManualClock
from files_service.errors import StorageUnavailable
from files_service.storage import MemoryStorage
from files_service.storage.interface import CHUNK_SIZE


@pytest.fixture
def storage() -> MemoryStorage:
    storage = MemoryStorage()
    storage.write("k", [bytes(range(256)) * 4000])  # 1,024,000 bytes: four chunks
    return storage


def test_fail_open_is_raised_by_open_itself(storage: MemoryStorage) -> None:
    storage.fail_open = StorageUnavailable("storage is down")
    with pytest.raises(StorageUnavailable, match="storage is down"):
        storage.open("k")
    assert storage.open_streams == 0
    storage.fail_open = None
    storage.open("k").close()


def test_fail_after_bytes_yields_exactly_that_much_first(storage: MemoryStorage) -> None:
    storage.fail_after_bytes = CHUNK_SIZE + 100
    stream = storage.open("k")
    received = b""
    with pytest.raises(StorageUnavailable):
        for chunk in stream:
            received += chunk
    stream.close()
    assert received == (bytes(range(256)) * 4000)[: CHUNK_SIZE + 100]


def test_fail_after_bytes_counts_within_the_range(storage: MemoryStorage) -> None:
    storage.fail_after_bytes = 10
    stream = storage.open("k", 100, 199)
    assert next(stream) == (bytes(range(256)) * 4000)[100:110]
    with pytest.raises(StorageUnavailable):
        next(stream)
    stream.close()


def test_fail_after_more_bytes_than_there_are_never_fails(storage: MemoryStorage) -> None:
    storage.fail_after_bytes = 10_000_000
    stream = storage.open("k")
    assert len(b"".join(stream)) == 1_024_000
    stream.close()


def test_fail_check(storage: MemoryStorage) -> None:
    storage.check()
    storage.fail_check = StorageUnavailable("not ready")
    with pytest.raises(StorageUnavailable):
        storage.check()


def test_open_streams_counts_until_closed(storage: MemoryStorage) -> None:
    first = storage.open("k")
    second = storage.open("k", 0, 0)
    assert storage.open_streams == 2
    list(second)  # reading to the end is not closing
    assert storage.open_streams == 2
    second.close()
    second.close()
    assert storage.open_streams == 1
    first.close()
    assert storage.open_streams == 0


def test_last_modified_comes_from_the_clock() -> None:
    clock = ManualClock(1_000_000.0)
    storage = MemoryStorage(clock)
    storage.write("k", [b"x"])
    clock.advance(60)
    assert storage.stat("k").last_modified == 1_000_000.0
