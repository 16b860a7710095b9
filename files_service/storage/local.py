"""Objects as files under one directory: ``local://DIR``, the embedded default.

A key maps to ``DIR/<key>``. Writes go to a temporary file in ``DIR/.tmp/`` (the same
filesystem, so the final ``os.replace`` is atomic) and are fsynced before they are published.
``.tmp`` is therefore reserved: no key may start with it, nor resolve into it through a symlink.
No key can name a file outside ``DIR``, whether by its spelling (``validate_key``) or through a
symlink (the resolved path is checked against the resolved root)."""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress

from files_service.errors import (
    InvalidStorageKey,
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
)
from files_service.storage.interface import (
    CHUNK_SIZE,
    ObjectInfo,
    ReadStream,
    WriteResult,
    validate_key,
)

TEMP_DIR = ".tmp"
# Longest single path segment most filesystems take (ext4, xfs, btrfs, APFS); a longer segment
# is a valid key elsewhere but could never be stored here, so it is refused up front.
NAME_MAX = 255

# errno values that, when reading, can only mean "there is no object at that key".
_ABSENT = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.ENAMETOOLONG})


class LocalReadStream(ReadStream):
    """Bytes of one file from an offset, at most ``remaining`` of them (``None``: to EOF)."""

    def __init__(self, key: str, fd: int, remaining: int | None) -> None:
        self._key = key
        # Unbuffered: each read already asks for a whole chunk, a buffer would only copy it.
        self._file = open(fd, "rb", buffering=0)
        self._remaining = remaining

    def __next__(self) -> bytes:
        chunk = self.read(CHUNK_SIZE)
        if not chunk:  # the end of the range, or EOF before it (a range past the file)
            raise StopIteration
        return chunk

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (the rest of the range for -1); b"" at the end. With
        ``fileno`` this makes the stream a file for ``wsgi.file_wrapper`` (sendfile)."""
        if self._file.closed:
            return b""
        if size is None or size < 0:
            size = self._remaining if self._remaining is not None else -1
        elif self._remaining is not None:
            size = min(size, self._remaining)
        if size == 0:
            return b""
        try:
            chunk = self._file.read(size)
        except OSError as exc:
            self.close()
            raise StorageUnavailable(
                f"reading {self._key!r} from local storage failed: {_reason(exc)}"
            ) from exc
        if self._remaining is not None:
            self._remaining -= len(chunk)
        return chunk

    def fileno(self) -> int:
        """The descriptor, positioned at the start of the range (for sendfile)."""
        return self._file.fileno()

    def close(self) -> None:
        """Close the file; safe to call more than once."""
        self._file.close()


class LocalStorage:
    """The ``Storage`` of a directory on disk, created if missing."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.url = f"local://{os.fspath(root)}"
        try:
            os.makedirs(root, exist_ok=True)
            self.root = os.path.realpath(root)
            self._temp = os.path.join(self.root, TEMP_DIR)
            os.makedirs(self._temp, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(
                f"cannot create local storage directory {os.fspath(root)!r}: {_reason(exc)}"
            ) from exc

    def path_for(self, key: str) -> str:
        """The absolute filesystem path of ``key`` (for nginx ``X-Accel-Redirect``), whether or not
        the file exists. ``InvalidStorageKey`` for a bad key; ``ObjectNotFound`` where the path
        would leave the root through a symlink."""
        return self._path(key, writing=False)

    def stat(self, key: str) -> ObjectInfo:
        """Size and modification time of the file, or ``ObjectNotFound``."""
        path = self._path(key, writing=False)
        try:
            st = os.stat(path)
        except OSError as exc:
            raise _read_error(key, exc) from exc
        if not stat.S_ISREG(st.st_mode):
            raise ObjectNotFound(key)
        return ObjectInfo(key=key, size=st.st_size, last_modified=st.st_mtime)

    def open(self, key: str, start: int = 0, end: int | None = None) -> ReadStream:
        """Stream bytes ``start`` .. ``end`` (inclusive) of the file, seeking to ``start``."""
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"invalid byte range {start}-{end}")
        path = self._path(key, writing=False, resolve=False)
        try:
            # O_NONBLOCK: a FIFO planted under the root must not hang the worker; it changes
            # nothing for a regular file.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise _read_error(key, exc) from exc
        # Where the opened file really is, symlinks and all: checked on the descriptor itself
        # (one readlink), rather than by resolving the path first (an lstat per segment).
        if not self._inside(_real_path_of(fd, path)):
            os.close(fd)
            raise ObjectNotFound(key)
        try:
            is_file = stat.S_ISREG(os.fstat(fd).st_mode)
            if is_file:
                os.lseek(fd, start, os.SEEK_SET)
        except OSError as exc:
            os.close(fd)
            raise _read_error(key, exc) from exc
        if not is_file:
            os.close(fd)
            raise ObjectNotFound(key)
        return LocalReadStream(key, fd, None if end is None else end - start + 1)

    def write(self, key: str, chunks: Iterable[bytes]) -> WriteResult:
        """Stream ``chunks`` into a temporary file, fsync it, then rename it over ``key``."""
        path = self._path(key, writing=True)
        temp = os.path.join(self._temp, f"{secrets.token_hex(8)}.part")
        failure = f"cannot write {key!r} to local storage"
        with _disk_errors(failure):
            os.makedirs(self._temp, exist_ok=True)
            # Mode 0o666 less the umask, as any new file: a temporary name made by mkstemp would
            # be 0o600, unreadable by an nginx serving X-Accel-Redirect as another user.
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        digest = hashlib.sha256()
        size = 0
        try:
            # Unbuffered, so that closing never flushes: on the error path a second error from a
            # flush would hide the first.
            out = open(fd, "wb", buffering=0)
            try:
                # An error raised by ``chunks`` itself is the caller's and propagates as it is;
                # only errors of the disk are translated.
                for chunk in chunks:
                    view = memoryview(chunk).cast("B")
                    digest.update(view)
                    size += view.nbytes
                    with _disk_errors(failure):
                        while view:
                            view = view[out.write(view) :]
                with _disk_errors(failure):
                    os.fsync(fd)
                    out.close()
            finally:
                with suppress(OSError):
                    out.close()
            with _disk_errors(failure):
                # Only now, so that a failed write leaves no empty directories behind.
                os.makedirs(os.path.dirname(path), exist_ok=True)
                os.replace(temp, path)
        except BaseException:
            with suppress(OSError):
                os.unlink(temp)
            raise
        _fsync_directory(os.path.dirname(path))
        return WriteResult(key=key, size=size, sha256=digest.hexdigest())

    def delete(self, key: str) -> None:
        """Remove the file; a missing one is not an error."""
        try:
            path = self._path(key, writing=False)
        except ObjectNotFound:
            return
        try:
            os.unlink(path)
        except OSError as exc:
            # A directory is no object (unlink says EISDIR on Linux, EPERM elsewhere).
            if exc.errno in _ABSENT or os.path.isdir(path):
                return
            raise StorageUnavailable(
                f"cannot delete {key!r} from local storage: {_reason(exc)}"
            ) from exc

    def check(self) -> None:
        """``StorageUnavailable`` unless the root (and its temporary area) is a writable
        directory. The root is not recreated here: its disappearance is worth reporting."""
        try:
            if not stat.S_ISDIR(os.stat(self.root).st_mode):
                raise StorageUnavailable(f"local storage {self.root!r} is not a directory")
            with suppress(FileExistsError):
                os.mkdir(self._temp)
            for directory in (self.root, self._temp):
                if not os.access(directory, os.W_OK | os.X_OK):
                    raise StorageUnavailable(f"local storage {directory!r} is not writable")
        except OSError as exc:
            raise StorageUnavailable(
                f"local storage {self.root!r} is unavailable: {_reason(exc)}"
            ) from exc

    def _path(self, key: str, *, writing: bool, resolve: bool = True) -> str:
        """The path of ``key`` under the root, refused if it is or leads outside the root or
        into the temporary area: with ``InvalidStorageKey`` when writing, as ``ObjectNotFound``
        when reading (to a reader such a key names nothing). ``resolve=False`` leaves the symlink
        check to the caller, who makes it on what it opened."""
        segments = validate_key(key).split("/")
        if _is_temp(segments[0]):
            raise InvalidStorageKey(f"storage keys under {TEMP_DIR!r} are reserved")
        if any(len(segment.encode("utf-8")) > NAME_MAX for segment in segments):
            raise InvalidStorageKey(
                f"storage key segments must be at most {NAME_MAX} bytes in local storage"
            )
        path = os.path.join(self.root, *segments)
        if resolve and not self._inside(os.path.realpath(path)):
            if writing:
                raise InvalidStorageKey(f"storage key {key!r} resolves outside the storage root")
            raise ObjectNotFound(key)
        return path

    def _inside(self, resolved: str) -> bool:
        """Whether a fully resolved path lies under the root and outside the temporary area."""
        return resolved.startswith(self.root + os.sep) and not _is_temp(
            resolved[len(self.root) + 1 :].split(os.sep, 1)[0]
        )


_PROC_FD = "/proc/self/fd"
_HAVE_PROC_FD = os.path.isdir(_PROC_FD)


def _real_path_of(fd: int, path: str) -> str:
    """The resolved path of an open descriptor (Linux: its /proc link), else of ``path``."""
    if _HAVE_PROC_FD:
        try:
            return os.readlink(f"{_PROC_FD}/{fd}")
        except OSError:
            pass
    return os.path.realpath(path)


def _is_temp(segment: str) -> bool:
    # casefold: on a case-insensitive filesystem ``.TMP`` is the same directory.
    return segment.casefold() == TEMP_DIR


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _read_error(key: str, exc: OSError) -> StorageError:
    if exc.errno in _ABSENT:
        return ObjectNotFound(key)
    return StorageUnavailable(f"cannot read {key!r} from local storage: {_reason(exc)}")


@contextmanager
def _disk_errors(message: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise StorageUnavailable(f"{message}: {_reason(exc)}") from exc


def _fsync_directory(directory: str) -> None:
    # Makes the rename itself durable. Best effort: the object is already in place, so failing
    # here (some filesystems refuse to fsync a directory) must not report the write as failed.
    with suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
