"""``{DOWNLOAD_BASE_URL}/uploads/{token}``: a browser uploads a file through a signed upload URL
(§5), holding no API key.

    PUT   the raw bytes; the request's Content-Type is the file's (guessed from the filename
          where it sends none)
    POST  multipart/form-data with one part ``file`` (an HTML form, no script needed); the
          part's Content-Type is the file's (guessed from the filename where it is missing or
          application/octet-stream)
    OPTIONS  CORS preflight: PUT, POST and Content-Type allowed, no credentials

The steps, each refusal a JSON:API error document with ``no-store`` and CORS headers:

1. with ``FILES_RATE_LIMIT``, the address (``429``, as on the download paths, whose host this
   is), then the token (``upload_tokens``): ``403 invalid_token`` (counted against the
   address) / ``expired_token``;
2. its principal, still active and of the token's organization, as the registry cache sees
   it (so revocation takes effect within ``FILES_REGISTRY_CACHE_SECONDS``): ``403
   invalid_token`` / ``revoked_token``;
3. the URL unused (``409 upload_url_used``): no file with its id, and none made and deleted
   since (the registry marks the URL used with the file's insert); asked of the registry
   itself, not its cache;
4. the type rule (``415 unsupported_media_type``), then the declared length against
   ``max-bytes`` and the quota (``413 upload_too_large``, ``403 quota_exceeded``) before a
   byte is read;
5. the body streamed into storage through ``intake.Intake``, counted as it goes: the same
   refusals part-way, nothing left behind;
6. the row, written once the whole body is in. Each attempt writes an object of its own
   (``{org}/{file id}.{random}``), so racing uploads with one URL never write one object
   twice; the registry's insert, unique by file id, lets the first in and refuses the others
   (``409 upload_url_used``, their objects removed).

A refused or broken-off upload leaves nothing and the URL usable until it expires. Success is
``201`` with the file's document as ``GET /api/v1/files/{id}`` would give the principal, in
its version (``Files-Version`` says which), and ``Location``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request

from .api.context import ApiRequest, api_config
from .api.documents import respond
from .api.errors import from_validation, to_api_error
from .api.negotiation import read_body
from .api.resources import FILE, RELATIONSHIPS, file_resource
from .api.schemas import attribute_names
from .api.upload import MAX_FRAMING_BYTES, MultipartUpload, boundary_of
from .api.urls import RequestUrls
from .api.version import merge_vary, resolve_for, response_headers
from .errors import FileIdTaken, TokenError, TokenExpired, ValidationError
from .files import guess_content_type
from .intake import Intake
from .jsonapi import ApiError, bad_header, bad_pointer, parse_query
from .limits import ACTIVE
from .ratelimit import FailureLimiter, rate_limited
from .registry.models import ApiKey, File, Principal
from .services import Services
from .tenancy import upload_attempt_key
from .timefmt import iso
from .upload_tokens import UploadClaims
from .upload_urls import type_allowed
from .validation import check_file_fields, validate_content_type
from .web_errors import render

ALLOW = "PUT, POST, OPTIONS"
READ_SIZE = 1024 * 1024
"""How much of a raw (PUT) body is read at a time: a raw body has no framing for a small read
to find, and fewer, larger reads cost less Python per byte; memory stays flat at one piece."""
CORS_HEADERS: tuple[tuple[str, str], ...] = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Expose-Headers", "Location, Files-Version, Content-Length"),
)
PREFLIGHT_HEADERS: tuple[tuple[str, str], ...] = (
    ("Access-Control-Allow-Methods", ALLOW),
    ("Access-Control-Allow-Headers", "Content-Type"),
    ("Access-Control-Max-Age", "86400"),
)
DETAILS = {
    "invalid_token": "The upload token is missing, malformed or not valid.",
    "expired_token": "The upload URL has expired; mint a new one.",
    "revoked_token": "The API key or webhook that minted this upload URL has been revoked.",
    "upload_url_used": "This upload URL has been used: it creates one file, once.",
    "method_not_allowed": "Upload URLs answer PUT, POST (multipart/form-data) and OPTIONS.",
}
POINTERS = {"filename": "/file/filename", "content-type": "/file/content-type",
            "metadata": "/metadata"}

bp = Blueprint("uploads", __name__)


def refusal(status: int, code: str, **kwargs: Any) -> ApiError:
    """A refusal of the upload path with its fixed detail."""
    return ApiError(status, code, DETAILS[code], **kwargs)


def _services() -> Services:
    from . import get_services

    return get_services(current_app)


def _limiter() -> FailureLimiter | None:
    from . import get_rate_limiter

    return get_rate_limiter(current_app)


@bp.route(
    "/uploads/<token>",
    methods=["PUT", "POST", "OPTIONS", "GET", "HEAD", "DELETE", "PATCH"],
    provide_automatic_options=False,
)
def upload(token: str) -> Response:
    """One upload through an upload URL (see the module's docstring)."""
    if request.method == "OPTIONS":
        return Response(status=204, headers=[*PREFLIGHT_HEADERS, ("Content-Length", "0")])
    if request.method not in ("PUT", "POST"):
        raise refusal(405, "method_not_allowed", headers=[("Allow", ALLOW)])
    services = _services()
    started = time.perf_counter()
    limiter = _limiter()
    if limiter is not None:
        # As on the download paths (the same host): an address over FILES_RATE_LIMIT gets 429
        # before any token work, and a refused token counts against it.
        wait = limiter.retry_after(request.remote_addr)
        if wait is not None:
            services.metrics.rate_limited.labels("download").inc()
            raise rate_limited(wait)
    try:
        claims = _claims(services, token)
    except ApiError as err:
        if limiter is not None and err.code == "invalid_token":
            limiter.failed(request.remote_addr)
        raise
    principal = _principal(services, claims)
    if services.registry.upload_url_used(claims.file_id):
        raise refusal(409, "upload_url_used")
    file = _take(services, claims)
    return _created(services, principal, claims, file, started)


def _claims(services: Services, token: str) -> UploadClaims:
    try:
        claims = services.upload_tokens.verify(token)
    except TokenExpired as exc:
        services.metrics.auth_failures.labels("expired_token").inc()
        raise refusal(
            403, "expired_token",
            meta={"expired-at": iso(exc.expired_at), "server-time": iso(exc.now)},
        ) from None
    except TokenError as exc:
        services.metrics.auth_failures.labels(exc.code).inc()
        raise refusal(403, exc.code) from None
    # Counted with the download tokens' verifications: an operator drops an old signing key
    # once its count stops rising (docs/tokens.md), and live upload URLs use it too.
    services.metrics.token_verifications.labels(claims.kid).inc()
    return claims


def _principal(services: Services, claims: UploadClaims) -> Principal:
    """The principal of the token, active; through the registry cache, as downloads do."""
    principal = services.cache.principal(claims.principal_id)
    if principal is None or principal.organization_id != claims.organization_id:
        raise refusal(403, "invalid_token")
    if principal.status != ACTIVE:
        services.metrics.auth_failures.labels("revoked_token").inc()
        raise refusal(403, "revoked_token")
    return principal


def _essence(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _file_type(given: str | None, claims: UploadClaims, where: str) -> str:
    """The file's type: ``given`` unless missing or the generic octet-stream, then guessed
    from the filename; checked against the URL's type rule (``415``)."""
    if given is not None and _essence(given) != "application/octet-stream":
        try:
            content_type = validate_content_type(given)
        except ValidationError as exc:
            raise (bad_header("Content-Type", exc.message) if where == "header"
                   else bad_pointer("/file/content-type", exc.message)) from None
    else:
        content_type = guess_content_type(claims.filename)
        if given is not None and not type_allowed(claims.content_type, content_type):
            content_type = given  # the generic type was meant: judge it as sent
    if not type_allowed(claims.content_type, content_type):
        raise ApiError(
            415, "unsupported_media_type",
            f"This upload URL takes files of type {claims.content_type}, not "
            f"{_essence(content_type)}.",
            source={"header": "Content-Type"} if where == "header"
            else {"pointer": "/file/content-type"},
        )
    return content_type


def _raw_body() -> Iterator[bytes]:
    """The raw body, ``READ_SIZE`` at a time; a broken one raises ``400`` from the iterator."""
    while True:
        chunk = read_body(request.stream, READ_SIZE)
        if not chunk:
            return
        yield chunk


def _take(services: Services, claims: UploadClaims) -> File:
    """Stream the body into storage and register the file (steps 4 to 6)."""
    limit = min(claims.max_bytes, services.settings.max_upload_bytes)
    key = upload_attempt_key(claims.organization_id, claims.file_id)
    multipart = request.method == "POST"
    if multipart and _essence(request.headers.get("Content-Type")) != "multipart/form-data":
        raise ApiError(
            415, "unsupported_media_type",
            "POST to an upload URL takes multipart/form-data (an HTML form with a 'file' "
            "part); PUT takes the raw bytes.",
            source={"header": "Content-Type"},
        )
    with Intake(services, claims.organization_id, max_bytes=limit, file_id=claims.file_id,
                storage_key=key) as intake:
        if multipart:
            intake.refuse_declared(request.content_length, framing=MAX_FRAMING_BYTES)
            form = MultipartUpload(request.stream, boundary_of(request.headers["Content-Type"]))
            head = form.read_head()
            if head.metadata is not None:
                raise _no_metadata_part()
            content_type = _file_type(head.content_type, claims, "part")
            intake.write(form.file_chunks())
            if form.metadata is not None:
                raise _no_metadata_part()
        else:
            content_type = _file_type(request.headers.get("Content-Type"), claims, "header")
            intake.refuse_declared(request.content_length)
            intake.write(_raw_body())
        fields = check_file_fields(
            claims.filename, content_type, services.registry.upload_metadata(claims.file_id)
        )
        try:
            return intake.commit(fields, created_by=claims.created_by,
                                 upload_url_expires_at=claims.expires_at)
        except FileIdTaken:
            raise refusal(409, "upload_url_used") from None


def _no_metadata_part() -> ApiError:
    return bad_pointer(
        "/metadata", "An upload URL carries the file's metadata: the form takes only 'file'."
    )


def _created(
    services: Services, principal: Principal, claims: UploadClaims, file: File, started: float
) -> Response:
    """``201`` with the file's document as the principal's version shows it."""
    config = api_config()
    api = ApiRequest(services, config, started=started, principal=principal,
                     api_key=principal if isinstance(principal, ApiKey) else None)
    g.files_api = api
    api.resolution = resolve_for(services, config.bundle, principal)
    options = parse_query(
        [], is_list=False, known_types=attribute_names(config.bundle, api.version),
        relationships=RELATIONSHIPS, primary_type=FILE,
    )
    urls = RequestUrls(services, principal, ttl=None, disposition="inline")
    location = f"{services.settings.api_base_url}/api/v1/files/{file.id}"
    response = respond(file_resource(file, urls, options), options, status=201,
                       headers=[("Location", location)], urls=urls)
    link = f"{services.settings.api_base_url}/api/v1/versions"
    for name, value in response_headers(api.resolution, link):
        response.headers[name] = value
    response.headers["Vary"] = merge_vary(response.headers.get("Vary"))
    return response


def _error(exc: Exception) -> Response:
    if isinstance(exc, ValidationError):
        return render(from_validation(exc, POINTERS))
    return render(to_api_error(exc))


bp.register_error_handler(Exception, _error)


@bp.after_request
def _headers(response: Response) -> Response:
    """CORS on every answer, refusals included; nothing of an upload is cached."""
    for name, value in CORS_HEADERS:
        response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Serve upload URLs from ``app``."""
    app.register_blueprint(bp)
