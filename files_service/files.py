"""File operations shared by the API and the CLI: store, register and delete, each leaving
either a complete file (row and object) or nothing."""

from __future__ import annotations

import hashlib
import logging
import mimetypes
from collections.abc import Iterable
from typing import Any

from .errors import InvalidStorageKey, ObjectNotFound, StorageError, ValidationError
from .ids import new_id
from .registry.models import File
from .services import Services
from .validation import validate_content_type, validate_filename, validate_metadata

log = logging.getLogger(__name__)


def guess_content_type(filename: str) -> str:
    """The media type a filename suggests, or ``application/octet-stream``."""
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def store_file(
    services: Services, org_id: str, chunks: Iterable[bytes], *, filename: str,
    content_type: str, created_by: str | None = None, metadata: dict[str, Any] | None = None,
) -> File:
    """Stream ``chunks`` into storage and register the file.

    Everything is checked before the first byte moves. The object is then written under a key
    no row points at yet (storage writes are atomic), and if registering fails the object is
    removed: a failure leaves neither a row without an object nor an orphan object."""
    services.registry.get_organization(org_id)
    validate_filename(filename)
    validate_content_type(content_type)
    validate_metadata(metadata)
    file_id = new_id("file")
    key = f"{org_id}/{file_id}"
    written = services.storage.write(key, chunks)
    try:
        return services.registry.create_file(
            org_id, file_id=file_id, filename=filename, content_type=content_type,
            byte_size=written.size, checksum=written.sha256, storage_key=key,
            created_by=created_by, metadata=metadata,
        )
    except BaseException:
        services.storage.delete(key)
        raise


def register_file(
    services: Services, org_id: str, storage_key: str, *, filename: str, content_type: str,
    created_by: str | None = None, metadata: dict[str, Any] | None = None,
    pointer: str = "/data/attributes/storage-key",
) -> File:
    """Register an object already in storage; its size and checksum are read from storage."""
    validate_filename(filename)
    validate_content_type(content_type)
    validate_metadata(metadata)
    digest = hashlib.sha256()
    size = 0
    try:
        stream = services.storage.open(storage_key)
    except InvalidStorageKey as exc:  # whatever the backend refuses (its own rules included)
        raise ValidationError(pointer, str(exc)) from None
    except ObjectNotFound:
        raise ValidationError(pointer, "no object is stored at this storage-key") from None
    try:
        for chunk in stream:
            digest.update(chunk)
            size += len(chunk)
    finally:
        stream.close()
    return services.registry.create_file(
        org_id, filename=filename, content_type=content_type, byte_size=size,
        checksum=digest.hexdigest(), storage_key=storage_key, created_by=created_by,
        metadata=metadata,
    )


def delete_file(services: Services, file_id: str, org_id: str | None = None) -> File:
    """Delete the row first (every URL dies with it), then the object. A storage failure
    after that leaves an unreferenced object, logged for clean-up, never a dangling row."""
    file = services.registry.delete_file(file_id, org_id)
    services.cache.forget_file(file_id)
    try:
        services.storage.delete(file.storage_key)
    except StorageError:
        log.error("file %s deleted but its object could not be removed", file.id)
    return file
