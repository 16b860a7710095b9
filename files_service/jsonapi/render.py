"""An ``ApiError`` as an HTTP response, in plain data: the one renderer of error documents.

Every edge answers its errors with it, so that they look the same wherever they come from:
the API's views (``api/errors.py``), the Flask app's own errors (``web_errors.py``) and the
download server (``download/``), which speaks WSGI without Flask. The body is the JSON:API
error document (§7), sent as ``application/vnd.api+json`` with ``Cache-Control: no-store``,
followed by the error's own headers (``Allow``, ``WWW-Authenticate``, ``Retry-After``, …)."""

from __future__ import annotations

import json
from typing import NamedTuple

from .errors import ApiError, error_document
from .media import MEDIA_TYPE


class ErrorResponse(NamedTuple):
    """What to send for an error: status, headers (in order) and body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def render_error(error: ApiError) -> ErrorResponse:
    """The response for ``error`` (every problem of a group in one document)."""
    body = json.dumps(error_document(error.errors), ensure_ascii=False).encode("utf-8")
    headers = [
        ("Content-Type", MEDIA_TYPE),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        *error.headers,
    ]
    return ErrorResponse(error.status, headers, body)
