"""Media types of the API (§7) and reading a request: its query string and its JSON:API
document.

Responses are ``application/vnd.api+json``, but for ``/openapi.json``, which is plain
``application/json``. Request documents are at most ``MAX_DOCUMENT_BYTES`` (larger: ``413``);
uploads are ``multipart/form-data`` and streamed (``upload.py``), never read whole."""

from __future__ import annotations

import json
import logging
from typing import IO, Any
from urllib.parse import parse_qsl

from flask import Request, request
from werkzeug.datastructures import MultiDict
from werkzeug.utils import cached_property

from ..jsonapi import bad_pointer, not_acceptable, payload_too_large
from ..jsonapi.media import VERSION_MEDIA_TYPE, parse_accept

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 1024 * 1024
JSON = "application/json"


class TolerantRequest(Request):
    """Flask's request, but a query string with raw bytes that are not UTF-8 is read, not
    crashed on.

    A WSGI server hands the query string over as the bytes the client sent; Werkzeug decodes
    them strictly as UTF-8 (and keeps it that way on purpose: pallets/werkzeug#3022), so a raw
    ``\xff`` made ``request.args`` raise ``UnicodeDecodeError``, a 500 from every API request
    and from the error handler's own attempt to name the version. Gunicorn refuses such a
    request line itself; other WSGI servers pass it on. Here a byte that is not UTF-8 reads
    as its percent escape (``%FF``), exactly as Werkzeug reads a percent-encoded one, so the
    usual checks answer it (a 400 where the parameter is ours, ignored where it is not)."""

    @cached_property
    def args(self) -> MultiDict[str, str]:
        text = self.query_string.decode("utf-8", "werkzeug.url_quote")
        return self.parameter_storage_class(
            parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")
        )


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


def read_body(stream: IO[bytes], size: int) -> bytes:
    """Up to ``size`` bytes of the request body (``b""`` at its end); ``ApiError`` (400, on the
    body as a whole) where it cannot be read.

    The input stream is the WSGI server's, and what it raises is its own: an ``OSError`` or
    Werkzeug's ``ClientDisconnected`` when the client went away, but gunicorn raises
    ``InvalidChunkSize`` and friends (plain ``Exception``s) for a chunked body whose framing
    is broken, which were 500s. Any of them means the same to us: the body is not there."""
    try:
        return stream.read(size)
    except Exception as exc:  # a foreign boundary: see above
        log.info("the request body could not be read: %s", type(exc).__name__)
        raise bad_pointer(
            "", "The request body ended before it was complete, or its framing is malformed."
        ) from None


def read_document() -> dict[str, Any]:
    """The request's JSON document, a JSON object; ``413`` above ``MAX_DOCUMENT_BYTES``,
    ``400`` (``source.pointer`` ``""``, the whole document) when it is not a JSON object."""
    too_large = f"A request document may be at most {MAX_DOCUMENT_BYTES} bytes."
    length = request.content_length
    if length is not None and length > MAX_DOCUMENT_BYTES:
        raise payload_too_large(too_large)
    raw = read_body(request.stream, MAX_DOCUMENT_BYTES + 1)
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise payload_too_large(too_large)
    return json_object(
        raw, "", not_json="The request body is not a JSON document (UTF-8).",
        not_object="The request document must be a JSON object.",
    )


def json_object(raw: bytes, pointer: str, *, not_json: str, not_object: str) -> dict[str, Any]:
    """``raw`` parsed as a UTF-8 JSON object; a 400 pointing at ``pointer`` otherwise."""
    try:
        value = json.loads(raw.decode("utf-8"))
    # ValueError: JSONDecodeError, and also a number longer than Python's int limit (4300
    # digits), which json raises as a plain ValueError.
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise bad_pointer(pointer, not_json) from None
    if not isinstance(value, dict):
        raise bad_pointer(pointer, not_object)
    return value
