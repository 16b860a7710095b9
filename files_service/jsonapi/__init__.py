"""JSON:API (§7) as a pure core, no Flask: errors, content negotiation, query parameters and
response documents. The ``/api/v1`` blueprint and the download server sit on top of it.

- ``errors``: ``ApiError`` (and ``ApiErrorGroup``), ``error_document`` and helpers.
- ``render``: ``render_error``, an error's response (status, headers, body) for every edge.
- ``media``: ``check_content_type`` (415) and ``check_accept`` (406).
- ``query``: ``parse_query`` into ``QueryOptions`` (400 for every bad parameter).
- ``document``: ``Resource``, ``build_document``, ``resolve_includes``.
"""

from .document import Resource, apply_fieldset, build_document, resolve_includes
from .errors import (
    ApiError,
    ApiErrorGroup,
    bad_header,
    bad_parameter,
    bad_pointer,
    error_document,
    internal_error,
    json_pointer,
    method_not_allowed,
    not_acceptable,
    not_found,
    payload_too_large,
    shorten,
    unauthorized,
    unsupported_media_type,
    unsupported_parameter,
)
from .media import MEDIA_TYPE, check_accept, check_content_type
from .query import QueryOptions, api_version_param, parse_query
from .render import ErrorResponse, render_error

__all__ = [
    "MEDIA_TYPE",
    "ApiError",
    "ApiErrorGroup",
    "ErrorResponse",
    "QueryOptions",
    "Resource",
    "api_version_param",
    "apply_fieldset",
    "bad_header",
    "bad_parameter",
    "bad_pointer",
    "build_document",
    "check_accept",
    "check_content_type",
    "error_document",
    "internal_error",
    "json_pointer",
    "method_not_allowed",
    "not_acceptable",
    "not_found",
    "parse_query",
    "payload_too_large",
    "render_error",
    "resolve_includes",
    "shorten",
    "unauthorized",
    "unsupported_media_type",
    "unsupported_parameter",
]
