"""Which requests are downloads: ``DownloadDispatcher`` sits in front of the Flask app and
hands the download paths, as raw path pieces, to ``DownloadApp``; downloads are the hot path,
so they skip Flask's dispatch (contexts, URL map, hooks) and speak WSGI directly."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

from .handler import DownloadApp
from .wsgi import Environ, StartResponse

WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
_LEGACY_PREFIX = "/api/v1/files/"


class DownloadDispatcher:
    """Routes downloads to ``DownloadApp`` and everything else to the Flask app.

    A single path segment with an ``access_token`` is always a download (§4), so a file named
    ``healthz`` or ``metrics`` is still served where the API and the files share one host; one
    without a token is the app's own route where it has one (``reserved``), else a download
    with no token (refused as ``invalid_token``).
    ``/api/v1/files/{token}/{filename}`` (two segments under ``files/``) is a legacy download;
    ``/api/v1/files/{id}`` (one) stays with the API."""

    def __init__(
        self, app: WSGIApp, downloads: DownloadApp, reserved: frozenset[str] = frozenset()
    ) -> None:
        self.app = app
        self.downloads = downloads
        self.reserved = reserved

    def __call__(self, environ: Environ, start_response: StartResponse) -> Any:
        path: str = environ.get("PATH_INFO") or "/"
        if path.find("/", 1) == -1:
            token = split_query_token(environ.get("QUERY_STRING", ""))
            if token is not None or path not in self.reserved:
                return self.downloads.current(environ, start_response, path[1:], token or "")
        elif path.startswith(_LEGACY_PREFIX):
            token, sep, name = path[len(_LEGACY_PREFIX):].partition("/")
            if sep and token and name and "/" not in name:
                return self.downloads.legacy(environ, start_response, name, token)
        return self.app(environ, start_response)


def split_query_token(query: str) -> str | None:
    """The ``access_token`` of a query string, or None; a repeated one is refused as empty."""
    token = None
    for part in query.split("&"):
        if part.startswith("access_token="):
            if token is not None:
                return ""
            token = unquote(part[13:])
    return token
