"""Times as the API writes them: ISO 8601 in UTC with milliseconds, like the seed examples
(``2019-09-09T22:40:56.000Z``)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(timestamp: float | None) -> str | None:
    """``2026-01-01T00:00:00.000Z`` for a Unix time; None stays None."""
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
