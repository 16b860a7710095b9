"""The opaque ``page[after]`` cursor of the files listing: a position (created-at in
microseconds, file id) in the newest-first keyset order, base64url without padding. Each
position has exactly one spelling, and anything else is refused."""

from __future__ import annotations

import base64
import binascii
import re

from ..errors import ValidationError
from ..ids import is_id

_MAX_CURSOR = 200
_MAX_MICROS = 2**63 - 1
_CURSOR = re.compile(r"[A-Za-z0-9_-]+")
_CURSOR_BODY = re.compile(r"(0|[1-9][0-9]{0,18}):(file_[A-Za-z0-9]+)")


def encode_cursor(created_at: int, file_id: str) -> str:
    """The cursor of the position just after (``created_at`` micros, ``file_id``)."""
    raw = f"{created_at}:{file_id}".encode("ascii")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: object) -> tuple[int, str]:
    """The position a cursor of ``encode_cursor`` names; ``ValidationError`` on
    ``page[after]`` for anything else."""

    def bad() -> ValidationError:
        return ValidationError("page[after]", "is not a cursor from links.next")

    if not isinstance(cursor, str) or not 1 <= len(cursor) <= _MAX_CURSOR:
        raise bad()
    if not _CURSOR.fullmatch(cursor):
        raise bad()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise bad() from None
    match = _CURSOR_BODY.fullmatch(raw)
    if match is None or not is_id(match[2], "file") or int(match[1]) > _MAX_MICROS:
        raise bad()
    # Exactly the encoding we hand out, so that each position has one spelling.
    if encode_cursor(int(match[1]), match[2]) != cursor:
        raise bad()
    return int(match[1]), match[2]
