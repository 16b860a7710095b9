"""Rate limiting of failed authentication attempts per client address (``FILES_RATE_LIMIT``).

``FILES_RATE_LIMIT="<n>/<seconds>"`` (off by default): once a client address has made ``n``
failed attempts (a download token or an API key that was presented and refused) within a
window of ``<seconds>``, its requests on the download paths and the API get ``429`` with
``Retry-After`` and the code ``rate_limited`` until that window closes, before any token is
checked or any key is looked up. A window opens at an address's first failure and lasts
``<seconds>``; a refused (429) request does not count, so a blocked address is let in again
when its window closes.

What counts is a *guess*: a token or key that was sent and is not good, or a storage key
outside the caller's import folder (what other tenants store is not its to probe). A request
that sends none (a browser fetching ``/favicon.ico`` from the files host, a probe) cannot
learn anything and is not counted; neither is an expired or revoked token, whose signature is
genuine.

The client address is ``REMOTE_ADDR`` as Werkzeug's ``ProxyFix`` leaves it: with
``FILES_TRUSTED_PROXIES=N`` the N-th ``X-Forwarded-For`` hop from the right, the app wrapping
the download paths and the API in the same ``ProxyFix``. An IPv6 address is counted by its
/64, the block one customer line gets, so that cycling through the addresses of one's own
network does not reset the count.

The counters live in each worker process (per-worker limits: with N workers an address may
make up to N times ``n`` failed attempts per window before every worker refuses it), in at
most ``MAX_ENTRIES`` windows: past that, the window that would close soonest is forgotten
first. Time comes from the service's clock, so tests move a ``ManualClock``.
"""

from __future__ import annotations

import ipaddress
import math
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

from .clock import Clock
from .jsonapi.errors import ApiError

__all__ = [
    "MAX_ENTRIES",
    "FailureLimiter",
    "RateLimit",
    "address_key",
    "parse_rate_limit",
    "rate_limited",
]

MAX_ENTRIES = 10_000  # about 1 MB of windows; far more distinct guessers than one worker sees
MAX_ATTEMPTS = 1_000_000
MAX_WINDOW_SECONDS = 86400
_MAX_KEY_CHARS = 64  # what an unparseable address (a forged forwarded hop) may occupy
_SPEC = re.compile(r"([0-9]{1,7})/([0-9]{1,5})")


@dataclass(frozen=True)
class RateLimit:
    """At most ``attempts`` failed attempts per client address per ``seconds``."""

    attempts: int
    seconds: int

    def __post_init__(self) -> None:
        if not 1 <= self.attempts <= MAX_ATTEMPTS:
            raise ValueError(f"the number of attempts must be from 1 to {MAX_ATTEMPTS}")
        if not 1 <= self.seconds <= MAX_WINDOW_SECONDS:
            raise ValueError(f"the window must be from 1 to {MAX_WINDOW_SECONDS} seconds")

    def __str__(self) -> str:
        return f"{self.attempts}/{self.seconds}"


def parse_rate_limit(text: str) -> RateLimit:
    """``"<n>/<seconds>"``, e.g. ``"20/60"``; ``ValueError`` saying what is wrong otherwise."""
    match = _SPEC.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"must be <attempts>/<seconds> such as 20/60 (whole numbers); got {text!r}"
        )
    return RateLimit(int(match.group(1)), int(match.group(2)))


def rate_limited(retry_after: int) -> ApiError:
    """The one ``429`` of both the download paths and the API."""
    return ApiError(
        429, "rate_limited",
        "Too many failed attempts from this address; try again after Retry-After seconds.",
        title="Too many failed attempts", headers=[("Retry-After", str(retry_after))],
    )


def address_key(address: str | None) -> str:
    """What an address is counted under: an IPv4 address as it is, an IPv6 address by its /64
    (an IPv4-mapped one as the IPv4 address), anything else (a forwarded hop that is no
    address at all) as its first ``_MAX_KEY_CHARS`` characters."""
    text = (address or "").strip()
    try:
        parsed = ipaddress.ip_address(text)
    except ValueError:
        return text[:_MAX_KEY_CHARS]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


class _Window:
    __slots__ = ("closes", "failures")

    def __init__(self, closes: float) -> None:
        self.closes = closes
        self.failures = 1


class FailureLimiter:
    """Failed attempts per client address in fixed windows, in bounded memory; thread-safe
    (gunicorn's gthread workers serve requests on several threads)."""

    def __init__(self, limit: RateLimit, clock: Clock, *, max_entries: int = MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.limit = limit
        self.clock = clock
        self.max_entries = max_entries
        self._lock = threading.Lock()
        # Every window lasts as long, so the order windows were opened in is the order they
        # close in: the expired ones are always at the front.
        self._windows: OrderedDict[str, _Window] = OrderedDict()

    def retry_after(self, address: str | None) -> int | None:
        """Whole seconds until ``address`` may try again (at least 1), or ``None`` where it may
        try now. Cheap: one dictionary lookup, no registry and no token work."""
        key = address_key(address)
        with self._lock:
            window = self._windows.get(key)
            if window is None or window.failures < self.limit.attempts:
                return None
            left = window.closes - self.clock.now()
            if left <= 0:
                del self._windows[key]
                return None
            return max(1, math.ceil(left))

    def failed(self, address: str | None) -> None:
        """Count one failed attempt of ``address``."""
        key = address_key(address)
        now = self.clock.now()
        with self._lock:
            self._forget_closed(now)
            window = self._windows.get(key)
            if window is not None and window.closes > now:
                window.failures += 1
                return
            # (A closed window still here means the clock went back: start afresh.)
            self._windows.pop(key, None)
            while len(self._windows) >= self.max_entries:
                self._windows.popitem(last=False)  # the window that closes soonest
            self._windows[key] = _Window(now + self.limit.seconds)

    @property
    def entries(self) -> int:
        """How many windows are held (no ``__len__``: an empty limiter must stay truthy)."""
        return len(self._windows)

    def _forget_closed(self, now: float) -> None:
        windows = self._windows
        while windows:
            key, window = next(iter(windows.items()))
            if window.closes > now:
                return
            del windows[key]
