"""Text that reaches a log (redact.py): no secret, whatever its spelling, and no character a
client sent that could end a line or rewrite one on a terminal."""

from __future__ import annotations

import io
import logging
import re
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from files_service.redact import (
    RedactingFilter,
    configure_logging,
    escape_controls,
    loggable_path,
    loggable_traceback,
    redact_path,
)

TOKEN = "k1.file_AAAAAAAAAAAAAAAAAAAAAA.key_BBBBBBBBBBBBBBBBBBBBBB.0.i.SIGSIGSIGSIGSIG"
RECORD_START = "[2026-01-01 00:00:00 +0000] [1] [INFO] "


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/files/{TOKEN}/a.txt",
        f"/api/v1//files/{TOKEN}/a.txt",
        f"/API/V1/FILES/{TOKEN}/a.txt",
        f"//api//v1///files/{TOKEN}/a.txt",
        f"/api/v1/files/{TOKEN.replace('.', '%2E')}/a.txt",
        f"/api/v1/files/{TOKEN.replace('.', '%252e').replace('_', '%255F')}/a.txt",
        f"/somewhere/else/{TOKEN}",
        f"/{TOKEN}",
        f"/a.txt%3Faccess_token={TOKEN}",
        "/keys/fsk_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    ],
)
def test_a_secret_in_a_path_is_redacted_whatever_the_spelling(path: str) -> None:
    clean = redact_path(path)
    assert "SIGSIG" not in clean and "abcdefghij" not in clean
    assert "[redacted]" in clean


def test_a_path_without_a_secret_is_kept() -> None:
    for path in ("/api/v1/files/file_AAAA", "/api/v1/files", "/report.pdf", "/a%20b/c_d.txt"):
        assert redact_path(path) == path
    # The legacy token's place is redacted whatever it holds (a mangled token is still secret).
    assert redact_path("/api/v1/files/not-a-token/a.txt") == "/api/v1/files/[redacted]/a.txt"


def unescape(text: str) -> str:
    """The reverse of ``escape_controls``, written independently."""
    def one(match: re.Match[str]) -> str:
        escape = match.group()
        short = {"\\\\": "\\", "\\n": "\n", "\\r": "\r", "\\t": "\t"}
        return short[escape] if escape in short else chr(int(escape[2:], 16))

    return re.sub(r"\\(?:[\\nrt]|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})", one, text)


@given(st.text(alphabet=st.one_of(
    st.characters(), st.sampled_from("\\\n\r\x0b\x1b\x85\u2028\u2029\u202e\ufeff\u200b"),
)))
def test_an_escaped_text_holds_no_control_and_reads_back(text: str) -> None:
    escaped = escape_controls(text)
    assert not [c for c in escaped if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]
    assert unescape(escaped) == text


def test_an_access_log_path_is_utf8_with_every_control_escaped() -> None:
    # PATH_INFO is a WSGI string: the request's bytes read as latin-1.
    sent = "/r\u00e9sum\u00e9\n\x1b[2K\u2028\u202e\"\\".encode() + b"\xff.pdf"  # \xff: not UTF-8
    assert loggable_path(sent.decode("latin-1")) == (
        "/résumé\\n\\x1b[2K\\u2028\\u202e\\x22\\\\\\xff.pdf"
    )


def test_the_service_log_cannot_be_forged_by_a_message_or_a_traceback() -> None:
    """The service's own records: what a client sent (a path in a message, a value in an
    exception's text) is escaped, and a traceback's lines are indented under their record."""
    configure_logging()
    log = logging.getLogger("files_service.test")
    # The service's own handler, writing here for the test (it was made, maybe by an earlier
    # test, with whatever stderr was then).
    (handler,) = [
        h for h in logging.getLogger("files_service").handlers
        if isinstance(h, logging.StreamHandler) and any(
            isinstance(f, RedactingFilter) for f in h.filters
        )
    ]
    out = io.StringIO()
    previous = handler.setStream(out)
    forged = "\n" + RECORD_START + "forged"
    try:
        raise ValueError(f"bad value {forged!s}\u2028{TOKEN}")
    except ValueError:
        log.error("unhandled error in GET %s", f"/x{forged}\r\x1b[1G", exc_info=True)
    finally:
        handler.setStream(previous)
    err = out.getvalue()
    lines = err.splitlines()
    assert lines[0].startswith("[") and "unhandled error in GET /x\\n[2026" in lines[0]
    assert "\\r\\x1b[1G" in lines[0]
    assert all(line.startswith("  ") for line in lines[1:]), err
    assert "forged" in lines[-1] and "\\u2028[redacted]" in lines[-1]
    assert "SIGSIG" not in err and "\u2028" not in err and "\x1b" not in err


def test_the_filter_renders_stack_info_indented() -> None:
    record = logging.LogRecord("files_service", logging.INFO, __file__, 1, "m", None, None,
                               sinfo="Stack (most recent call last):\n" + RECORD_START + "x")
    RedactingFilter().filter(record)
    assert record.stack_info is not None
    assert all(line.startswith("  ") for line in record.stack_info.splitlines())


def test_a_traceback_keeps_its_lines_indented() -> None:
    try:
        raise KeyError("a\nb")
    except KeyError:
        text = logging.Formatter().formatException(sys.exc_info())
    assert loggable_traceback(text).splitlines()[0] == "  Traceback (most recent call last):"


def test_gunicorns_error_log_is_escaped_and_redacted(tmp_path) -> None:
    """gunicorn's own records (its ``Error handling request <uri>`` quotes what the client
    sent) go through the same filter, at every level and with tracebacks."""
    from gunicorn.config import Config

    from files_service.gunicorn_conf import RedactingLogger

    config = Config()
    config.set("errorlog", str(tmp_path / "error.log"))
    config.set("loglevel", "debug")
    logger = RedactingLogger(config)
    forged = "\n" + RECORD_START + "forged"
    logger.error("Error handling request %s", f"/api/v1//files/{TOKEN}/a{forged}")
    logger.warning("w %s", "\x1b[2J")
    logger.debug("d%s", "\u2028")
    logger.log("critical", "c %s", "\r")
    try:
        raise RuntimeError(f"failed{forged}")
    except RuntimeError:
        logger.exception("Error handling request %s", "/x")
    for handler in logger.error_log.handlers:
        handler.flush()
    text = (tmp_path / "error.log").read_text()
    assert "SIGSIG" not in text
    assert not LINE_BREAKERS.search(text), text
    records = [line for line in text.splitlines() if not line.startswith("  ")]
    assert len(records) == 5, text
    assert all(line.startswith("[") and "forged" not in line.split("]")[0] for line in records)
    assert "/api/v1//files/[redacted]/a\\n[2026" in text
    assert "  RuntimeError: failed" in text


LINE_BREAKERS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]")
