"""JSON:API error objects (§7): the one exception type the HTTP edges turn into a response.

    ApiError                 one problem: status, code, title, detail, source, meta (+ headers)
    └── ApiErrorGroup        several problems found in one pass (``.errors`` lists them)

Both the management API and the download server raise these, and every edge turns them into
its response with ``render.render_error``. This module depends on nothing but the standard
library so that any part of the service can import it.

``detail`` goes to users verbatim: never put a token, a secret or a storage key in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# One title per code: JSON:API says a title should not change between occurrences of a problem.
TITLES: dict[str, str] = {
    "invalid_parameter": "Invalid query parameter",
    "unsupported_parameter": "Unsupported query parameter",
    "invalid_header": "Invalid header",
    "invalid_body": "Invalid request document",
    "invalid_api_version": "Invalid API version",
    "conflicting_api_versions": "Conflicting API versions",
    "retired_api_version": "Retired API version",
    "unauthorized": "Unauthorized",
    "invalid_token": "Invalid token",
    "expired_token": "Expired token",
    "revoked_token": "Revoked token",
    "storage_unavailable": "Storage unavailable",
    "range_not_satisfiable": "Range not satisfiable",
    "registry_unavailable": "Registry unavailable",
    "not_found": "Not found",
    "conflict": "Conflict",
    "client_generated_id": "Client-generated ids not supported",
    "payload_too_large": "Payload too large",
    "forbidden": "Forbidden",
    "upload_too_large": "Upload too large",
    "quota_exceeded": "Storage quota exceeded",
    "upload_url_used": "Upload URL used",
    "bad_request": "Bad request",
    "method_not_allowed": "Method not allowed",
    "not_acceptable": "Not acceptable",
    "unsupported_media_type": "Unsupported media type",
    "internal_error": "Internal server error",
}


class ApiError(Exception):
    """One problem, as a JSON:API error object, plus the HTTP headers its response needs.

    ``source`` is ``{"parameter": name}``, ``{"pointer": "/data/attributes/x"}`` or
    ``{"header": name}`` (the JSON:API 1.1 member). ``meta`` keys must be JSON:API member
    names (``expired-at``, not ``expired_at``).
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        source: Mapping[str, str] | None = None,
        meta: Mapping[str, Any] | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.title = title if title is not None else TITLES.get(code, code.replace("_", " "))
        self.detail = detail
        self.source = dict(source) if source else None
        self.meta = dict(meta) if meta else None
        self.headers = list(headers)

    @property
    def errors(self) -> tuple[ApiError, ...]:
        """Every problem this exception stands for (just itself for a single error)."""
        return (self,)

    def to_json(self) -> dict[str, Any]:
        """This problem as a JSON:API error object (``status`` as a string)."""
        obj: dict[str, Any] = {
            "status": str(self.status),
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
        }
        if self.source:
            obj["source"] = dict(self.source)
        if self.meta:
            obj["meta"] = dict(self.meta)
        return obj

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.code!r}, {self.detail!r})"


class ApiErrorGroup(ApiError):
    """Several problems found together, e.g. every bad query parameter of one request.

    Its own status is the most generally applicable one (JSON:API): the common status, else
    400 for client errors, else 500. Its own code, detail and source are the first problem's,
    so code that looks at only one error still sees something true.
    """

    def __init__(self, errors: Sequence[ApiError]) -> None:
        flat = [one for error in errors for one in error.errors]
        if not flat:
            raise ValueError("an ApiErrorGroup needs at least one error")
        first = flat[0]
        super().__init__(
            overall_status(flat),
            first.code,
            first.detail,
            title=first.title,
            source=first.source,
            meta=first.meta,
            headers=[header for error in flat for header in error.headers],
        )
        self._errors = tuple(flat)

    @property
    def errors(self) -> tuple[ApiError, ...]:
        return self._errors


def raise_all(errors: Sequence[ApiError]) -> None:
    """Raise nothing for no errors, the error itself for one, an ``ApiErrorGroup`` for more."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ApiErrorGroup(errors)


def overall_status(errors: Iterable[ApiError]) -> int:
    """The HTTP status for a response carrying all these problems."""
    statuses = {error.status for error in errors}
    if len(statuses) == 1:
        return statuses.pop()
    return 500 if any(status >= 500 for status in statuses) else 400


def error_document(errors: Iterable[ApiError]) -> dict[str, Any]:
    """The JSON:API document ``{"errors": [...]}`` for these problems (groups are flattened)."""
    return {"errors": [one.to_json() for error in errors for one in error.errors]}


# -- the common cases --------------------------------------------------------------------------


def bad_parameter(name: str, detail: str) -> ApiError:
    """400: the query parameter ``name`` has a value we refuse."""
    return ApiError(400, "invalid_parameter", detail, source={"parameter": name})


def unsupported_parameter(name: str, detail: str) -> ApiError:
    """400: the query parameter ``name`` is not supported here at all."""
    return ApiError(400, "unsupported_parameter", detail, source={"parameter": name})


def bad_header(name: str, detail: str, *, code: str = "invalid_header") -> ApiError:
    """400: the request header ``name`` has a value we refuse."""
    return ApiError(400, code, detail, source={"header": name})


def bad_pointer(pointer: str, detail: str) -> ApiError:
    """400 (JSON:API would allow 422; we keep one status): the request document is at fault at
    ``pointer``, a JSON Pointer such as ``/data/attributes/filename``."""
    return ApiError(400, "invalid_body", detail, source={"pointer": pointer})


def shorten(value: str, limit: int = 60) -> str:
    """``value`` cut to at most ``limit`` characters (``...`` ending what was cut), to quote a
    user's value in an error detail without echoing all of it."""
    return value if len(value) <= limit else value[: limit - 3] + "..."


def json_pointer(*names: str) -> str:
    """A JSON Pointer (RFC 6901) from its reference tokens: ``json_pointer("data", "a/b")`` is
    ``/data/a~1b``."""
    return "".join("/" + name.replace("~", "~0").replace("/", "~1") for name in names)


def not_found(detail: str = "The requested resource was not found.") -> ApiError:
    """404. Keep ``detail`` generic where the caller may not know whether the resource exists."""
    return ApiError(404, "not_found", detail)


def unauthorized(detail: str = "Send 'Authorization: Bearer <API key secret>'.") -> ApiError:
    """401 with ``WWW-Authenticate: Bearer``."""
    return ApiError(401, "unauthorized", detail, headers=[("WWW-Authenticate", "Bearer")])


def method_not_allowed(allowed: Iterable[str]) -> ApiError:
    """405 with the ``Allow`` header listing ``allowed``."""
    methods = ", ".join(sorted({method.upper() for method in allowed}))
    return ApiError(
        405,
        "method_not_allowed",
        f"This method is not allowed here. Allowed: {methods}.",
        headers=[("Allow", methods)],
    )


def not_acceptable(detail: str) -> ApiError:
    """406, naming the ``Accept`` header."""
    return ApiError(406, "not_acceptable", detail, source={"header": "Accept"})


def unsupported_media_type(detail: str) -> ApiError:
    """415, naming the ``Content-Type`` header."""
    return ApiError(415, "unsupported_media_type", detail, source={"header": "Content-Type"})


def payload_too_large(detail: str, pointer: str = "") -> ApiError:
    """413, on the request body (or the member at ``pointer``)."""
    return ApiError(413, "payload_too_large", detail, source={"pointer": pointer})


def internal_error() -> ApiError:
    """500 that says nothing of the cause (which goes to the log, never to the user)."""
    return ApiError(500, "internal_error", "Something went wrong on our side. Please retry.")
