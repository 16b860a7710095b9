"""Handing a download's bytes to nginx (``FILES_DELIVERY=accel``; docs/delivery.md).

The service still decides every response: the token, the refusals, ``304`` and ``416`` and
which bytes a ``206`` carries. nginx only sends the bytes, from an ``internal`` location that
``X-Accel-Redirect`` names. These pure functions say where that is, and whether nginx, given the
request as the client sent it, would send exactly the bytes the service decided.

nginx decodes the ``X-Accel-Redirect`` path once (``%20`` becomes a space) before it looks for
the location, and keeps what follows ``?`` as the location's ``$args`` as it is:

- a local file: the storage key, percent-encoded once, under an ``alias`` of the storage root;
- an S3 object: the path of a presigned URL, percent-encoded once *more*, so that after nginx's
  decoding the location's regex captures botocore's path byte for byte and ``proxy_pass``, given
  variables, sends it on unchanged (nginx would otherwise re-encode it its own way, and the
  request would no longer be the one that was signed); the presigned query follows ``?``.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from .conditional import Decision

__all__ = ["RANGE_HEADER", "local_accel_path", "nginx_agrees", "proxied_accel_path"]

# The response header that tells the S3 location which bytes to ask for (``proxy_set_header
# Range``): nginx forwards the client's own headers, and the client's Range is not
# necessarily the service's decision (a Range the service ignored, an If-Range that failed).
RANGE_HEADER = "X-Files-Range"

# A single range as nginx's static module parses it exactly as ``evaluate`` does. Anything
# else (several ranges, spaces, a malformed or overlong spec) is rare from real clients, and
# nginx might answer it differently: its own 416 page, or the whole file where the service
# decided a part. Up to 18 digits: nginx refuses numbers near 2**63 as an overflow.
_CANONICAL_RANGE = re.compile(r"bytes=(?:[0-9]{1,18}-[0-9]{0,18}|-[0-9]{1,18})", re.IGNORECASE)


def nginx_agrees(
    decision: Decision,
    *,
    range_header: str | None,
    if_match: str | None = None,
    if_unmodified_since: str | None = None,
    if_range: str | None = None,
) -> bool:
    """Whether nginx's static module, seeing the client's request headers, sends exactly the
    ``200`` or ``206`` of ``decision``, given the location of docs/delivery.md (``max_ranges 1``,
    ``etag off``, ``if_modified_since off`` and the service's ``ETag`` / ``Last-Modified``
    added back, so ``If-Range`` is judged against the same validators).

    Where it would not, the service streams the response itself: the answer is then the one
    ``stream`` gives, at the cost of the bytes passing through the service once in a while.

    :param decision: what :func:`~.conditional.evaluate` decided (200 or 206).
    :param range_header: the request's ``Range``, or None.
    :param if_match: the request's ``If-Match``: downloads do not offer it (§4), but nginx
        would answer ``412`` for it against validators it does not know.
    :param if_unmodified_since: likewise ``If-Unmodified-Since``.
    :param if_range: the request's ``If-Range``: nginx trims spaces around it but not tabs,
        and would then find it false and send the whole file where the service sends a part.
    """
    if if_match is not None or if_unmodified_since is not None:
        return False
    if range_header is None:
        return decision.status == 200
    if if_range is not None and "\t" in if_range:
        return False
    return decision.status == 206 and _CANONICAL_RANGE.fullmatch(range_header) is not None


def local_accel_path(location: str, key: str) -> str:
    """The ``X-Accel-Redirect`` of a local file: ``<location>/<key>``, the key percent-encoded
    (UTF-8) so that nginx's one decoding gives the file's path under the location's alias."""
    return f"{location}/{quote(key, safe='/')}"


def proxied_accel_path(location: str, presigned_url: str) -> str:
    """The ``X-Accel-Redirect`` of an object behind a presigned URL: ``<location>`` + the URL's
    path encoded once more + ``?`` + its query (see the module docstring). The host is not
    carried: nginx proxies only to the storage endpoint its configuration names."""
    parts = urlsplit(presigned_url)
    # botocore's path holds only unreserved characters, "/" and %XX: this encodes the "%".
    return f"{location}{quote(parts.path, safe='/')}?{parts.query}"
