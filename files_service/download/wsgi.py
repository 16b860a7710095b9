"""WSGI plumbing of the download paths: the types, the headers every answer carries, the
download counter, a refusal answered (with ``jsonapi.render_error``), and the raw path segment
read as the filename it stands for. Status lines come from ``files_service.reasons``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..delivery import CORS_HEADERS, SECURITY_HEADERS
from ..jsonapi import ApiError, render_error
from ..metrics import DOWNLOAD_OUTCOMES
from ..reasons import STATUS_LINES
from .refusals import refusal

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
Headers = list[tuple[str, str]]

# On every answer of the download paths, refusals included (§4).
COMMON_HEADERS: Headers = [*SECURITY_HEADERS, *CORS_HEADERS]


class Outcomes(dict[str, Any]):
    """``files_downloads_total`` by outcome: ``outcomes["ok"].inc()``. Each child is bound
    once (``labels()`` takes a lock and a lookup per call)."""

    def __init__(self, counter: Any) -> None:
        super().__init__((outcome, counter.labels(outcome)) for outcome in DOWNLOAD_OUTCOMES)
        self._counter = counter

    def __missing__(self, outcome: str) -> Any:
        child = self[outcome] = self._counter.labels(outcome)
        return child


def send_error(
    start_response: StartResponse, err: ApiError, outcomes: Outcomes
) -> Iterable[bytes]:
    """Answer with ``err`` as a JSON:API error document: ``no-store``, CORS and all."""
    outcomes[err.code].inc()
    status, headers, body = render_error(err)
    start_response(STATUS_LINES[status], [*headers, *COMMON_HEADERS])
    return [body]


def filename_of(segment: str) -> str:
    """The filename a raw path segment stands for. ``PATH_INFO`` carries the decoded path as
    latin-1 code points of its UTF-8 bytes; bytes that are no UTF-8 name no file, and are
    refused as a token that does not match its URL."""
    try:
        return segment.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise refusal(403, "invalid_token") from None
