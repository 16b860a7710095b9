"""Redaction of bearer secrets from anything that may be logged. Tokens travel in the query
(``access_token=``) and in the legacy path (``/api/v1/files/<token>/…``); API keys travel in
``Authorization`` headers, which are never logged, but are scrubbed here too in case one turns
up in a message."""

from __future__ import annotations

import re

_PATTERNS = (
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
