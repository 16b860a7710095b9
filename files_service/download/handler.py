"""The download server (§4): ``/{filename}?access_token=…`` and the legacy
``/api/v1/files/{token}/{filename}``, as a plain WSGI handler.

Downloads are the hot path, so they skip Flask's dispatch (contexts, URL map, hooks) and speak
WSGI directly; all the HTTP decisions come from the pure ``delivery`` package, itself built on
Werkzeug's header machinery. Every refusal is a JSON:API error document with ``no-store``.

``FILES_DELIVERY`` (docs/delivery.md) says who sends the bytes once the token is good and the
answer decided: the service (``stream``), the storage itself behind a ``302`` to a presigned
URL that dies with the token (``redirect``), or an nginx in front, told by ``X-Accel-Redirect``
(``accel``). The checks, ``304`` and ``416`` are the service's in every mode; where a mode
cannot answer exactly as ``stream`` would (a redirect inside the clock leeway, a request nginx
would judge differently), the service streams that response itself."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import unquote

from werkzeug.http import http_date

from ..delivery import (
    CORS_HEADERS,
    RANGE_HEADER,
    SECURITY_HEADERS,
    Decision,
    cache_control,
    content_disposition,
    evaluate,
    local_accel_path,
    nginx_agrees,
    preflight_headers,
    proxied_accel_path,
    seconds_left,
)
from ..errors import (
    ObjectNotFound,
    RegistryError,
    StorageUnavailable,
    TokenError,
    TokenExpired,
)
from ..ids import bearer_secret
from ..jsonapi import ApiError, render_error
from ..metrics import DOWNLOAD_OUTCOMES
from ..ratelimit import FailureLimiter, rate_limited
from ..registry.models import ACTIVE, File
from ..services import Services
from ..storage import ReadStream
from ..storage.interface import CHUNK_SIZE
from ..timefmt import iso
from ..tokens import CURRENT, LEGACY, Claims

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
Headers = list[tuple[str, str]]
ALLOW = "GET, HEAD, OPTIONS"
RETRY_AFTER = "5"
# The longest a redirect's storage URL lives (the browser follows it at once; a short life
# limits what a leaked Location is worth), and the life of the URL nginx proxies to in accel
# mode (never seen outside nginx).
REDIRECT_MAX_SECONDS = 300
ACCEL_PRESIGN_SECONDS = 60
_REASONS = {
    200: "200 OK", 204: "204 No Content", 206: "206 Partial Content", 302: "302 Found",
    304: "304 Not Modified", 401: "401 Unauthorized", 403: "403 Forbidden",
    404: "404 Not Found", 405: "405 Method Not Allowed",
    416: "416 Range Not Satisfiable", 429: "429 Too Many Requests",
    503: "503 Service Unavailable",
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


# Refusals that answer a guess (a token or key that was sent and is wrong): what
# FILES_RATE_LIMIT counts, where a credential was presented at all (see files_service.ratelimit).
_GUESSES = frozenset({"invalid_token", "unauthorized"})


class DownloadApp:
    """Serves downloads for one app's services; ``limiter`` (``FILES_RATE_LIMIT``) refuses
    addresses that have failed too often."""

    def __init__(self, services: Services, limiter: FailureLimiter | None = None) -> None:
        self.services = services
        self.limiter = limiter
        self.settings = services.settings
        self.tokens = services.tokens
        self.cache = services.cache
        self.storage = services.storage
        self.clock = services.clock
        self.metrics = services.metrics
        self.common: Headers = [*SECURITY_HEADERS, *CORS_HEADERS]
        # Counter children bound once: labels() takes a lock and a lookup per call.
        self._outcomes = {
            name: services.metrics.downloads.labels(name) for name in DOWNLOAD_OUTCOMES
        }

    def _count(self, outcome: str) -> Any:
        """The download counter of ``outcome`` (bound once per outcome)."""
        child = self._outcomes.get(outcome)
        if child is None:
            child = self._outcomes[outcome] = self.metrics.downloads.labels(outcome)
        return child

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
                self._count("preflight").inc()
                headers = [
                    *preflight_headers(environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS")),
                    *self.common, ("Content-Length", "0"),
                ]
                start_response(_REASONS[204], headers)
                return []
            if method not in ("GET", "HEAD"):
                raise refusal(405, "method_not_allowed", headers=[("Allow", ALLOW)])
            self._check_rate_limit(environ)
            try:
                claims, file = self._authorize(environ, style, raw_name, token)
            except ApiError as err:
                self._count_guess(environ, err.code, token)
                raise
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
            self.metrics.auth_failures.labels("revoked_token").inc()
            raise refusal(403, "revoked_token")
        file = self.cache.file(claims.file_id)
        if file is None or file.organization_id != principal.organization_id:
            raise refusal(404, "not_found")
        if style == LEGACY and environ["files.api_key"].organization_id != file.organization_id:
            raise refusal(404, "not_found")
        return claims, file

    def _check_rate_limit(self, environ: dict[str, Any]) -> None:
        """429 for an address over ``FILES_RATE_LIMIT``, before any token or key work."""
        if self.limiter is None:
            return
        wait = self.limiter.retry_after(environ.get("REMOTE_ADDR"))
        if wait is not None:
            self.metrics.rate_limited.labels("download").inc()
            raise rate_limited(wait)

    def _count_guess(self, environ: dict[str, Any], code: str, token: str) -> None:
        """Count a refused token or key against the address, where one was sent."""
        if self.limiter is None or code not in _GUESSES:
            return
        presented = environ.get("HTTP_AUTHORIZATION") if code == "unauthorized" else token
        if presented:
            self.limiter.failed(environ.get("REMOTE_ADDR"))

    def _check_api_key(self, environ: dict[str, Any]) -> None:
        secret = bearer_secret(environ.get("HTTP_AUTHORIZATION"))
        key = None if secret is None else self.services.registry.authenticate(secret)
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
        delivery = self.settings.delivery
        disposition = content_disposition(file.filename, claims.disposition)
        if delivery == "redirect":
            lifetime = self._redirect_lifetime(claims, now)
            if lifetime is not None:
                return self._redirect(start_response, file, disposition, lifetime, now, claims)
            # Inside the clock leeway no storage URL could expire with the token: the service
            # sends the bytes itself (no-store), as it would in stream mode.
        etag = f'"{file.checksum}"'
        validators: Headers = [
            ("ETag", etag),
            ("Last-Modified", _http_date(int(file.created_at))),
            ("Cache-Control", cache_control(claims.expires_at, now, mode=self.settings.cdn_cache)),
        ]
        range_header = environ.get("HTTP_RANGE")
        decision = evaluate(
            method=method,
            size=file.byte_size,
            etag=etag,
            last_modified=file.created_at,
            range_header=range_header,
            if_range=environ.get("HTTP_IF_RANGE"),
            if_none_match=environ.get("HTTP_IF_NONE_MATCH"),
            if_modified_since=environ.get("HTTP_IF_MODIFIED_SINCE"),
        )
        if decision.status == 304:
            self._count("not_modified").inc()
            start_response(_REASONS[304], [*validators, *self.common])
            return []
        if decision.status == 416:
            raise refusal(
                416, "range_not_satisfiable",
                headers=[("Content-Range", decision.content_range or f"bytes */{file.byte_size}")],
            )
        representation: Headers = [
            ("Content-Type", file.content_type),
            ("Accept-Ranges", "bytes"),
            ("Content-Disposition", disposition),
            *validators,
            *self.common,
        ]
        if (
            delivery == "accel"
            and method == "GET"
            and decision.length > 0
            and nginx_agrees(
                decision,
                range_header=range_header,
                if_match=environ.get("HTTP_IF_MATCH"),
                if_unmodified_since=environ.get("HTTP_IF_UNMODIFIED_SINCE"),
            )
        ):
            return self._accel(start_response, file, decision, representation)
        # stream mode, a HEAD in any mode (every header is known without storage), and what
        # accel or redirect hand back to the service (see above)
        headers = [*representation, ("Content-Length", str(decision.length))]
        if decision.content_range:
            headers.append(("Content-Range", decision.content_range))
        outcome = "partial" if decision.status == 206 else "ok"
        if method == "HEAD" or decision.length == 0:
            self._count(outcome).inc()
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
        self._count(outcome).inc()
        start_response(_REASONS[decision.status], headers)
        file_wrapper = environ.get("wsgi.file_wrapper")
        if file_wrapper is not None and decision.length > CHUNK_SIZE and hasattr(stream, "fileno"):
            # A large file on disk: the server may hand it to the kernel (gunicorn: sendfile,
            # bounded by Content-Length), with no copy through Python. Not for small ones: one
            # read and one write beat gunicorn's sendfile set-up (measured: 8% more 4 KiB
            # requests/s without it). Its bytes are counted up front.
            self.metrics.bytes_sent.inc(decision.length)
            return file_wrapper(stream, CHUNK_SIZE)  # type: ignore[no-any-return]
        return _CountingBody(stream, self.metrics, self._count("aborted"))

    # -- redirect mode -----------------------------------------------------------------------

    @staticmethod
    def _redirect_lifetime(claims: Claims, now: float) -> int | None:
        """How long the storage URL may live: never past the token's expiry (a URL that
        outlived its token would be a way around expiry and revocation), and never more than
        ``REDIRECT_MAX_SECONDS`` (the browser follows it at once). None inside the clock
        leeway, where no whole second is left."""
        if claims.expires_at is None:  # legacy: bound to an API key, not to a time
            return REDIRECT_MAX_SECONDS
        left = seconds_left(claims.expires_at, now)
        return min(left, REDIRECT_MAX_SECONDS) if left >= 1 else None

    def _redirect(
        self, start_response: StartResponse, file: File, disposition: str, lifetime: int,
        now: float, claims: Claims,
    ) -> Iterable[bytes]:
        presign = getattr(self.storage, "presigned_get_url", None)
        if presign is None:  # settings refuse this pairing at start; defend anyway
            log.error("FILES_DELIVERY=redirect with storage that has no URLs of its own")
            raise refusal(503, "storage_unavailable", headers=[("Retry-After", RETRY_AFTER)])
        try:
            location = presign(
                file.storage_key, lifetime, content_type=file.content_type,
                content_disposition=disposition,
                # What the browser may cache under the storage URL: no longer than the token.
                cache_control=cache_control(claims.expires_at, now, mode=self.settings.cdn_cache),
            )
        except StorageUnavailable:
            raise refusal(
                503, "storage_unavailable", headers=[("Retry-After", RETRY_AFTER)]
            ) from None
        self._count("redirect").inc()
        start_response(
            _REASONS[302],
            # no-store: the redirect itself must not outlive the short storage URL in a cache.
            [("Location", location), ("Cache-Control", "no-store"), ("Content-Length", "0"),
             *self.common],
        )
        return []

    # -- accel mode --------------------------------------------------------------------------

    def _accel(
        self, start_response: StartResponse, file: File, decision: Decision,
        representation: Headers,
    ) -> Iterable[bytes]:
        """``X-Accel-Redirect`` to the internal location that holds the bytes (docs/delivery.md).

        nginx keeps ``Content-Type``, ``Content-Disposition`` and ``Cache-Control`` of this
        response and drops the rest; its configuration adds back the fixed security and CORS
        headers, and ``ETag`` / ``Last-Modified`` from this response's. The other headers are
        sent all the same, for an nginx configured to add them from ``$upstream_http_*``."""
        presign = getattr(self.storage, "presigned_get_url", None)
        base = self.settings.accel_location
        if presign is None:
            path = local_accel_path(base, file.storage_key)
        else:
            try:
                # nginx follows it at once, and it never leaves nginx: a short life is enough.
                path = proxied_accel_path(base, presign(file.storage_key, ACCEL_PRESIGN_SECONDS))
            except StorageUnavailable:
                raise refusal(
                    503, "storage_unavailable", headers=[("Retry-After", RETRY_AFTER)]
                ) from None
        headers: Headers = [("X-Accel-Redirect", path), *representation, ("Content-Length", "0")]
        if decision.status == 206:
            # The exact bytes for the S3 location to ask for (nginx's static module applies
            # the client's own Range, which nginx_agrees has checked means the same).
            headers.append((RANGE_HEADER, f"bytes={decision.start}-{decision.end}"))
        self._count("accel").inc()
        start_response(_REASONS[200], headers)
        return []

    def _error(self, start_response: StartResponse, err: ApiError) -> Iterable[bytes]:
        self._count(err.code).inc()
        status, headers, body = render_error(err)
        start_response(_REASONS[status], [*headers, *self.common])
        return [body]


class _CountingBody:
    """The response body: the storage stream, counted into the bytes-sent metric.

    ``close`` (which every WSGI server calls, whether the client read it all, went away or the
    stream failed) releases the storage stream and adds the bytes sent to the metric, once. A
    body that did not reach its end counts as ``aborted``."""

    def __init__(self, stream: ReadStream, metrics: Any, aborted: Any) -> None:
        self._stream = stream
        self._bytes = metrics.bytes_sent
        self._aborted = aborted
        self._sent = 0
        self._finished = False
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._stream:
                self._sent += len(chunk)
                yield chunk
        except StorageUnavailable:
            # After the first byte the status line is gone: the only honest answer left is a
            # short body. Raising makes the WSGI server close the connection, so the client
            # sees fewer bytes than Content-Length said, never a complete-looking body.
            log.warning("storage failed mid-download; closing the connection")
            raise
        self._finished = True

    def close(self) -> None:
        if not self._closed:
            self._closed = True  # count once, however often a server calls close
            if self._sent:
                self._bytes.inc(self._sent)
            if not self._finished:
                self._aborted.inc()
        self._stream.close()


@functools.lru_cache(maxsize=4096)
def _http_date(timestamp: int) -> str:
    """``Last-Modified`` of a file: the same few thousand files are served over and over."""
    return http_date(timestamp)


def split_query_token(query: str) -> str | None:
    """The ``access_token`` of a query string, or None; a repeated one is refused as empty."""
    token = None
    for part in query.split("&"):
        if part.startswith("access_token="):
            if token is not None:
                return ""
            token = unquote(part[13:])
    return token
