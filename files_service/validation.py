"""Checks on values users supply (§2). Each raises ``ValidationError`` naming the field."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from .errors import ValidationError
from .limits import MAX_FILE_URL_TTL

MAX_FILENAME_BYTES = 255
MAX_METADATA_BYTES = 16 * 1024
MAX_STORAGE_QUOTA = 2**63 - 1  # what a BIGINT holds
MAX_DIGITS = 20  # more than any limit of ours needs (2**64 has 20)


def validate_filename(filename: object, field: str = "filename") -> str:
    """1 to 255 bytes of UTF-8, no ``/``, no NUL and no other control character: neither a
    C0 or C1 control (Unicode category Cc) nor an invisible format character (Cf: bidi
    controls such as U+202E, which shows ``exe.pdf`` as ``fdp.exe``, the BOM U+FEFF,
    zero-width characters), which would make a name read otherwise than it is."""
    if not isinstance(filename, str):
        raise ValidationError(field, "must be a string")
    try:
        size = len(filename.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValidationError(field, "must be valid UTF-8") from None
    if not 1 <= size <= MAX_FILENAME_BYTES:
        raise ValidationError(field, f"must be 1 to {MAX_FILENAME_BYTES} bytes of UTF-8")
    if "/" in filename:
        raise ValidationError(field, "must not contain '/'")
    control = _first_control(filename)
    if control is not None:
        raise ValidationError(
            field, f"must not contain control or format characters (found U+{ord(control):04X})"
        )
    if filename in (".", ".."):
        raise ValidationError(field, "must not be '.' or '..'")
    return filename


def _first_control(text: str) -> str | None:
    if text.isascii():  # the common case: only C0 controls and DEL to look for
        return next((c for c in text if c < " " or c == "\x7f"), None)
    return next((c for c in text if unicodedata.category(c) in ("Cc", "Cf")), None)


# A type or subtype name: RFC 9110 token characters, lower-cased, "*" left out on purpose.
_NAME = r"[!#$%&'+.^_`|~0-9a-z-]+"
_ESSENCE = re.compile(rf"({_NAME})/({_NAME})")


def media_essence(content_type: str) -> tuple[str, str] | None:
    """The type and subtype of ``content_type`` (lower-cased, parameters left out); ``None``
    where it is not exactly one media type: a comma makes a list, of which browsers take the
    last (``image/png; a=b,text/html`` is HTML to them)."""
    if "," in content_type:
        return None
    match = _ESSENCE.fullmatch(content_type.split(";", 1)[0].strip().lower())
    return None if match is None else (match.group(1), match.group(2))


def whole_number(text: str) -> int | None:
    """``text`` (spaces around it aside) as a whole number in ASCII digits; ``None`` where it
    is none, or has more than ``MAX_DIGITS`` digits (which no limit of ours admits, and which
    ``int()`` refuses past 4,300 with an error of its own)."""
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > MAX_DIGITS:
        return None
    return int(text)


def validate_ttl(value: object, field: str = "file-url-ttl") -> int:
    """A whole number of seconds from 1 to 86400; anything else is refused, never clamped."""
    if isinstance(value, bool):
        raise ValidationError(field, "must be a whole number of seconds")
    if isinstance(value, str):
        value = whole_number(value)
    if not isinstance(value, int):
        raise ValidationError(field, "must be a whole number of seconds from 1 to 86400")
    if not 1 <= value <= MAX_FILE_URL_TTL:
        raise ValidationError(
            field, f"must be from 1 to {MAX_FILE_URL_TTL} seconds (one day); got {value}"
        )
    return value


def validate_quota(value: object, field: str = "storage-quota") -> int | None:
    """A storage quota: a whole number of bytes (0 and up), or ``None`` / ``"none"`` for no
    quota. Digits in a string are read as the number (the command line's ``BYTES``)."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
        return None
    if isinstance(value, str):
        value = whole_number(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, "must be a whole number of bytes, or none")
    if not 0 <= value <= MAX_STORAGE_QUOTA:
        raise ValidationError(field, f"must be from 0 to {MAX_STORAGE_QUOTA} bytes, or none")
    return value


def validate_content_type(value: object, field: str = "content-type") -> str:
    """A ``type/subtype`` media type, optionally with parameters, in printable ASCII."""
    if not isinstance(value, str) or not value:
        raise ValidationError(field, "must be a media type such as 'text/plain'")
    if len(value) > 255 or not value.isascii() or any(ord(c) < 0x20 or c == "\x7f" for c in value):
        raise ValidationError(field, "must be printable ASCII of at most 255 characters")
    main = value.split(";", 1)[0].strip()
    kind, sep, sub = main.partition("/")
    if not sep or not kind or not sub or " " in main:
        raise ValidationError(field, "must be a media type such as 'text/plain'")
    return value


def validate_metadata(value: object, field: str = "metadata") -> dict[str, Any]:
    """A JSON object with string keys, at most 16 KiB serialized."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValidationError(field, "must be a JSON object with string keys")
    if len(json.dumps(value, ensure_ascii=False).encode("utf-8")) > MAX_METADATA_BYTES:
        raise ValidationError(field, f"must be at most {MAX_METADATA_BYTES} bytes as JSON")
    return value


@dataclass(frozen=True)
class FileFields:
    """What a user says of a file, checked: its name, media type and metadata."""

    filename: str
    content_type: str
    metadata: dict[str, Any]


def check_file_fields(filename: object, content_type: object, metadata: object) -> FileFields:
    """The one check of a file's user-given attributes, wherever a file comes in (an upload,
    a registration, an upload URL): each field by its rule of §2, refused with a
    ``ValidationError`` naming the first field at fault."""
    return FileFields(
        validate_filename(filename),
        validate_content_type(content_type),
        validate_metadata(metadata),
    )
