"""The download server (§4): ``/{filename}?access_token=…`` and the legacy
``/api/v1/files/{token}/{filename}``, as a plain WSGI handler.

Downloads are the hot path, so they skip Flask's dispatch (contexts, URL map, hooks) and speak
WSGI directly; all the HTTP decisions come from the pure ``delivery`` package, itself built on
Werkzeug's header machinery. Every refusal is a JSON:API error document with ``no-store``."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote, unquote

from werkzeug.http import http_date

from ..delivery import (
    CORS_HEADERS,
    SECURITY_HEADERS,
    cache_control,
    content_disposition,
    evaluate,
    preflight_headers,
)
from ..errors import (
    ObjectNotFound,
    RegistryError,
    StorageUnavailable,
    TokenError,
    TokenExpired,
)
from ..jsonapi.errors import ApiError, error_document
from ..registry.models import ACTIVE, File
from ..services import Services
from ..storage import ReadStream
from ..timefmt import iso
from ..tokens import CURRENT, LEGACY, Claims

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
Headers = list[tuple[str, str]]
JSON_API = "application/vnd.api+json"
ALLOW = "GET, HEAD, OPTIONS"
RETRY_AFTER = "5"
_REASONS = {
    200: "200 OK", 204: "204 No Content", 206: "206 Partial Content", 302: "302 Found",
    304: "304 Not Modified", 401: "401 Unauthorized", 403: "403 Forbidden",
    404: "404 Not Found", 405: "405 Method Not Allowed",
    416: "416 Range Not Satisfiable", 503: "503 Service Unavailable",
}
_DETAILS = {
    "invalid_token": "The access token is missing, malformed or not valid for this URL.",
    "expired_token": "The access token has expired; mint a new URL.",
    "revoked_token": "The API key or webhook that minted this URL has been revoked.",
    "unauthorized": "This URL needs 'Authorization: Bearer <api key>' with an active API key "
                    "of the file's organization.",
    "not_found": "No such file.",
    "method_not_allowed": "Downloads answer GET, HEAD and OPTIONS.",
    "range_not_satisfiable": "The requested range lies outside the file.",
    "storage_unavailable": "The file cannot be read from storage right now; try again shortly.",
    "registry_unavailable": "The service cannot check this URL right now; try again shortly.",
}


def refusal(
    status: int, code: str, *, headers: Headers | None = None, meta: dict[str, Any] | None = None
) -> ApiError:
    """A download refusal: its status, §4 code, fixed detail and any extra headers."""
    return ApiError(status, code, _DETAILS[code], headers=headers or (), meta=meta)


class DownloadApp:
    """Serves downloads for one app's services."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings
        self.tokens = services.tokens
        self.cache = services.cache
        self.storage = services.storage
        self.clock = services.clock
        self.metrics = services.metrics
        self.common: Headers = [*SECURITY_HEADERS, *CORS_HEADERS]

    # -- entry points, called by the dispatcher with the raw path pieces --------------------

    def current(
        self, environ: dict[str, Any], start_response: StartResponse, name: str, token: str
    ) -> Iterable[bytes]:
        """``/{filename}?access_token={token}``: anyone holding the URL, until it expires."""
        return self._handle(environ, start_response, CURRENT, name, token)

    def legacy(
        self, environ: dict[str, Any], start_response: StartResponse, name: str, token: str
    ) -> Iterable[bytes]:
        """``/api/v1/files/{token}/{filename}``: needs an active API key of the organization."""
        return self._handle(environ, start_response, LEGACY, name, token)

    # -- the request -------------------------------------------------------------------------

    def _handle(
        self, environ: dict[str, Any], start_response: StartResponse, style: str,
        raw_name: str, token: str,
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if method == "OPTIONS":
                self.metrics.downloads.labels("preflight").inc()
                headers = [
                    *preflight_headers(environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS")),
                    *self.common, ("Content-Length", "0"),
                ]
                start_response(_REASONS[204], headers)
                return []
            if method not in ("GET", "HEAD"):
                raise refusal(405, "method_not_allowed", headers=[("Allow", ALLOW)])
            claims, file = self._authorize(environ, style, raw_name, token)
            return self._respond(environ, start_response, method, claims, file)
        except ApiError as err:
            return self._error(start_response, err)
        except RegistryError:
            log.warning("registry unavailable while serving a download")
            return self._error(
                start_response,
                refusal(503, "registry_unavailable", headers=[("Retry-After", RETRY_AFTER)]),
            )

    def _authorize(
        self, environ: dict[str, Any], style: str, raw_name: str, token: str
    ) -> tuple[Claims, File]:
        """Check, in order: the API key (legacy), the token, the principal, the file."""
        if style == LEGACY:
            self._check_api_key(environ)
        try:
            # PATH_INFO carries the decoded path as latin-1 code points of its UTF-8 bytes.
            filename = raw_name.encode("latin-1").decode("utf-8")
        except UnicodeError:
            raise refusal(403, "invalid_token") from None
        try:
            claims = self.tokens.verify(token, filename=filename, style=style)
        except TokenExpired as exc:
            self.metrics.auth_failures.labels("expired_token").inc()
            raise refusal(
                403, "expired_token",
                meta={"expired-at": iso(exc.expired_at), "server-time": iso(exc.now)},
            ) from None
        except TokenError as exc:
            self.metrics.auth_failures.labels(exc.code).inc()
            raise refusal(403, exc.code) from None
        principal = self.cache.principal(claims.principal_id)
        if principal is None or principal.status != ACTIVE:
            raise refusal(403, "revoked_token")
        file = self.cache.file(claims.file_id)
        if file is None or file.organization_id != principal.organization_id:
            raise refusal(404, "not_found")
        if style == LEGACY and environ["files.api_key"].organization_id != file.organization_id:
            raise refusal(404, "not_found")
        return claims, file

    def _check_api_key(self, environ: dict[str, Any]) -> None:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, secret = auth.partition(" ")
        key = None
        if scheme.lower() == "bearer" and secret.strip():
            key = self.services.registry.authenticate(secret.strip())
        if key is None or key.status != ACTIVE:
            self.metrics.auth_failures.labels("api_key").inc()
            raise refusal(
                401, "unauthorized", headers=[("WWW-Authenticate", 'Bearer realm="files"')]
            )
        environ["files.api_key"] = key

    def _respond(
        self, environ: dict[str, Any], start_response: StartResponse, method: str,
        claims: Claims, file: File,
    ) -> Iterable[bytes]:
        now = self.clock.now()
        etag = f'"{file.checksum}"'
        caching = cache_control(claims.expires_at, now, mode=self.settings.cdn_cache)
        validators: Headers = [
            ("ETag", etag),
            ("Last-Modified", http_date(int(file.created_at))),
            ("Cache-Control", caching),
        ]
        disposition = content_disposition(file.filename, claims.disposition)
        delivery = self.settings.delivery
        if delivery == "redirect":
            return self._redirect(start_response, file, claims, disposition, now)
        if delivery == "accel":
            self.metrics.downloads.labels("accel").inc()
            headers = [
                ("X-Accel-Redirect", self._accel_path(file)),
                ("Content-Type", file.content_type),
                ("Content-Disposition", disposition),
                *validators,
                *self.common,
            ]
            start_response(_REASONS[200], headers)
            return []
        decision = evaluate(
            method=method,
            size=file.byte_size,
            etag=etag,
            last_modified=file.created_at,
            range_header=environ.get("HTTP_RANGE"),
            if_range=environ.get("HTTP_IF_RANGE"),
            if_none_match=environ.get("HTTP_IF_NONE_MATCH"),
            if_modified_since=environ.get("HTTP_IF_MODIFIED_SINCE"),
        )
        if decision.status == 304:
            self.metrics.downloads.labels("not_modified").inc()
            start_response(_REASONS[304], [*validators, *self.common])
            return []
        if decision.status == 416:
            raise refusal(
                416, "range_not_satisfiable",
                headers=[("Content-Range", decision.content_range or f"bytes */{file.byte_size}")],
            )
        length = decision.length
        headers = [
            ("Content-Type", file.content_type),
            ("Content-Length", str(length)),
            ("Accept-Ranges", "bytes"),
            ("Content-Disposition", disposition),
            *validators,
            *self.common,
        ]
        if decision.content_range:
            headers.append(("Content-Range", decision.content_range))
        outcome = "partial" if decision.status == 206 else "ok"
        if method == "HEAD" or length == 0:
            self.metrics.downloads.labels(outcome).inc()
            start_response(_REASONS[decision.status], headers)
            return []
        try:
            stream = self.storage.open(file.storage_key, decision.start, decision.end)
        except ObjectNotFound:
            log.error("file %s is registered but its object is missing", file.id)
            raise refusal(404, "not_found") from None
        except StorageUnavailable:
            log.warning("storage unavailable before the first byte of file %s", file.id)
            raise refusal(
                503, "storage_unavailable", headers=[("Retry-After", RETRY_AFTER)]
            ) from None
        self.metrics.downloads.labels(outcome).inc()
        start_response(_REASONS[decision.status], headers)
        return _CountingBody(stream, self.metrics)

    def _redirect(
        self, start_response: StartResponse, file: File, claims: Claims, disposition: str,
        now: float,
    ) -> Iterable[bytes]:
        presign = getattr(self.storage, "presigned_get_url", None)
        if presign is None:  # settings refuse this pairing; defend anyway
            raise refusal(503, "storage_unavailable", headers=[("Retry-After", "60")])
        # The storage URL must die no later than the token: a URL that outlived its token
        # would be a way around revocation and expiry.
        remaining = 300 if claims.expires_at is None else int(claims.expires_at - now)
        lifetime = max(1, min(remaining, 300))
        try:
            location = presign(
                file.storage_key, lifetime, content_type=file.content_type,
                content_disposition=disposition,
            )
        except StorageUnavailable:
            raise refusal(
                503, "storage_unavailable", headers=[("Retry-After", RETRY_AFTER)]
            ) from None
        self.metrics.downloads.labels("redirect").inc()
        start_response(
            _REASONS[302],
            [("Location", location), ("Cache-Control", "no-store"), ("Content-Length", "0"),
             *self.common],
        )
        return []

    def _accel_path(self, file: File) -> str:
        """The internal location nginx serves the object from (docs/delivery.md)."""
        base = self.settings.accel_location
        if hasattr(self.storage, "object_url_path"):
            return base + self.storage.object_url_path(file.storage_key)
        return f"{base}/{quote(file.storage_key)}"

    def _error(self, start_response: StartResponse, err: ApiError) -> Iterable[bytes]:
        self.metrics.downloads.labels(err.code).inc()
        body = json.dumps(error_document(err.errors)).encode()
        headers = [
            ("Content-Type", JSON_API),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            *err.headers,
            *self.common,
        ]
        start_response(_REASONS[err.status], headers)
        return [body]


class _CountingBody:
    """The response body: the storage stream, counted into the bytes-sent metric. ``close``
    releases the storage stream, whether the client read it all, went away or it failed."""

    def __init__(self, stream: ReadStream, metrics: Any) -> None:
        self._stream = stream
        self._bytes = metrics.bytes_sent
        self._aborted = metrics.downloads.labels("aborted")

    def __iter__(self) -> Iterator[bytes]:
        count = self._bytes.inc
        try:
            for chunk in self._stream:
                count(len(chunk))
                yield chunk
        except StorageUnavailable:
            # After the first byte the status line is gone: the only honest answer left is a
            # short body, so let the server close the connection.
            self._aborted.inc()
            log.warning("storage failed mid-download; closing the connection")
            raise

    def close(self) -> None:
        self._stream.close()


def split_query_token(query: str) -> str | None:
    """The ``access_token`` of a query string, or None; a repeated one is refused as empty."""
    token = None
    for part in query.split("&"):
        if part.startswith("access_token="):
            if token is not None:
                return ""
            token = unquote(part[13:])
    return token
