"""Redaction of bearer secrets from anything that may be logged. Tokens travel in the query
(``access_token=``) and in the legacy path (``/api/v1/files/<token>/…``); API keys travel in
``Authorization`` headers, which are never logged, but are scrubbed here too in case one turns
up in a message."""

from __future__ import annotations

import logging
import re

_PATTERNS = (
    # A whole download token wherever it appears (see tokens.py for its shape).
    (
        re.compile(
            r"[A-Za-z0-9_-]{1,16}\.file_[A-Za-z0-9]+\.(?:key|wbh)_[A-Za-z0-9]+\.\d+\.[ia]\."
            r"[A-Za-z0-9_-]+"
        ),
        "[redacted]",
    ),
    (re.compile(r"(access_token(?:=|%3D))[^&\s\"']*", re.IGNORECASE), r"\1[redacted]"),
    (re.compile(r"(/api/v1/files/)[^/\s?\"']+(/[^\s?\"']*)"), r"\1[redacted]\2"),
    (re.compile(r"fsk_[A-Za-z0-9_-]+"), "fsk_[redacted]"),
    (re.compile(r"(Bearer\s+)\S+", re.IGNORECASE), r"\1[redacted]"),
)


def redact(text: str) -> str:
    """``text`` with every token and API key secret replaced by ``[redacted]``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that renders each record's message (and traceback) redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            # Render the traceback now, redacted, and keep only the text.
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """Send the service's own log records to stderr through ``RedactingFilter`` (once)."""
    logger = logging.getLogger("files_service")
    if any(isinstance(h, _Handler) for h in logger.handlers):
        return
    handler = _Handler()
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("[%(asctime)s] [%(process)d] [%(levelname)s] "
                                           "%(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """The service's own stderr handler (a class of its own, so configuring is idempotent)."""
