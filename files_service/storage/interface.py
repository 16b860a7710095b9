"""The object storage interface. One Protocol, several backends chosen by ``FILES_STORAGE``:
``local://DIR`` (``local.py``), ``s3://bucket/prefix`` (``s3.py``) and an in-memory test double
(``memory.py``). Keys are relative, ``/``-separated paths; a backend refuses with
``InvalidStorageKey`` any key that could escape its root (``..``, absolute, NUL, backslash) or
that it cannot hold (a reserved name, too long). Backends raise only the domain's
``ObjectNotFound``, ``InvalidStorageKey`` and ``StorageUnavailable`` (``files_service.errors``),
never a foreign error."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from files_service.errors import InvalidStorageKey

CHUNK_SIZE = 256 * 1024  # what reads yield at a time: big enough for speed, small for memory


@dataclass(frozen=True)
class ObjectInfo:
    """What storage says of one object."""

    key: str
    size: int
    last_modified: float  # Unix seconds


@dataclass(frozen=True)
class WriteResult:
    """What a completed write stored: its size and SHA-256 (hex), computed while streaming."""

    key: str
    size: int
    sha256: str


class ReadStream(Iterator[bytes]):
    """An iterator of byte chunks that must be closed; closing releases the storage connection
    or file handle, whether or not it was read to the end. Usable as a WSGI response body."""

    def close(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class Storage(Protocol):
    """What every backend provides."""

    url: str  # the FILES_STORAGE value it was built from (no credentials)

    def stat(self, key: str) -> ObjectInfo:
        """Size and modification time of the object, or ``ObjectNotFound``."""
        ...

    def open(self, key: str, start: int = 0, end: int | None = None) -> ReadStream:
        """Stream bytes ``start`` .. ``end`` (inclusive; ``None`` = to the end) of the object.
        A range is read from storage as a range, never by reading and discarding bytes.
        Raises ``ObjectNotFound`` or ``StorageUnavailable`` before the first chunk; a failure
        after the first chunk raises ``StorageUnavailable`` from the iterator."""
        ...

    def write(self, key: str, chunks: Iterable[bytes]) -> WriteResult:
        """Store the object from an iterable of chunks, streamed (memory stays bounded whatever
        the size), atomically: on any error, including one raised by ``chunks`` itself, nothing
        is left at ``key`` and no partial upload remains; the error propagates."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; removing a missing object is not an error."""
        ...

    def check(self) -> None:
        """Raise ``StorageUnavailable`` unless storage is reachable (for ``/readyz``)."""
        ...


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe relative storage key, else raise ``InvalidStorageKey``.

    Safe: non-empty, at most 1024 bytes, ``/``-separated segments that are neither empty, ``.``
    nor ``..``, no backslash, no NUL or other control character, no lone surrogate (it has no
    UTF-8 form, so no backend could store it), not absolute."""
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidStorageKey(
            "storage key must be valid Unicode (no lone surrogates)"
        ) from None
    if not key or len(encoded) > 1024:
        raise InvalidStorageKey("storage key must be 1 to 1024 bytes")
    if key.startswith("/") or "\\" in key:
        raise InvalidStorageKey("storage key must be relative and use '/' separators")
    if _CONTROL.search(key):
        raise InvalidStorageKey("storage key must not contain control characters")
    if _BAD_SEGMENT.search(key):
        raise InvalidStorageKey("storage key must not contain empty, '.' or '..' segments")
    return key


# Compiled once: keys are checked on every download, and a loop over characters is slow.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BAD_SEGMENT = re.compile(r"(?:^|/)(?:\.{0,2})(?:/|$)")
