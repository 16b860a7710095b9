"""Media types of the API (§7) and reading a JSON:API request document.

Responses are ``application/vnd.api+json``, but for ``/openapi.json``, which is plain
``application/json``. Request documents are at most ``MAX_DOCUMENT_BYTES`` (larger: ``413``);
uploads are ``multipart/form-data`` and streamed (``upload.py``), never read whole."""

from __future__ import annotations

import json
from typing import Any

from flask import request
from werkzeug.exceptions import ClientDisconnected

from ..jsonapi import bad_pointer, not_acceptable
from ..jsonapi.media import VERSION_MEDIA_TYPE, parse_accept
from .errors import payload_too_large

MAX_DOCUMENT_BYTES = 1024 * 1024
JSON = "application/json"


def check_accept_json(accept: str | None) -> None:
    """Refuse (406) an ``Accept`` header that admits no ``application/json``."""
    ranges = parse_accept(accept)
    if not ranges:
        return
    for media_range in ranges:
        if media_range.q > 0 and (
            media_range.essence in {"*/*", "application/*", JSON}
            or VERSION_MEDIA_TYPE.fullmatch(media_range.essence)
        ):
            return
    raise not_acceptable(f"This endpoint sends {JSON}: accept it.")


def read_document() -> dict[str, Any]:
    """The request's JSON document, a JSON object; ``413`` above ``MAX_DOCUMENT_BYTES``,
    ``400`` (``source.pointer`` ``""``, the whole document) when it is not a JSON object."""
    too_large = f"A request document may be at most {MAX_DOCUMENT_BYTES} bytes."
    length = request.content_length
    if length is not None and length > MAX_DOCUMENT_BYTES:
        raise payload_too_large(too_large)
    try:
        raw = request.stream.read(MAX_DOCUMENT_BYTES + 1)
    except (OSError, ClientDisconnected):
        raise bad_pointer("", "The request body ended before it was complete.") from None
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise payload_too_large(too_large)
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise bad_pointer("", "The request body is not a JSON document (UTF-8).") from None
    if not isinstance(document, dict):
        raise bad_pointer("", "The request document must be a JSON object.")
    return document
