"""Object storage: one interface (``interface.py``), a backend per ``FILES_STORAGE`` scheme, and
``open_storage`` to build the one a URL names."""

from __future__ import annotations

from files_service.storage.interface import (
    FileStream,
    ObjectInfo,
    PresignedUrls,
    ReadStream,
    Storage,
    WriteResult,
    is_file_stream,
)
from files_service.storage.local import LocalStorage
from files_service.storage.memory import MemoryStorage
from files_service.storage.s3 import S3Storage

__all__ = [
    "FileStream",
    "LocalStorage",
    "MemoryStorage",
    "ObjectInfo",
    "PresignedUrls",
    "ReadStream",
    "S3Storage",
    "Storage",
    "WriteResult",
    "is_file_stream",
    "open_storage",
]

SCHEMES = ("local://", "s3://", "memory://")


def open_storage(
    url: str,
    *,
    s3_endpoint_url: str | None = None,
    connect_timeout: float = 5,
    read_timeout: float = 30,
    s3_max_waiting: int = 6,
) -> Storage:
    """The backend ``url`` names, or ``ValueError`` saying what is wrong with it.

    ``local://var/objects`` is the directory ``var/objects`` relative to the working directory,
    ``local:///srv/objects`` the absolute ``/srv/objects``; ``s3://bucket`` or
    ``s3://bucket/some/prefix`` (the endpoint, timeouts and waiting bound apply to S3 only); ``memory://``."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        raise ValueError(f"storage URL must start with one of {', '.join(SCHEMES)}")
    if scheme == "local":
        if not rest:
            raise ValueError("local:// storage needs a directory, as in local://var/objects")
        return LocalStorage(rest)
    if scheme == "s3":
        bucket, _, prefix = rest.partition("/")
        return S3Storage(
            bucket,
            prefix,
            s3_endpoint_url,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_waiting=s3_max_waiting,
        )
    if scheme == "memory":
        if rest:
            raise ValueError("memory:// storage takes nothing after the scheme")
        return MemoryStorage()
    raise ValueError(f"unsupported storage scheme {scheme!r}: use one of {', '.join(SCHEMES)}")
