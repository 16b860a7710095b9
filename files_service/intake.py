"""Taking a file in (§5 "Tenancy and limits"): the one place that streams a body into storage
under a byte limit and the organization's quota, and registers the file once the whole body
is in.

Whatever brings the bytes (a multipart upload of the API, a ``PUT`` to an upload URL, the
CLI), the steps are the same::

    with Intake(services, org_id, max_bytes=settings.max_upload_bytes) as intake:
        intake.refuse_declared(content_length, framing=...)   # before reading a byte
        intake.write(chunks)                                  # streamed, counted as it goes
        file = intake.commit(fields, created_by=key_id)       # the row, once all is in

- ``refuse_declared`` refuses a body whose declared length says the file must be over the
  limit or the quota, before anything is read (``framing``: the most a body may carry
  besides the file).
- ``write`` streams the chunks to storage under a key no row points at, counting the file's
  bytes as they pass: past the limit (``UploadTooLarge``) or past what the quota left when
  the intake began (``QuotaExceeded``), the refusal is raised from inside the write, so that
  storage discards what it had (a local temporary file, an S3 multipart upload).
- ``commit`` writes the row, the quota checked again in the same transaction (the registry's
  ``create_file``): of uploads of one organization racing for the last bytes of its quota,
  one gets in and the others are refused with nothing left.
- Leaving the block any other way (an error, a refusal, a broken-off body) removes the object
  written: nothing is left in storage or the registry.

Every intake is counted once it ends, in ``files_uploads_total{outcome}`` (``ok``, or why it
was refused: ``upload_outcome``) and, stored, its size in ``files_upload_bytes_total``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType

from .errors import (
    FieldError,
    QuotaExceeded,
    RegistryError,
    StorageError,
    UploadTooLarge,
)
from .ids import new_id
from .jsonapi import ApiError
from .registry.models import File, Organization
from .services import Services
from .storage.interface import WriteResult
from .tenancy import upload_key
from .validation import FileFields

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Allowance:
    """How large one file may be: at most ``max_bytes`` (``None``: no limit), and no more
    than the organization's ``quota`` (``None``: none) leaves beside the ``used`` bytes."""

    max_bytes: int | None = None
    quota: int | None = None
    used: int = 0

    @classmethod
    def of(cls, org: Organization, max_bytes: int | None = None) -> Allowance:
        """What ``org``'s quota and what it stores leave, under ``max_bytes``."""
        return cls(max_bytes, org.storage_quota, org.storage_used)

    def check(self, size: int) -> None:
        """Refuse a file of ``size`` bytes: ``UploadTooLarge`` over ``max_bytes``,
        ``QuotaExceeded`` past the quota."""
        if self.max_bytes is not None and size > self.max_bytes:
            raise UploadTooLarge(self.max_bytes)
        if self.quota is not None and self.used + size > self.quota:
            raise QuotaExceeded(self.quota, self.used)

    def check_declared(self, length: int | None, framing: int = 0) -> None:
        """Refuse a body of ``length`` bytes (``None``: not declared) whose file, all but
        ``framing`` bytes of it at least, would be refused."""
        if length is not None:
            self.check(max(0, length - framing))

    def counted(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """``chunks``, refused (raised from the iterator) as soon as they add up to a file
        this allowance refuses."""
        size = 0
        for chunk in chunks:
            size += len(chunk)
            self.check(size)
            yield chunk


class Intake:
    """One file coming in for ``org_id``: see the module's docstring. ``file_id`` is the id the
    file will have (a new one by default); ``storage_key`` where its object goes (by default
    the organization's upload folder, ``{org_id}/{file_id}``)."""

    def __init__(
        self, services: Services, org_id: str, *, max_bytes: int | None = None,
        file_id: str | None = None, storage_key: str | None = None,
    ) -> None:
        org = services.registry.get_organization(org_id)  # NotFound before anything is read
        self.services = services
        self.org_id = org_id
        self.allowance = Allowance.of(org, max_bytes)
        self.file_id = file_id or new_id("file")
        self.storage_key = storage_key or upload_key(org_id, self.file_id)
        self.written: WriteResult | None = None
        self.committed = False

    def refuse_declared(self, length: int | None, *, framing: int = 0) -> None:
        """Refuse, before reading it, a body declared ``length`` bytes long (see
        ``Allowance.check_declared``)."""
        self.allowance.check_declared(length, framing)

    def write(self, chunks: Iterable[bytes]) -> WriteResult:
        """Stream ``chunks`` into storage, counted against the allowance. Any error (a limit,
        a broken body raised by ``chunks``, storage failing) leaves nothing in storage."""
        if self.written is not None:
            raise RuntimeError("an intake writes one object")
        self.written = self.services.storage.write(
            self.storage_key, self.allowance.counted(chunks)
        )
        return self.written

    def commit(
        self, fields: FileFields, *, created_by: str | None = None,
        upload_url_expires_at: float | None = None,
    ) -> File:
        """Register the file written, with ``fields`` (checked already, by
        ``validation.check_file_fields``); for an upload URL expiring at
        ``upload_url_expires_at``, marking it used (``FileIdTaken`` where it was)."""
        if self.written is None:
            raise RuntimeError("nothing was written to commit")
        file = self.services.registry.create_file(
            self.org_id, file_id=self.file_id, filename=fields.filename,
            content_type=fields.content_type, byte_size=self.written.size,
            checksum=self.written.sha256, storage_key=self.storage_key,
            created_by=created_by, metadata=fields.metadata,
            upload_url_expires_at=upload_url_expires_at,
        )
        self.committed = True
        return file

    def discard(self) -> None:
        """Remove the object written and not committed, if any."""
        if self.written is not None and not self.committed:
            self.written = None
            self.services.storage.delete(self.storage_key)

    def __enter__(self) -> Intake:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        stored = self.written.size if self.committed and self.written is not None else 0
        self.services.metrics.upload(upload_outcome(exc, committed=self.committed), stored)
        if exc is None:
            self.discard()
            return
        try:
            self.discard()
        except StorageError as cleanup:
            # The refusal or failure in flight is the one to report; the object stays for
            # an operator to remove (no row points at it).
            log.error("could not remove the object of an upload that failed: %s", cleanup)


def upload_outcome(exc: BaseException | None, *, committed: bool) -> str:
    """How an intake ended, one of ``metrics.UPLOAD_OUTCOMES``: ``ok`` (stored), or the
    reason it was refused or failed. Any other client error than the two limits (a malformed
    form, bad metadata or filename, a body broken off) is a ``bad_request``."""
    if exc is None:
        return "ok" if committed else "failed"
    if isinstance(exc, UploadTooLarge):
        return "upload_too_large"
    if isinstance(exc, QuotaExceeded):
        return "quota_exceeded"
    if isinstance(exc, FieldError) or (isinstance(exc, ApiError) and exc.status < 500):
        return "bad_request"
    if isinstance(exc, StorageError):
        return "storage_unavailable"
    if isinstance(exc, RegistryError):
        return "registry_unavailable"
    return "failed"
