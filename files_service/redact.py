"""Making text safe to log: bearer secrets redacted, control characters escaped.

Tokens travel in the query (``access_token=``), in the legacy path
(``/api/v1/files/<token>/…``) and in upload URLs (``/uploads/<token>``); API keys travel in
``Authorization`` headers, which are never logged, but are scrubbed here too in case one turns
up in a message. Whatever a client sends may end up in a log line (a path, a filename in a
message), so every character that could end a line or make a terminal rewrite one is written
as an escape (``\\n``, ``\\x1b``, ``\\u2028``): one record is always one line, and a client
cannot forge another."""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache
from urllib.parse import unquote

REDACTED = "[redacted]"
# What a token looks like (see tokens.py), loosely: key id, file id and principal id joined by
# dots, which may be percent-encoded (once or more) where a client or a proxy encoded them; from
# there on, everything up to a separator goes. (Bounded in front, so the search stays linear.)
_DOT = r"(?:\.|%(?:25)*2[Ee])"
_TOKEN_LIKE = re.compile(
    rf"(?:[A-Za-z0-9_-]{{1,16}}{_DOT})?file_[A-Za-z0-9]+{_DOT}(?:key|wbh)_[^\s/?&\"'<>]*"
)
_ACCESS_TOKEN = re.compile(r"(access_token(?:=|%(?:25)*3D))[^&\s\"']*", re.IGNORECASE)
_API_KEY = re.compile(r"fsk_[A-Za-z0-9_-]+")
_BEARER = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)
_PATTERNS = (
    (_TOKEN_LIKE, REDACTED),
    (_ACCESS_TOKEN, r"\1" + REDACTED),
    # The legacy token's place, however the path is spelled (case, doubled slashes).
    (
        re.compile(r"(/+api/+v1/+files/+)[^/\s?\"']+(/[^\s?\"']*)", re.IGNORECASE),
        r"\1" + REDACTED + r"\2",
    ),
    # An upload token's place, whatever it holds (/uploads/<token>).
    (re.compile(r"(/+uploads/+)[^/\s?\"']+", re.IGNORECASE), r"\1" + REDACTED),
    (_API_KEY, "fsk_" + REDACTED),
    (_BEARER, r"\1" + REDACTED),
)
# Any of them, in one search: what gives a secret away within one path segment (the legacy
# place is found by its position).
_SEGMENT_SECRET = re.compile(
    "|".join(f"(?:{p.pattern})" for p in (_TOKEN_LIKE, _API_KEY))
    + "".join(f"|(?i:{p.pattern})" for p in (_ACCESS_TOKEN, _BEARER))
)
_LEGACY_PREFIX = ("api", "v1", "files")
_UPLOADS = "uploads"  # an upload token's place: the segment after it
# What a token looks like, as plain PCRE too: the front tier's nginx redacts its access log's
# paths with it (files_service.edge).
TOKEN_PATTERN = _TOKEN_LIKE.pattern
_MAX_UNQUOTE_ROUNDS = 4  # a secret encoded more often than this reaches no server either


def redact(text: str) -> str:
    """``text`` with every token and API key secret replaced by ``[redacted]``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_path(path: str) -> str:
    """A URL path (as decoded text) with each segment that holds a secret replaced by
    ``[redacted]``, whatever the prefix and however often the segment was percent-encoded;
    and with the segment in a legacy token's place (after ``api/v1/files``, any case, before
    a filename) redacted whatever it holds."""
    lowered = path.lower()
    if "_" not in path and "%" not in path and "files" not in lowered and "uploads" not in lowered:
        return path  # no secret, and no legacy or upload token's place
    segments = path.split("/")
    named: list[str] = []  # the non-empty segments so far, decoded and lowercased
    for index, segment in enumerate(segments):
        plain = _unquote_fully(segment)
        legacy_place = named[-3:] == list(_LEGACY_PREFIX) and index + 1 < len(segments)
        upload_place = named == [_UPLOADS]
        if plain:
            named.append(plain.lower())
        if legacy_place or upload_place or _SEGMENT_SECRET.search(plain):
            segments[index] = REDACTED
    return "/".join(segments)


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with backslashes doubled and every control character (Unicode categories Cc,
    Cf, Zl, Zp; and surrogates, which stand for bytes that were not UTF-8) written as an
    escape, so that it stays on one line and reads the same on any terminal. With
    ``keep_newlines`` a ``\\n`` stays (for a traceback, whose lines callers indent)."""
    if keep_newlines and "\n" in text:
        return "\n".join(escape_controls(line) for line in text.split("\n"))
    if text.isascii():
        if not _ASCII_UNSAFE.search(text):
            return text
        return _ASCII_UNSAFE.sub(lambda m: _escape_char(m.group()), text)
    return "".join(map(_escape_char, text))


def loggable(text: str) -> str:
    """``text`` redacted and escaped: fit for one log line."""
    return escape_controls(redact(text))


def loggable_path(path_info: str) -> str:
    """A request's ``PATH_INFO`` (a WSGI string: its bytes as latin-1) as it should appear in
    a log line, between double quotes: read as UTF-8 (bytes that are not stay visible as
    ``\\xNN``), secrets redacted, controls escaped, and ``"`` written ``\\x22`` so that the
    path cannot close its quotes and forge the fields after it (the status, the size)."""
    try:
        text = path_info.encode("latin-1").decode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # not a WSGI string after all: take it as it is
        text = path_info
    return escape_controls(redact_path(text)).replace('"', "\\x22")


def loggable_traceback(text: str) -> str:
    """A traceback redacted, escaped, and indented: its lines never start at the first column,
    where every log record starts, so no line of it (an exception message holds what a client
    sent) passes for a record of its own."""
    escaped = escape_controls(redact(text.rstrip("\n")), keep_newlines=True)
    return "\n".join("  " + line for line in escaped.split("\n"))


_ASCII_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\]")
_SHORT_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


@lru_cache(maxsize=4096)
def _escape_char(char: str) -> str:
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    if " " <= char <= "~" or unicodedata.category(char) not in _CONTROL_CATEGORIES:
        return char
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        code -= 0xDC00
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _unquote_fully(segment: str) -> str:
    for _ in range(_MAX_UNQUOTE_ROUNDS):
        if "%" not in segment:
            break
        segment = unquote(segment, errors="surrogateescape")
    return segment


class RedactingFilter(logging.Filter):
    """A logging filter that renders each record's message redacted and escaped, and its
    traceback redacted, escaped and indented (``loggable_traceback``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = loggable(record.getMessage())
        record.args = None
        if record.exc_info:
            # Render the traceback now and keep only the text.
            formatter = logging.Formatter()
            record.exc_text = loggable_traceback(formatter.formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = loggable_traceback(record.stack_info)
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
