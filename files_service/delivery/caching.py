"""Response headers of the download paths that do not depend on the file (SPEC §4).

:func:`cache_control` derives ``Cache-Control`` from the token's expiry, so that no browser or
CDN keeps a response past the moment its URL stops working. The constants and
:func:`preflight_headers` are the fixed security and CORS headers. Values are pairs of
``(name, value)`` strings, ready for ``Headers.extend``; everything here is pure.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "CACHE_MODES",
    "CORS_HEADERS",
    "PREFLIGHT_ALLOWED_HEADERS",
    "SECURITY_HEADERS",
    "cache_control",
    "preflight_headers",
    "seconds_left",
]

# The values of FILES_CDN_CACHE (SPEC §8).
CACHE_MODES: tuple[str, ...] = ("private", "public")

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    # Browsers must not guess a type other than the stored Content-Type (e.g. run a text/plain
    # upload as script).
    ("X-Content-Type-Options", "nosniff"),
    # An uploaded HTML or SVG opened on the files host runs in a unique origin without script.
    ("Content-Security-Policy", "sandbox"),
    # The token is in the URL: never hand it on to whatever a served document links to.
    ("Referrer-Policy", "no-referrer"),
    # Customers' pages on other sites embed the files (img, video, ...).
    ("Cross-Origin-Resource-Policy", "cross-origin"),
)

# Sent on every response of the download paths, errors included, so a page's script can read a
# refusal. "*" without credentials: the URL itself is the credential (or, on the legacy path,
# an Authorization header the page sets explicitly).
CORS_HEADERS: tuple[tuple[str, str], ...] = (
    ("Access-Control-Allow-Origin", "*"),
    (
        "Access-Control-Expose-Headers",
        "Content-Type, Content-Length, Content-Disposition, Content-Range, Accept-Ranges, "
        "ETag, Last-Modified, Cache-Control",
    ),
)

# Request headers a download may carry. Authorization is for the legacy path; it is never
# covered by a "*" wildcard, so the list is explicit.
PREFLIGHT_ALLOWED_HEADERS: tuple[str, ...] = (
    "Range",
    "If-Range",
    "If-None-Match",
    "If-Modified-Since",
    "Authorization",
)

# RFC 9110 §5.6.2 token: what a header name may be made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", re.ASCII)
# Echo at most this many extra names: enough for any real client, and a bound on the work and
# on the header a hostile preflight can make us write.
_MAX_ECHOED_HEADERS = 16
_MAX_HEADER_NAME = 64


NO_STALE = "stale-while-revalidate=0, stale-if-error=0"
"""What a public answer adds so that no shared cache serves it stale once the token is dead."""


def cache_control(expires_at: int | None, now: float, *, mode: str = "private") -> str:
    """The ``Cache-Control`` value for a download whose URL expires at ``expires_at``.

    :param expires_at: the token's expiry, Unix seconds; None for a legacy URL, which does not
        expire by time but is bound to an API key: ``private, no-cache`` whatever the mode.
    :param now: the server's clock, Unix seconds.
    :param mode: ``"private"`` (browsers only) or ``"public"`` (shared caches and CDNs too,
        ``FILES_CDN_CACHE=public``); anything else is a ``ValueError``.
    :return: ``private, max-age=N`` or ``public, max-age=N, s-maxage=N`` and ``NO_STALE``,
        where N is the whole seconds left, rounded down so no cache outlives the URL;
        ``no-store`` when none are left (a response served inside the clock leeway after
        expiry).
    """
    if mode not in CACHE_MODES:
        raise ValueError(f"cache mode must be one of {CACHE_MODES}, not {mode!r}")
    if expires_at is None:
        return "private, no-cache"
    remaining = seconds_left(expires_at, now)
    if remaining <= 0:
        return "no-store"
    if mode == "public":
        # s-maxage too, so a CDN that has its own default for shared caching still stops at
        # the expiry; and no serving stale past it either (SPEC §4: Varnish's grace period
        # and other stale-while-revalidate or stale-if-error defaults obey these).
        return f"public, max-age={remaining}, s-maxage={remaining}, {NO_STALE}"
    return f"private, max-age={remaining}"


def seconds_left(expires_at: float, now: float) -> int:
    """The whole seconds from ``now`` until ``expires_at``, rounded down (0 or less once it has
    passed): what a cache lifetime or a storage URL's lifetime may be, never more."""
    # Computed in integers: exact for an int expiry however far apart the two are (a float
    # subtraction can round up), and never more for a float one.
    return math.floor(expires_at) - math.ceil(now)


def preflight_headers(request_headers_value: str | None) -> list[tuple[str, str]]:
    """The headers an ``OPTIONS`` preflight adds to :data:`CORS_HEADERS`.

    Send these *together with* :data:`CORS_HEADERS` (which carries
    ``Access-Control-Allow-Origin``), never instead of them; they do not repeat it, since two
    ``Access-Control-Allow-Origin`` fields make browsers refuse the response.

    :param request_headers_value: the request's ``Access-Control-Request-Headers``, or None.
        The names in it that are valid header names are allowed too (a download ignores
        headers it does not use, so allowing them costs nothing and spares clients that add
        their own a failed preflight); anything else in it is dropped, so nothing a client
        sends can reach the response but plain tokens.
    """
    allowed = list(PREFLIGHT_ALLOWED_HEADERS)
    if request_headers_value:
        known = {name.lower() for name in allowed}
        extra = 0
        for part in request_headers_value.split(",", _MAX_ECHOED_HEADERS * 2):
            name = part.strip(" \t").lower()
            if (
                len(name) <= _MAX_HEADER_NAME
                and _TOKEN.fullmatch(name)
                and name not in known
                and extra < _MAX_ECHOED_HEADERS
            ):
                known.add(name)
                allowed.append(name)
                extra += 1
    return [
        ("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS"),
        ("Access-Control-Allow-Headers", ", ".join(allowed)),
        ("Access-Control-Max-Age", "86400"),
        # The answer depends on Access-Control-Request-Headers: a cache in between must not
        # hand one client's answer to another.
        ("Vary", "Access-Control-Request-Headers"),
    ]
