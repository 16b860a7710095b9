"""Errors of the API as JSON:API error documents (§7), never an HTML page or a traceback.

The API's views are covered by the blueprint's handlers; unknown paths and methods under
``/api/v1`` by handlers on the app that leave every other path to whatever handled it before
(the app's own error pages, or Flask's). The domain's exceptions a view lets through are
translated here:

    ValidationError      -> 400, on the query parameter or body member it names
    Forbidden            -> 403 ``forbidden``, on the body member it names
    UploadTooLarge       -> 413 ``upload_too_large``
    QuotaExceeded        -> 403 ``quota_exceeded``
    NotFound             -> 404 (another organization's ids too: the two are never told apart)
    RegistryUnavailable  -> 503 with Retry-After
    StorageUnavailable   -> 503 with Retry-After
    werkzeug HTTPException (404, 405, 413, ...) -> the same status (``web_errors``' mapping)
    anything else        -> 500 ``internal_error``, the cause logged, never shown

and answered with ``web_errors.render``, the app's own renderer, so that every edge's error
looks the same (``jsonapi.render_error``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import NotFound as RouteNotFound

from ..errors import (
    FieldError,
    Forbidden,
    NotFound,
    QuotaExceeded,
    RegistryUnavailable,
    StorageUnavailable,
    UploadTooLarge,
    ValidationError,
)
from ..jsonapi import ApiError, bad_parameter, bad_pointer, internal_error, not_found
from ..jsonapi.errors import json_pointer
from ..web_errors import from_http_exception, render
from .blueprint import bp
from .mint_query import MINTING

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
RETRY_AFTER = "5"
QUERY_PARAMETERS = frozenset(
    {*MINTING, "page[size]", "page[after]", "filter[id]", "include", "api-version"}
)


def is_api_path(path: str) -> bool:
    """Whether ``path`` is the API's (``/api/v1`` and below)."""
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def from_validation(
    error: FieldError, pointers: Mapping[str, str] | None = None
) -> ApiError:
    """400 for a domain ``ValidationError``: on the body member ``pointers`` maps its field
    to, else on the query parameter it names, else on ``/data/attributes/<field>`` (a field
    that is already a JSON Pointer is kept as it is)."""
    field = error.field
    if pointers and field in pointers:
        return bad_pointer(pointers[field], error.message)
    if field in QUERY_PARAMETERS:
        return bad_parameter(field, f"{field}: {error.message}")
    if field.startswith("/"):
        return bad_pointer(field, error.message)
    return bad_pointer("/data/attributes" + json_pointer(field), error.message)


def from_forbidden(
    error: Forbidden, pointers: Mapping[str, str] | None = None
) -> ApiError:
    """403 ``forbidden`` for a domain ``Forbidden``, on the body member its field names (as
    ``from_validation`` finds it)."""
    source = from_validation(error, pointers).source
    return ApiError(403, "forbidden", error.message, source=source)


def upload_too_large(error: UploadTooLarge) -> ApiError:
    """413 ``upload_too_large``: the file is larger than this upload may be."""
    return ApiError(
        413, "upload_too_large",
        f"The file is larger than this upload may be: at most {error.limit} bytes.",
        meta={"max-bytes": error.limit},
    )


def quota_exceeded(error: QuotaExceeded) -> ApiError:
    """403 ``quota_exceeded``: the file does not fit in what the organization's quota leaves."""
    return ApiError(
        403, "quota_exceeded",
        f"Storing this file would take your organization past its storage quota of "
        f"{error.quota} bytes ({error.used} used).",
        meta={"storage-quota": error.quota, "storage-used": error.used},
    )


def unavailable(code: str, detail: str) -> ApiError:
    """503 with ``Retry-After``."""
    return ApiError(503, code, detail, headers=[("Retry-After", RETRY_AFTER)])


def to_api_error(exc: BaseException) -> ApiError:
    """The JSON:API error for any exception a view let through."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ValidationError):
        return from_validation(exc)
    if isinstance(exc, Forbidden):
        return from_forbidden(exc)
    if isinstance(exc, UploadTooLarge):
        return upload_too_large(exc)
    if isinstance(exc, QuotaExceeded):
        return quota_exceeded(exc)
    if isinstance(exc, NotFound):
        return not_found()
    if isinstance(exc, RegistryUnavailable):
        log.warning("registry unavailable: %s", exc)
        return unavailable("registry_unavailable", "The registry cannot be reached right now; "
                           "try again shortly.")
    if isinstance(exc, StorageUnavailable):
        log.warning("storage unavailable: %s", exc)
        return unavailable("storage_unavailable", "Storage cannot be reached right now; "
                           "try again shortly.")
    if isinstance(exc, RouteNotFound):
        return not_found("There is no API endpoint at this path.")
    if isinstance(exc, HTTPException):
        return from_http_exception(exc)
    log.error("unhandled error in %s %s", request.method, request.path, exc_info=exc)
    return internal_error()


def _render(exc: Exception) -> Response:
    return render(to_api_error(exc))


# Errors of the API's own views (and of the pipeline before them) are the blueprint's.
bp.register_error_handler(ApiError, _render)
bp.register_error_handler(HTTPException, _render)
bp.register_error_handler(Exception, _render)


def init_app(app: Flask) -> None:
    """Handle, on ``app``, what happens under ``/api/v1`` outside any view: an unknown path or
    method, or a refusal of the pipeline there (e.g. the ``401`` of an unknown path).

    Elsewhere the app's own handlers (registered before these) or Flask's defaults answer as
    before; handlers registered after these take over everywhere, the API's views excepted
    (the blueprint's handlers come first for them)."""
    app.register_error_handler(ApiError, _render)
    registered = app.error_handler_spec[None][None]
    earlier_http = registered.get(HTTPException)
    earlier_any = registered.get(Exception)

    def handle_http_exception(exc: HTTPException) -> Any:
        if is_api_path(request.path):
            return _render(exc)
        return earlier_http(exc) if earlier_http is not None else exc

    def handle_exception(exc: Exception) -> Any:
        if is_api_path(request.path):
            return _render(exc)
        if earlier_any is not None:
            return earlier_any(exc)
        raise exc  # Flask's own handling (log, 500)

    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_exception)
