"""Delivery: the pure HTTP logic of serving a download (SPEC §4).

Functions over header strings and numbers, no Flask and no I/O, run on every download:

- :mod:`.conditional` — Range / If-Range / If-None-Match / If-Modified-Since to a
  :class:`Decision` (200, 206, 304 or 416 and the bytes to send);
- :mod:`.disposition` — the ``Content-Disposition`` header;
- :mod:`.caching` — ``Cache-Control`` from the token's expiry, and the fixed security and
  CORS headers;
- :mod:`.accel` — where nginx finds the bytes in ``accel`` mode, and whether it would send
  exactly the ones decided;
- :mod:`.inert` — the file types a browser runs no script from, which alone ``redirect``
  mode sends to the storage's own origin.
"""

from .accel import RANGE_HEADER, local_accel_path, nginx_agrees, proxied_accel_path
from .caching import (
    CACHE_MODES,
    CORS_HEADERS,
    PREFLIGHT_ALLOWED_HEADERS,
    SECURITY_HEADERS,
    cache_control,
    preflight_headers,
    seconds_left,
)
from .conditional import Decision, evaluate
from .disposition import DISPOSITIONS, ascii_fallback, content_disposition
from .inert import is_inert

__all__ = [
    "CACHE_MODES",
    "CORS_HEADERS",
    "DISPOSITIONS",
    "PREFLIGHT_ALLOWED_HEADERS",
    "RANGE_HEADER",
    "SECURITY_HEADERS",
    "Decision",
    "ascii_fallback",
    "cache_control",
    "content_disposition",
    "evaluate",
    "is_inert",
    "local_accel_path",
    "nginx_agrees",
    "preflight_headers",
    "proxied_accel_path",
    "seconds_left",
]
