"""The delivery modes (``FILES_DELIVERY``, docs/delivery.md): who sends the bytes of an
authorized download. One class each, chosen once when the app is built (``delivery_mode``):

- ``Stream``: the service reads storage and streams;
- ``Redirect``: ``302`` to a presigned URL of the storage itself, which dies with the token;
- ``Accel``: ``X-Accel-Redirect``, for an nginx in front to send the bytes.

Every mode answers ``304`` and ``416`` itself, decided by ``decide``. Where ``Redirect`` or
``Accel`` cannot answer exactly as ``Stream`` would (a redirect inside the clock leeway, a
request nginx would judge differently, a ``HEAD``), it streams that response itself: they are
``Stream`` with one step replaced."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ..delivery import (
    RANGE_HEADER,
    cache_control,
    content_disposition,
    is_inert,
    local_accel_path,
    nginx_agrees,
    proxied_accel_path,
    seconds_left,
)
from ..errors import ObjectNotFound, SettingsError, StorageUnavailable
from ..reasons import STATUS_LINES
from ..registry.models import File
from ..storage import PresignedUrls, Storage, is_file_stream
from ..storage.interface import CHUNK_SIZE
from ..tokens import Claims
from .bodies import CountingBody, FileBody
from .decide import Answer, decide
from .refusals import refusal, unavailable
from .wsgi import COMMON_HEADERS, Environ, Outcomes, StartResponse

if TYPE_CHECKING:
    from ..metrics import Metrics
    from ..settings import Settings

log = logging.getLogger(__name__)

# The longest a redirect's storage URL lives (the browser follows it at once; a short life
# limits what a leaked Location is worth), and the life of the URL nginx proxies to in accel
# mode (never seen outside nginx).
REDIRECT_MAX_SECONDS = 300
ACCEL_PRESIGN_SECONDS = 60


def _no_row_check(file: File) -> bool:
    return False


class Stream:
    """``FILES_DELIVERY=stream``: the service sends the bytes, read from storage as they go."""

    def __init__(
        self, settings: Settings, storage: Storage, metrics: Metrics, outcomes: Outcomes
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.bytes_sent = metrics.bytes_sent
        self.outcomes = outcomes
        # Whether a file whose object is missing was deleted meanwhile (set by the download
        # app to its Authorizer's): an expected 404 rather than a lost object.
        self.row_gone: Callable[[File], bool] = _no_row_check
        # Children bound once: labels() takes a lock and a lookup per call.
        self.storage_seconds = metrics.storage_seconds.labels("open")
        self.storage_errors = metrics.storage_errors.labels("open")
        self.timing = metrics

    def respond(
        self, environ: Environ, start_response: StartResponse, method: str, claims: Claims,
        file: File, now: float,
    ) -> Iterable[bytes]:
        """Answer a ``GET`` or ``HEAD`` of ``file``, authorized by ``claims``."""
        answer = decide(
            method, file, claims, now,
            cdn_cache=self.settings.cdn_cache,
            range_header=environ.get("HTTP_RANGE"),
            if_range=environ.get("HTTP_IF_RANGE"),
            if_none_match=environ.get("HTTP_IF_NONE_MATCH"),
            if_modified_since=environ.get("HTTP_IF_MODIFIED_SINCE"),
        )
        if answer.decision.status == 304:
            self.outcomes["not_modified"].inc()
            start_response(STATUS_LINES[304], answer.headers)
            return []
        return self.send(environ, start_response, method, file, answer)

    def send(
        self, environ: Environ, start_response: StartResponse, method: str, file: File,
        answer: Answer,
    ) -> Iterable[bytes]:
        """The ``200`` or ``206`` itself: headers, then the bytes from storage (none for a
        ``HEAD``: every header is known without storage)."""
        decision = answer.decision
        headers = [*answer.headers, ("Content-Length", str(decision.length))]
        if decision.content_range:
            headers.append(("Content-Range", decision.content_range))
        outcome = "partial" if decision.status == 206 else "ok"
        if method == "HEAD" or decision.length == 0:
            self.outcomes[outcome].inc()
            start_response(STATUS_LINES[decision.status], headers)
            return []
        started = time.perf_counter()
        try:
            stream = self.storage.open(file.storage_key, decision.start, decision.end)
        except ObjectNotFound:
            if self.row_gone(file):
                # Deleted elsewhere: this worker held the row for FILES_REGISTRY_CACHE_SECONDS.
                log.info("file %s was deleted (its cached row outlived its object); expected "
                         "within FILES_REGISTRY_CACHE_SECONDS of a delete", file.id)
            else:  # a lost object: restore it (docs/operations.md, "Backups")
                log.error("file %s is registered but its object is missing", file.id)
            raise refusal(404, "not_found") from None
        except StorageUnavailable:
            self.storage_errors.inc()
            log.warning("storage unavailable before the first byte of file %s", file.id)
            raise unavailable("storage_unavailable") from None
        finally:
            self.storage_seconds.observe(time.perf_counter() - started)
        start_response(STATUS_LINES[decision.status], headers)
        # Counted when the body is closed: as the outcome where it went out whole, else as
        # aborted.
        done, aborted = self.outcomes[outcome], self.outcomes["aborted"]
        file_wrapper = environ.get("wsgi.file_wrapper")
        if file_wrapper is not None and decision.length > CHUNK_SIZE and is_file_stream(stream):
            # A large file on disk: the server may hand it to the kernel (gunicorn: sendfile,
            # bounded by Content-Length), with no copy through Python. Not for small ones: one
            # read and one write beat gunicorn's sendfile set-up (measured: 8% more 4 KiB
            # requests/s without it).
            body = FileBody(stream, decision.start, decision.length, self.bytes_sent, done, aborted)
            return file_wrapper(body, CHUNK_SIZE)  # type: ignore[no-any-return]
        return CountingBody(stream, self.bytes_sent, done, aborted, timing=self.timing,
                            started=started)


class Redirect(Stream):
    """``FILES_DELIVERY=redirect``: ``302`` to a URL of the storage itself that asks it to
    answer with the file's type and disposition and a ``Cache-Control`` bound to the token;
    for inert file types only (``delivery.inert``): the others are streamed."""

    def __init__(
        self, settings: Settings, storage: Storage, metrics: Metrics, outcomes: Outcomes
    ) -> None:
        super().__init__(settings, storage, metrics, outcomes)
        if not isinstance(storage, PresignedUrls):
            # Settings refuse redirect with local:// storage; this is a storage passed in.
            raise SettingsError(
                "FILES_DELIVERY", f"redirect needs storage with URLs of its own, not {storage.url}"
            )
        self.presign = storage.presigned_get_url

    def respond(
        self, environ: Environ, start_response: StartResponse, method: str, claims: Claims,
        file: File, now: float,
    ) -> Iterable[bytes]:
        lifetime = redirect_lifetime(claims, now)
        if lifetime is None or not is_inert(file.content_type):
            # Inside the clock leeway no storage URL could expire with the token; and the
            # storage's answer could not carry "Content-Security-Policy: sandbox" nor
            # "nosniff", so a type a browser may run script from (HTML, SVG, XML…) must not
            # come from the storage's origin. The service sends those bytes itself, as in
            # stream mode.
            return super().respond(environ, start_response, method, claims, file, now)
        # What the browser may cache under the storage URL: no longer than the token.
        caching = cache_control(claims.expires_at, now, mode=self.settings.cdn_cache)
        try:
            location = self.presign(
                file.storage_key, lifetime, content_type=file.content_type,
                content_disposition=content_disposition(file.filename, claims.disposition),
                cache_control=caching,
            )
        except StorageUnavailable:
            raise unavailable("storage_unavailable") from None
        self.outcomes["redirect"].inc()
        start_response(
            STATUS_LINES[302],
            # no-store: the redirect itself must not outlive the short storage URL in a cache.
            [("Location", location), ("Cache-Control", "no-store"), ("Content-Length", "0"),
             *COMMON_HEADERS],
        )
        return []


def redirect_lifetime(claims: Claims, now: float) -> int | None:
    """How long a redirect's storage URL may live: never past the token's expiry (a URL that
    outlived its token would be a way around expiry and revocation), and never more than
    ``REDIRECT_MAX_SECONDS`` (the browser follows it at once). None inside the clock leeway,
    where no whole second is left."""
    if claims.expires_at is None:  # legacy: bound to an API key, not to a time
        return REDIRECT_MAX_SECONDS
    left = seconds_left(claims.expires_at, now)
    return min(left, REDIRECT_MAX_SECONDS) if left >= 1 else None


class Accel(Stream):
    """``FILES_DELIVERY=accel``: ``X-Accel-Redirect`` to the internal location of an nginx in
    front that holds the bytes (docs/delivery.md): a local file under its alias, or, for storage
    with URLs of its own (S3), a short-lived presigned path nginx proxies to.

    nginx keeps ``Content-Type``, ``Content-Disposition`` and ``Cache-Control`` of this
    response and drops the rest; its configuration adds back the fixed security and CORS
    headers, and ``ETag`` / ``Last-Modified`` from this response's. The other headers are sent
    all the same, for an nginx configured to add them from ``$upstream_http_*``."""

    def __init__(
        self, settings: Settings, storage: Storage, metrics: Metrics, outcomes: Outcomes
    ) -> None:
        super().__init__(settings, storage, metrics, outcomes)
        self.presign = storage.presigned_get_url if isinstance(storage, PresignedUrls) else None

    def send(
        self, environ: Environ, start_response: StartResponse, method: str, file: File,
        answer: Answer,
    ) -> Iterable[bytes]:
        decision = answer.decision
        if not (
            method == "GET"
            and decision.length > 0
            and nginx_agrees(
                decision,
                range_header=environ.get("HTTP_RANGE"),
                if_match=environ.get("HTTP_IF_MATCH"),
                if_unmodified_since=environ.get("HTTP_IF_UNMODIFIED_SINCE"),
                if_range=environ.get("HTTP_IF_RANGE"),
            )
        ):
            return super().send(environ, start_response, method, file, answer)
        base = self.settings.accel_location
        if self.presign is None:
            path = local_accel_path(base, file.storage_key)
        else:
            try:
                # nginx follows it at once, and it never leaves nginx: a short life is enough.
                path = proxied_accel_path(
                    base, self.presign(file.storage_key, ACCEL_PRESIGN_SECONDS)
                )
            except StorageUnavailable:
                raise unavailable("storage_unavailable") from None
        headers = [("X-Accel-Redirect", path), *answer.headers, ("Content-Length", "0")]
        if decision.status == 206:
            # The exact bytes for the S3 location to ask for (nginx's static module applies
            # the client's own Range, which nginx_agrees has checked means the same).
            headers.append((RANGE_HEADER, f"bytes={decision.start}-{decision.end}"))
        self.outcomes["accel"].inc()
        start_response(STATUS_LINES[200], headers)
        return []


MODES: dict[str, type[Stream]] = {"stream": Stream, "redirect": Redirect, "accel": Accel}


def delivery_mode(
    settings: Settings, storage: Storage, metrics: Metrics, outcomes: Outcomes
) -> Stream:
    """The mode ``FILES_DELIVERY`` names, on ``storage``."""
    return MODES[settings.delivery](settings, storage, metrics, outcomes)
