"""Checks on the values the registry stores that the user-facing checks of
``files_service.validation`` leave to it: names, webhook URLs, stored versions and the
figures of a file. Each raises ``ValidationError`` naming the field."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ..errors import ValidationError
from ..ids import is_id

MAX_NAME = 200
MAX_URL = 2048
MAX_VERSION = 32
MAX_STORAGE_KEY = 1024
_CHECKSUM = re.compile(r"[0-9a-f]{64}")


def check_name(name: object, *, allow_empty: bool) -> str:
    """An organization's or api-key's name: up to 200 characters, no control character."""
    if not isinstance(name, str):
        raise ValidationError("name", "must be a string")
    if len(name) > MAX_NAME or (not allow_empty and not name.strip()):
        low = 0 if allow_empty else 1
        raise ValidationError("name", f"must be {low} to {MAX_NAME} characters, not blank")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in name):
        raise ValidationError("name", "must not contain control characters")
    return name


def check_url(url: object) -> str:
    """A webhook's URL: http or https, with a host, no space or control character."""
    if not isinstance(url, str) or not url:
        raise ValidationError("url", "must be an http or https URL")
    if len(url) > MAX_URL:
        raise ValidationError("url", f"must be at most {MAX_URL} characters")
    if any(ord(c) <= 0x20 or 0x7F <= ord(c) <= 0x9F for c in url):
        raise ValidationError("url", "must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError:
        raise ValidationError("url", "is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise ValidationError("url", "must be an http or https URL with a host")
    return url


def check_version(version: object) -> str | None:
    """A principal's api-version, or ``None``. The registry keeps what the versioning layer
    decided; it only bounds the value."""
    if version is None:
        return None
    if (
        not isinstance(version, str)
        or not 1 <= len(version) <= MAX_VERSION
        or not version.isascii()
        or not version.isprintable()
    ):
        raise ValidationError("api-version", f"must be 1 to {MAX_VERSION} printable characters")
    return version


def check_file_id(file_id: object) -> str:
    """An id chosen beforehand must be one ``new_id("file")`` made."""
    if not isinstance(file_id, str) or not is_id(file_id, "file"):
        raise ValidationError("id", "must be a file id made by new_id('file')")
    return file_id


def check_byte_size(byte_size: object) -> int:
    if isinstance(byte_size, bool) or not isinstance(byte_size, int) or byte_size < 0:
        raise ValidationError("byte-size", "must be a whole number of bytes")
    return byte_size


def check_checksum(checksum: object) -> str:
    if not isinstance(checksum, str) or not _CHECKSUM.fullmatch(checksum):
        raise ValidationError("checksum", "must be a SHA-256 in lowercase hex")
    return checksum


def check_storage_key(storage_key: object) -> str:
    if not isinstance(storage_key, str) or not 1 <= len(storage_key) <= MAX_STORAGE_KEY:
        raise ValidationError("storage-key", f"must be 1 to {MAX_STORAGE_KEY} characters")
    return storage_key
