"""Deciding the answer to an authorized download (§4, docs/delivery.md), before any byte moves:
the file's validators and cache lifetime, and what ``delivery.evaluate`` makes of the request's
``Range`` and conditions. Header strings and numbers in, headers out, no I/O; every delivery
mode answers from it, and so can anything else that must answer as the service does."""

from __future__ import annotations

import functools
from typing import NamedTuple

from werkzeug.http import http_date

from ..delivery import Decision, cache_control, content_disposition, evaluate
from ..registry.models import File
from ..tokens import Claims
from .refusals import refusal
from .wsgi import COMMON_HEADERS, Headers


class Answer(NamedTuple):
    """A ``200``, ``206`` or ``304`` and its headers: for a ``304`` the validators and
    ``Cache-Control``; else the representation's too, all but ``Content-Length`` and
    ``Content-Range`` (whoever sends the bytes adds those)."""

    decision: Decision
    headers: Headers


def decide(
    method: str,
    file: File,
    claims: Claims,
    now: float,
    *,
    cdn_cache: str,
    range_header: str | None,
    if_range: str | None,
    if_none_match: str | None,
    if_modified_since: str | None,
) -> Answer:
    """The answer to a ``GET`` or ``HEAD`` of ``file`` with a good token, or ``416``
    (``range_not_satisfiable``, raised as the refusal).

    :param cdn_cache: ``FILES_CDN_CACHE``, for ``Cache-Control``.
    :param range_header: the request's ``Range``, and so on: each header as sent, or None.
    """
    etag = f'"{file.checksum}"'
    validators: Headers = [
        ("ETag", etag),
        ("Last-Modified", _http_date(int(file.created_at))),
        ("Cache-Control", cache_control(claims.expires_at, now, mode=cdn_cache)),
    ]
    decision = evaluate(
        method=method,
        size=file.byte_size,
        etag=etag,
        last_modified=file.created_at,
        range_header=range_header,
        if_range=if_range,
        if_none_match=if_none_match,
        if_modified_since=if_modified_since,
    )
    if decision.status == 304:
        return Answer(decision, [*validators, *COMMON_HEADERS])
    if decision.status == 416:
        raise refusal(
            416, "range_not_satisfiable",
            headers=[("Content-Range", decision.content_range or f"bytes */{file.byte_size}")],
        )
    return Answer(decision, [
        ("Content-Type", file.content_type),
        ("Accept-Ranges", "bytes"),
        ("Content-Disposition", content_disposition(file.filename, claims.disposition)),
        *validators,
        *COMMON_HEADERS,
    ])


@functools.lru_cache(maxsize=4096)
def _http_date(timestamp: int) -> str:
    """``Last-Modified`` of a file: the same few thousand files are served over and over."""
    return http_date(timestamp)
