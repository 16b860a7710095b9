"""The ``Content-Disposition`` header of a download (SPEC §4, RFC 6266, RFC 8187).

The header carries the name twice: ``filename*=UTF-8''…`` is the exact name, percent-encoded,
which every current browser prefers; ``filename="…"`` is a printable-ASCII stand-in for
clients that know only that one. Neither can carry a byte that splits the header or adds a
parameter, whatever the name: the exact form is all ``attr-char`` and ``%XX``, the stand-in a
quoted-string without quote, backslash or control characters.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from urllib.parse import quote

from ..tokens import DISPOSITIONS

__all__ = ["DISPOSITIONS", "ascii_fallback", "content_disposition"]

# RFC 8187 §3.2.1 attr-char, less what quote() never encodes anyway (ALPHA DIGIT "-._~").
_ATTR_CHAR_PUNCTUATION = "!#$&+^`|"
# Printable ASCII a quoted-string could carry but the stand-in leaves out: `"` and `\` would
# need escapes that clients undo inconsistently; "%" because some clients percent-decode the
# plain parameter (RFC 6266 appendix D) and Werkzeug decodes "%22" to a quote; "/" because
# a stand-in (e.g. from a fullwidth solidus) must not look like a path; ";", "=" and "*"
# because a naive client splits the header on ";" and would read `x; filename*=…` inside the
# quotes as a parameter of its own. (Everything else left out is not ASCII: bidi controls,
# U+FEFF, zero-width characters all become "_".)
_FALLBACK_UNSAFE = frozenset('"\\%/;=*')
_FALLBACK_SUBSTITUTE = "_"
_FALLBACK_EMPTY = "download"


def content_disposition(filename: str, disposition: str = "inline") -> str:
    """The ``Content-Disposition`` value for serving ``filename``.

    :param filename: the file's name; any text (SPEC §2 forbids "/", NUL and other controls
        in stored names, but nothing here relies on it).
    :param disposition: ``"inline"`` (shown in the browser where it can) or
        ``"attachment"`` (saved); anything else is a ``ValueError``.
    :return: ``<disposition>; filename="<ASCII stand-in>"; filename*=UTF-8''<exact name>``,
        all printable ASCII, so safe for a WSGI (latin-1) header.
    """
    if disposition not in DISPOSITIONS:
        raise ValueError(f"disposition must be one of {DISPOSITIONS}, not {disposition!r}")
    # Lone surrogates (never a stored name: those are valid UTF-8) become "?" rather than
    # an exception.
    exact = quote(filename, safe=_ATTR_CHAR_PUNCTUATION, encoding="utf-8", errors="replace")
    return f"{disposition}; filename=\"{ascii_fallback(filename)}\"; filename*=UTF-8''{exact}"


def ascii_fallback(filename: str) -> str:
    """A printable-ASCII stand-in for ``filename``, for the plain ``filename`` parameter.

    Each character is kept if it is printable ASCII and safe in the quoted-string; else
    transliterated where its compatibility decomposition is ASCII once accents are dropped
    ("é" -> "e", "ﬁ" -> "fi"); else replaced by "_". Never empty.
    """
    if filename.isascii() and filename.isprintable() and _FALLBACK_UNSAFE.isdisjoint(filename):
        fallback = filename  # the common case, without a per-character walk
    else:
        fallback = "".join(map(_fallback_char, filename))
    return fallback or _FALLBACK_EMPTY


@lru_cache(maxsize=4096)
def _fallback_char(char: str) -> str:
    """The stand-in for one character (cached: names repeat the same few scripts)."""
    if _safe_ascii(char):
        return char
    decomposed = "".join(
        c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
    )
    if decomposed and decomposed.isascii():
        # An ASCII decomposition may still hold unsafe characters (FULLWIDTH QUOTATION MARK -> '"').
        return "".join(c if _safe_ascii(c) else _FALLBACK_SUBSTITUTE for c in decomposed)
    return _FALLBACK_SUBSTITUTE


def _safe_ascii(char: str) -> bool:
    return " " <= char <= "~" and char not in _FALLBACK_UNSAFE
