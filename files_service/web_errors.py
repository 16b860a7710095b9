"""JSON:API error documents for every error the Flask app itself raises (unknown paths, wrong
methods, and any unexpected exception): never an HTML page, never a traceback. The API
blueprint renders its own ``ApiError``s; this is the floor under everything else."""

from __future__ import annotations

import json
import logging

from flask import Flask, Response
from werkzeug.exceptions import HTTPException, InternalServerError

from .jsonapi.errors import ApiError, error_document

log = logging.getLogger(__name__)


def render(error: ApiError) -> Response:
    """The response for ``error``: a JSON:API error document, ``no-store``."""
    response = Response(
        json.dumps(error_document(error.errors)),
        status=error.status,
        mimetype="application/vnd.api+json",
        headers=[("Cache-Control", "no-store"), *error.headers],
    )
    return response


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
        status, (exc.name or "error").lower().replace(" ", "_")
    )
    headers = []
    if status == 405 and getattr(exc, "valid_methods", None):
        headers.append(("Allow", ", ".join(sorted(exc.valid_methods))))
    detail = exc.description or exc.name or "error"
    return render(ApiError(status, code, detail, headers=headers))


def _unexpected(exc: Exception) -> Response:
    # The traceback goes to the log (tokens never reach one: see redact.py); the client
    # gets a plain 500 without a trace.
    if isinstance(exc, HTTPException) and not isinstance(exc, InternalServerError):
        return _http_error(exc)
    log.exception("unexpected error")
    return render(ApiError(500, "internal_error", "Something went wrong on our side."))


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
