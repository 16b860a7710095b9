"""One download request (§4), from the raw path pieces ``DownloadDispatcher`` found to the
answer: the method, ``FILES_RATE_LIMIT``, then ``Authorizer`` (may this request have the
file?) and the delivery mode chosen at start (``modes``), which decides the answer and sends
it. Every refusal, from any step, is written here as a JSON:API error document."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from ..delivery import preflight_headers
from ..errors import RegistryError
from ..jsonapi.errors import ApiError
from ..ratelimit import FailureLimiter, rate_limited
from ..reasons import STATUS_LINES
from ..registry.models import File
from ..services import Services
from ..tokens import CURRENT, LEGACY, Claims
from .authorize import Authorizer
from .modes import delivery_mode
from .refusals import refusal, unavailable
from .wsgi import COMMON_HEADERS, Environ, Outcomes, StartResponse, filename_of, send_error

log = logging.getLogger(__name__)

ALLOW = "GET, HEAD, OPTIONS"
# Refusals that answer a guess (a token or key that was sent and is wrong): what
# FILES_RATE_LIMIT counts, where a credential was presented at all (see files_service.ratelimit).
_GUESSES = frozenset({"invalid_token", "unauthorized"})


class DownloadApp:
    """Serves downloads for one app's services; ``limiter`` (``FILES_RATE_LIMIT``) refuses
    addresses that have failed too often."""

    def __init__(self, services: Services, limiter: FailureLimiter | None = None) -> None:
        self.limiter = limiter
        self.clock = services.clock
        self.metrics = services.metrics
        self.outcomes = Outcomes(services.metrics.downloads)
        self.authorizer = Authorizer(
            services.tokens, services.cache, services.registry, services.metrics
        )
        self.mode = delivery_mode(
            services.settings, services.storage, services.metrics, self.outcomes
        )
        self.mode.row_gone = self.authorizer.row_gone

    # -- entry points, called by the dispatcher with the raw path pieces --------------------

    def current(
        self, environ: Environ, start_response: StartResponse, name: str, token: str
    ) -> Iterable[bytes]:
        """``/{filename}?access_token={token}``: anyone holding the URL, until it expires."""
        return self._handle(environ, start_response, CURRENT, name, token)

    def legacy(
        self, environ: Environ, start_response: StartResponse, name: str, token: str
    ) -> Iterable[bytes]:
        """``/api/v1/files/{token}/{filename}``: needs an active API key of the organization."""
        return self._handle(environ, start_response, LEGACY, name, token)

    # -- the request -------------------------------------------------------------------------

    def _handle(
        self, environ: Environ, start_response: StartResponse, style: str, raw_name: str,
        token: str,
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if method == "OPTIONS":
                self.outcomes["preflight"].inc()
                headers = [
                    *preflight_headers(environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS")),
                    *COMMON_HEADERS, ("Content-Length", "0"),
                ]
                start_response(STATUS_LINES[204], headers)
                return []
            if method not in ("GET", "HEAD"):
                raise refusal(405, "method_not_allowed", headers=[("Allow", ALLOW)])
            self._check_rate_limit(environ)
            try:
                claims, file = self._authorize(environ, style, raw_name, token)
            except ApiError as err:
                self._count_guess(environ, err.code, token)
                raise
            return self.mode.respond(
                environ, start_response, method, claims, file, self.clock.now()
            )
        except ApiError as err:
            return send_error(start_response, err, self.outcomes)
        except RegistryError:
            log.warning("registry unavailable while serving a download")
            return send_error(start_response, unavailable("registry_unavailable"), self.outcomes)

    def _authorize(
        self, environ: Environ, style: str, raw_name: str, token: str
    ) -> tuple[Claims, File]:
        """The checks of ``Authorizer``, in its order: the API key (legacy), the token, the
        principal, the file."""
        api_key = (
            self.authorizer.api_key(environ.get("HTTP_AUTHORIZATION")) if style == LEGACY
            else None
        )
        claims = self.authorizer.claims(token, filename=filename_of(raw_name), style=style)
        return claims, self.authorizer.file(claims, api_key)

    def _check_rate_limit(self, environ: Environ) -> None:
        """429 for an address over ``FILES_RATE_LIMIT``, before any token or key work."""
        if self.limiter is None:
            return
        wait = self.limiter.retry_after(environ.get("REMOTE_ADDR"))
        if wait is not None:
            self.metrics.rate_limited.labels("download").inc()
            raise rate_limited(wait)

    def _count_guess(self, environ: Environ, code: str, token: str) -> None:
        """Count a refused token or key against the address, where one was sent."""
        if self.limiter is None or code not in _GUESSES:
            return
        presented = environ.get("HTTP_AUTHORIZATION") if code == "unauthorized" else token
        if presented:
            self.limiter.failed(environ.get("REMOTE_ADDR"))
