"""The object storage interface. One Protocol, several backends chosen by ``FILES_STORAGE``:
``local://DIR`` (``local.py``), ``s3://bucket/prefix`` (``s3.py``) and an in-memory test double
(``memory.py``). Keys are relative, ``/``-separated paths; a backend refuses with
``InvalidStorageKey`` any key that could escape its root (``..``, absolute, NUL, backslash) or
that it cannot hold (a reserved name, too long). Backends raise only the domain's
``ObjectNotFound``, ``InvalidStorageKey`` and ``StorageUnavailable`` (``files_service.errors``),
never a foreign error.

Two abilities only some backends have, each a Protocol of its own (``runtime_checkable``, so
code can ask with ``isinstance``; such a check reads every member and costs microseconds, so ask
once, not per chunk or per request):

- ``PresignedUrls``: URLs of the storage itself (S3), for the ``redirect`` and ``accel``
  delivery modes; ask the storage, once, when the mode is chosen;
- ``FileStream``: a read stream that is an open file (local storage), which a WSGI server may
  send with ``sendfile``; ask with ``is_file_stream``, which remembers the answer per class."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeGuard, runtime_checkable

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


@runtime_checkable
class PresignedUrls(Protocol):
    """A storage with URLs of its own that anyone holding one may ``GET`` for a while."""

    def presigned_get_url(
        self,
        key: str,
        expires_in: int,
        *,
        content_type: str | None = None,
        content_disposition: str | None = None,
        cache_control: str | None = None,
    ) -> str:
        """A URL of the storage that serves the object for ``expires_in`` seconds, answering
        with each header given instead of the object's own; ``StorageUnavailable`` where it
        cannot be made."""
        ...


@runtime_checkable
class FileStream(Protocol):
    """A ``ReadStream`` that is an open file, positioned at the start of its range: what
    ``wsgi.file_wrapper`` takes, so that the server may hand the descriptor to the kernel."""

    def fileno(self) -> int:
        """The descriptor, positioned at the first byte of the range."""
        ...

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes of the range (the rest of it for -1); ``b""`` at its end."""
        ...

    def close(self) -> None:
        """Close the file; safe to call more than once."""
        ...


# Classes of stream already asked: a runtime Protocol check inspects every member on each call
# (tens of microseconds), while what a class can do does not change.
_FILE_STREAM_CLASSES: dict[type, bool] = {}


def is_file_stream(stream: ReadStream) -> TypeGuard[FileStream]:
    """Whether ``stream`` is a ``FileStream``, answered once per class of stream."""
    known = _FILE_STREAM_CLASSES.get(type(stream))
    if known is None:
        known = _FILE_STREAM_CLASSES[type(stream)] = isinstance(stream, FileStream)
    return known


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
