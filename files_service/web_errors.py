"""JSON:API error documents for every error the Flask app itself raises (unknown paths, wrong
methods, and any unexpected exception): never an HTML page, never a traceback. This is the
floor under everything else; the API's handlers (``api/errors.py``) answer for ``/api/v1``
with the same two pieces:

- ``render``: an ``ApiError`` as a Flask response (``jsonapi.render_error`` does the work);
- ``from_http_exception``: the one mapping of Werkzeug's HTTP exceptions to ``ApiError``."""

from __future__ import annotations

import logging

from flask import Flask, Response
from werkzeug.exceptions import (
    ClientDisconnected,
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    RequestEntityTooLarge,
)
from werkzeug.exceptions import NotFound as RouteNotFound

from .jsonapi import (
    ApiError,
    bad_pointer,
    internal_error,
    method_not_allowed,
    not_found,
    payload_too_large,
    render_error,
)

log = logging.getLogger(__name__)


def render(error: ApiError) -> Response:
    """The response for ``error``: a JSON:API error document, ``no-store``."""
    status, headers, body = render_error(error)
    return Response(body, status=status, headers=headers)


def from_http_exception(exc: HTTPException) -> ApiError:
    """The JSON:API error for one of Werkzeug's (routing, body limits, disconnects)."""
    if isinstance(exc, RouteNotFound):
        return not_found("There is nothing at this path.")
    if isinstance(exc, MethodNotAllowed):
        return method_not_allowed(exc.valid_methods or ())
    if isinstance(exc, RequestEntityTooLarge):
        return payload_too_large("The request body is too large.")
    if isinstance(exc, ClientDisconnected):
        return bad_pointer("", "The request body ended before it was complete.")
    code = exc.code or 500
    name = (exc.name or "error").lower().replace(" ", "_").replace("-", "_")
    return ApiError(code, name, exc.description or exc.name or "Request failed.")


def _http_error(exc: HTTPException) -> Response:
    return render(from_http_exception(exc))


def _unexpected(exc: Exception) -> Response:
    # The traceback goes to the log (tokens never reach one: see redact.py); the client
    # gets a plain 500 without a trace.
    if isinstance(exc, HTTPException) and not isinstance(exc, InternalServerError):
        return _http_error(exc)
    log.exception("unexpected error")
    return render(internal_error())


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
