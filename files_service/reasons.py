"""Status lines with the standard reason phrases of RFC 9110 §15 (``401 Unauthorized``).

Werkzeug writes a status given as a number with its phrase in capitals (``401 UNAUTHORIZED``);
clients must not depend on a phrase, but people read them, and the download paths and every
other server say them as the RFC does. ``StandardReasons`` puts the standard one on every
response of the app it wraps."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

__all__ = ["STATUS_LINES", "StandardReasons"]

# Where Python's table still has the names RFC 9110 replaced (they differ by Python version).
_RFC_9110 = {413: "Content Too Large", 416: "Range Not Satisfiable", 422: "Unprocessable Content"}
# The status line of each status RFC 9110 names (``STATUS_LINES[401] == "401 Unauthorized"``),
# for the download paths, which write their own.
STATUS_LINES = {
    status.value: f"{status.value} {_RFC_9110.get(status.value, status.phrase)}"
    for status in HTTPStatus
}
_LINES = {str(code): line for code, line in STATUS_LINES.items()}


class StandardReasons:
    """WSGI middleware: the status line of every response of ``app`` with its standard phrase
    (a status the RFC does not name keeps the app's own)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(_LINES.get(status[:3], status), headers, exc_info)

        return self.app(environ, start)
