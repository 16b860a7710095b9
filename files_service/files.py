"""File operations shared by the API and the CLI: store, register and delete, each leaving
either a complete file (row and object) or nothing."""

from __future__ import annotations

import hashlib
import logging
import mimetypes
from collections.abc import Iterable
from typing import Any

from .errors import InvalidStorageKey, ObjectNotFound, StorageError, ValidationError
from .intake import Allowance, Intake
from .registry.models import File
from .services import Services
from .tenancy import owns_key
from .validation import check_file_fields

log = logging.getLogger(__name__)


def guess_content_type(filename: str) -> str:
    """The media type a filename suggests, or ``application/octet-stream``."""
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def store_file(
    services: Services, org_id: str, chunks: Iterable[bytes], *, filename: str,
    content_type: str, created_by: str | None = None, metadata: dict[str, Any] | None = None,
    max_bytes: int | None = None,
) -> File:
    """Stream ``chunks`` into storage and register the file (``intake.Intake``), at most
    ``max_bytes`` of them (``None``: no limit).

    Everything is checked before the first byte moves. A failure leaves neither a row without
    an object nor an orphan object."""
    fields = check_file_fields(filename, content_type, metadata)
    with Intake(services, org_id, max_bytes=max_bytes) as intake:
        intake.write(chunks)
        return intake.commit(fields, created_by=created_by)


def register_file(
    services: Services, org_id: str, storage_key: str, *, filename: str, content_type: str,
    created_by: str | None = None, metadata: dict[str, Any] | None = None,
    pointer: str = "/data/attributes/storage-key",
) -> File:
    """Register an object already in storage; its size and checksum are read from storage,
    and count against the organization's quota (``QuotaExceeded``).

    Any key is taken: a caller acting for an API key first confines it to the organization's
    import folder (``tenancy.check_import_key``)."""
    fields = check_file_fields(filename, content_type, metadata)
    # Its size counts against the quota like an upload's: reading stops once it is past.
    allowance = Allowance.of(services.registry.get_organization(org_id))
    digest = hashlib.sha256()
    size = 0
    try:
        stream = services.storage.open(storage_key)
    except InvalidStorageKey as exc:  # whatever the backend refuses (its own rules included)
        raise ValidationError(pointer, str(exc)) from None
    except ObjectNotFound:
        raise ValidationError(pointer, "no object is stored at this storage-key") from None
    try:
        for chunk in allowance.counted(stream):
            digest.update(chunk)
            size += len(chunk)
    finally:
        stream.close()
    return services.registry.create_file(
        org_id, filename=fields.filename, content_type=fields.content_type, byte_size=size,
        checksum=digest.hexdigest(), storage_key=storage_key, created_by=created_by,
        metadata=fields.metadata,
    )


def delete_file(services: Services, file_id: str, org_id: str | None = None) -> File:
    """Delete the row first (every URL dies with it), then the object. A storage failure
    after that leaves an unreferenced object, logged for clean-up, never a dangling row.

    Only an object in a folder the service owns for the file's organization (its uploads,
    its import folder) is deleted. A row registered before that rule, from anywhere in
    storage, goes without its object: the service never deletes what it does not own."""
    file = services.registry.delete_file(file_id, org_id)
    services.cache.forget_file(file_id)
    if not owns_key(file.organization_id, file.storage_key):
        log.warning(
            "file %s deleted; its object lies outside the organization's folders and was kept",
            file.id,
        )
        return file
    try:
        services.storage.delete(file.storage_key)
    except StorageError:
        log.error("file %s deleted but its object could not be removed", file.id)
    return file
