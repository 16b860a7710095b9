"""Signed upload URLs (§5): what a mint may ask for, the URL itself, and the type rule it
binds. The API (``POST /api/v1/upload-urls``) and the CLI (``upload-url``) both mint here; the
upload itself is answered by ``files_service.uploads``.

An upload URL names the file it will create before any byte exists: a new file id, bound in
the token with the organization, the principal, the filename, the type rule, the size limit
and the expiry (``upload_tokens``). Its metadata, too large for a URL, waits in the registry
under that file id. It works once: the registry's insert of the file row, unique by id,
decides which of several uploads with one URL wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ValidationError
from .ids import new_id
from .minting import effective_ttl
from .registry.models import ApiKey, Principal
from .services import Services
from .validation import media_essence, validate_filename, validate_metadata

DEFAULT_UPLOAD_URL_TTL = 3600


@dataclass(frozen=True)
class UploadUrl:
    """A minted upload URL and what it binds."""

    url: str
    expires_at: int
    file_id: str
    filename: str
    content_type: str | None
    max_bytes: int


def check_type_rule(value: object, field: str = "content-type") -> str | None:
    """An exact media type (``image/png``) or a pattern of one main type (``image/*``),
    lowercased, without parameters; ``None`` for any type."""
    if value is None:
        return None
    message = "must be a media type such as 'image/png' or a pattern such as 'image/*'"
    if not isinstance(value, str) or not value or len(value) > 127 or not value.isascii():
        raise ValidationError(field, message)
    kind, sep, sub = value.strip().lower().partition("/")
    if not sep or not _is_token(kind) or not (sub == "*" or _is_token(sub)):
        raise ValidationError(field, message + ", without parameters")
    return f"{kind}/{sub}"


def type_allowed(rule: str | None, content_type: str) -> bool:
    """Whether a file of ``content_type`` (parameters allowed) is one ``rule`` takes."""
    if rule is None:
        return True
    parsed = media_essence(content_type)  # one type, or none: never a list that hides another
    if parsed is None:
        return False
    top, sub = parsed
    return top == rule[:-2] if rule.endswith("/*") else f"{top}/{sub}" == rule


def check_max_bytes(value: object, limit: int, field: str = "max-bytes") -> int:
    """A size limit from 1 byte to ``limit`` (``FILES_MAX_UPLOAD_BYTES``, also the default);
    larger is refused, never clamped."""
    if value is None:
        return limit
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(field, "must be a whole number of bytes, at least 1")
    if value > limit:
        raise ValidationError(
            field, f"may not exceed this service's largest upload, {limit} bytes"
        )
    return value


def upload_ttl(principal: Principal, value: object, field: str = "url-ttl") -> int:
    """How long the URL lives: ``value`` seconds, or by default an hour, or the principal's
    ``file-url-ttl`` where that is shorter; longer than the principal's ``file-url-ttl`` is
    refused, never clamped."""
    if value is None:
        return min(DEFAULT_UPLOAD_URL_TTL, principal.file_url_ttl)
    return effective_ttl(principal, value, field)


def mint_upload_url(
    services: Services, principal: Principal, created_by: ApiKey | None, *, filename: object,
    content_type: object = None, max_bytes: object = None, metadata: object = None,
    ttl: object = None,
) -> UploadUrl:
    """A new upload URL for ``principal`` (the api-key, or a webhook of its organization in
    whose context it mints), made by the api-key ``created_by`` (``None``: the command line,
    for a webhook; the file then has no creator). Each value is checked by its rule;
    ``ValidationError`` names the first at fault."""
    name = validate_filename(filename)
    rule = check_type_rule(content_type)
    limit = check_max_bytes(max_bytes, services.settings.max_upload_bytes)
    fields: dict[str, Any] = validate_metadata(metadata)
    lifetime = upload_ttl(principal, ttl)
    file_id = new_id("file")
    token, expires_at = services.upload_tokens.mint(
        file_id=file_id, principal_id=principal.id,
        created_by=None if created_by is None else created_by.id,
        organization_id=principal.organization_id, ttl=lifetime, max_bytes=limit,
        content_type=rule, filename=name,
    )
    if fields:
        services.registry.keep_upload_metadata(
            principal.organization_id, file_id, fields, expires_at
        )
    url = f"{services.settings.download_base_url}/uploads/{token}"
    return UploadUrl(url, expires_at, file_id, name, rule, limit)


def _is_token(text: str) -> bool:
    """An RFC 9110 token, as media types' names are."""
    return bool(text) and all(c.isalnum() or c in "!#$&-^_.+" for c in text)
