"""The download paths, mounted in front of the Flask app by ``DownloadDispatcher``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .handler import DownloadApp, split_query_token

__all__ = ["DownloadApp", "DownloadDispatcher"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
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

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
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
