"""Conditional and range requests for a download (SPEC §4, RFC 9110 §13 and §14).

:func:`evaluate` turns the request's ``Range``, ``If-Range``, ``If-None-Match`` and
``If-Modified-Since`` header strings, plus what is known of the representation (its strong
ETag, modification time and size), into a :class:`Decision`: which status to answer with and
which bytes to send. It is pure (no Flask, no I/O) and never raises on header input, whatever
the string: a client, not the service, controls those bytes.

Werkzeug's parsers are reused wherever they agree with RFC 9110 (``parse_range_header`` for a
single range-spec, ``Range.range_for_length`` for the common case, ``is_resource_modified``
for ``If-None-Match`` / ``If-Modified-Since``, ``parse_etags``, ``unquote_etag``,
``parse_date``). Where Werkzeug departs from the RFC, the RFC wins (SPEC §4); each place is
marked ``RFC 9110 departure`` below:

1. a suffix range longer than the file (``bytes=-500`` on 100 bytes) selects the whole file
   (§14.1.1); ``Range.range_for_length`` finds it unsatisfiable;
2. a range unit other than ``bytes`` is ignored (§14.2); Werkzeug parses it and then finds no
   satisfiable range, so ``send_file`` answers 416;
3. empty list elements (``bytes=0-5,``) are skipped (§5.6.1); Werkzeug calls the header
   malformed;
4. ``bytes=-0`` is a valid but unsatisfiable range (§14.1.1, 416); Werkzeug calls it malformed;
5. ``If-Range`` uses the strong comparison, so a weak tag never matches (§13.1.5); Werkzeug's
   ``parse_if_range_header`` drops the weakness marker and also takes an unquoted string for
   an entity-tag;
6. an ``If-Range`` date must equal ``Last-Modified`` exactly (§13.1.5); ``is_resource_modified``
   accepts any later date too;
7. an ``If-Modified-Since`` is ignored whenever ``If-None-Match`` is present (§13.1.3), even
   one that lists no usable tag;
8. ``werkzeug.http.parse_date`` lets ``OverflowError`` escape from the standard library on a
   huge zone offset (``... +99999999999999999999``), so dates go through :func:`_http_date_seconds`.

Several ranges are answered with the whole file (200), which RFC 9110 §14.2 allows ("a server
MAY ignore the Range header field"), and spares the service multipart/byteranges bodies.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from werkzeug.http import parse_date, parse_range_header, unquote_etag
from werkzeug.sansio.http import is_resource_modified

__all__ = ["Decision", "evaluate"]

# RFC 9110 §14.1.1: suffix-length is 1*DIGIT; all zeroes is a valid, unsatisfiable suffix.
_ZERO_SUFFIX = re.compile(r"-0+", re.ASCII)
_OWS = " \t"


@dataclass(frozen=True, slots=True)
class Decision:
    """What to answer to a GET or HEAD of a representation.

    ``start`` and ``end`` are the inclusive byte offsets to send: ``0`` and ``size - 1`` for a
    200, the selected range for a 206. A 304 or 416 sends no bytes of the representation, and
    then ``start, end = 0, -1`` so that :attr:`length` is 0. ``content_range`` is the
    ``Content-Range`` header value for a 206 (``bytes s-e/size``) or a 416 (``bytes */size``),
    else None.
    """

    status: int
    start: int
    end: int
    content_range: str | None = None

    @property
    def length(self) -> int:
        """How many bytes of the representation the response carries (its Content-Length
        for a GET; a HEAD announces the same without sending them)."""
        return self.end - self.start + 1


_NOT_MODIFIED = Decision(304, 0, -1)


def evaluate(
    *,
    method: str,
    size: int,
    etag: str,
    last_modified: float,
    range_header: str | None,
    if_range: str | None,
    if_none_match: str | None,
    if_modified_since: str | None,
) -> Decision:
    """Decide the status and byte span of a GET or HEAD, in RFC 9110 §13.2.2 order.

    :param method: ``"GET"`` or ``"HEAD"``; anything else is a programming error
        (``ValueError``): the download view answers other methods with 405 first.
    :param size: the representation's length in bytes (``>= 0``).
    :param etag: its strong entity-tag, quoted (``'"abc"'``), as sent in ``ETag``.
    :param last_modified: its modification time, Unix seconds; HTTP dates have whole
        seconds, so it is compared rounded down, as ``Last-Modified`` shows it.
    :param range_header: ``Range``; like the three below, the raw request header or None
        where absent. Any string is accepted: a malformed value is ignored, never an
        exception.
    :param if_range: ``If-Range``; a blank one counts as absent.
    :param if_none_match: ``If-None-Match``; a blank one counts as absent.
    :param if_modified_since: ``If-Modified-Since``.
    :return: 304 where ``If-None-Match`` (or, without it, ``If-Modified-Since``) says the
        client's copy is current; else, for a GET with an applicable ``Range``, 206 or 416;
        else 200 with the whole representation.
    """
    if method not in ("GET", "HEAD"):
        raise ValueError(f"conditional GET/HEAD only, not {method!r}")
    if size < 0:
        raise ValueError(f"size must be >= 0, not {size}")

    # Steps 1-2 of §13.2.2 (If-Match, If-Unmodified-Since, which would answer 412) are not
    # offered by downloads: SPEC §4 names only the three below. Steps 3-4 come first.
    if _not_modified(etag, last_modified, if_none_match, if_modified_since):
        return _NOT_MODIFIED

    whole = Decision(200, 0, size - 1)
    # §14.2: range handling is defined for GET only; a HEAD describes the full 200.
    if method != "GET" or range_header is None:
        return whole
    # §13.1.5 / §13.2.2 step 5: when If-Range is false, ignore Range and send the whole file,
    # even where the range would have been unsatisfiable. A blank If-Range counts as absent,
    # so that a caller passing "" for a missing header does not disable ranges.
    if if_range and if_range.strip(_OWS) and not _if_range_holds(if_range, etag, last_modified):
        return whole
    return _apply_range(range_header, size) or whole


def _not_modified(
    etag: str, last_modified: float, if_none_match: str | None, if_modified_since: str | None
) -> bool:
    """True where the client's cached copy is current (§13.1.2, §13.1.3)."""
    inm = if_none_match.strip(_OWS) if if_none_match is not None else ""
    ims = if_modified_since
    if inm:
        # RFC 9110 departure (7): §13.1.3 says to ignore If-Modified-Since whenever
        # If-None-Match is present; Werkzeug still applies it when If-None-Match lists
        # nothing it can parse.
        ims = None
    elif _http_date_seconds(ims) is None:
        # RFC 9110 departure (8): a date that would make Werkzeug's parse_date raise (or
        # that is just malformed, which §13.1.3 says to ignore) never reaches it.
        ims = None
    if not inm and ims is None:
        return False
    # is_resource_modified does the rest as §13.1 wants: weak comparison for
    # If-None-Match with `*` matching, and If-Modified-Since compared at whole seconds.
    return not is_resource_modified(
        http_if_none_match=inm or None,
        http_if_modified_since=ims,
        etag=etag,
        last_modified=_utc(last_modified),
    )


def _if_range_holds(if_range: str, etag: str, last_modified: float) -> bool:
    """Whether an If-Range precondition holds, so that Range applies (§13.1.5).

    RFC 9110 departures (5, 6): Werkzeug's ``parse_if_range_header`` and
    ``is_resource_modified(ignore_if_range=False)`` would let a weak or an unquoted tag match,
    and any date at or after Last-Modified; the RFC wants a strong comparison of tags and an
    exact match of dates. An ``If-Range`` that is neither a quoted entity-tag nor a date
    does not hold, which is the safe side: the client gets the
    whole, current representation instead of a piece it might splice into something else.
    """
    value = if_range.strip(_OWS)
    if value.startswith(("W/", '"')):
        tag, weak = unquote_etag(value)
        ours, our_weak = unquote_etag(etag)
        quoted = len(value) >= 2 and value.endswith('"') and '"' not in tag
        return quoted and not weak and not our_weak and tag == ours
    date = _http_date_seconds(value)
    return date is not None and date == math.floor(last_modified)


def _apply_range(range_header: str, size: int) -> Decision | None:
    """The 206 or 416 a GET's Range asks for, or None where Range is to be ignored (200)."""
    unit, sep, range_set = range_header.partition("=")
    if not sep:
        return None  # malformed: ignored (§14.2 allows ignoring Range altogether)
    # RFC 9110 departure (2): §14.2 says to ignore a Range with a unit we don't support;
    # Werkzeug keeps any unit and then finds nothing satisfiable, so send_file would say 416.
    # Units are case-insensitive (§14.1); the OWS tolerance is Werkzeug's, kept.
    if unit.strip(_OWS).lower() != "bytes":
        return None

    # RFC 9110 departure (3): §5.6.1 asks recipients to skip empty list elements
    # (`bytes=0-5,`); Werkzeug's parser calls the header malformed.
    specs = [spec for part in range_set.split(",") if (spec := part.strip(_OWS))]
    if len(specs) != 1:
        # No spec (malformed) or several: ignore Range and send the whole file, as §14.2
        # allows. Werkzeug rejects overlapping or unordered sets, which are ignored here too.
        return None
    spec = specs[0]
    unsatisfiable = Decision(416, 0, -1, f"bytes */{size}")

    # RFC 9110 departure (4): `-0` is a valid suffix-range that selects nothing, so the set is
    # unsatisfiable (§14.1.1: 416); Werkzeug's parser calls it malformed (ignored, 200).
    if _ZERO_SUFFIX.fullmatch(spec):
        return unsatisfiable

    # Werkzeug parses one range-spec right: digits only (no `+`, `_`, non-ASCII digits),
    # last-pos >= first-pos, numbers of any size (beyond Python's int-string limit the spec
    # counts as malformed, which §14.2 lets us ignore).
    parsed = parse_range_header(f"bytes={spec}")
    if parsed is None:
        return None  # malformed range-spec: ignored
    first, stop = parsed.ranges[0]

    if first < 0:  # a suffix-range: the last -first bytes
        if size == 0:
            # §14.1.1 calls a non-zero suffix on an empty representation satisfiable, but
            # there is no byte to put in a 206 and Content-Range cannot say "none": answer
            # the (empty) whole representation with 200, as §14.2 allows.
            return None
        # RFC 9110 departure (1): "If the selected representation is shorter than the
        # specified suffix-length, the entire representation is used" (§14.1.1);
        # Range.range_for_length calls such a range unsatisfiable (416).
        start = max(size + first, 0)
        return _partial(start, size - 1, size)

    # first-pos form: Werkzeug gets this right — satisfiable iff first-pos < size, and the
    # end is clamped to the last byte (§14.1.1, §14.1.3).
    span = parsed.range_for_length(size)
    if span is None:
        return unsatisfiable
    start, stop = span
    return _partial(start, stop - 1, size)


def _partial(start: int, end: int, size: int) -> Decision:
    """A 206 for the inclusive span ``start..end`` of ``size`` bytes."""
    return Decision(206, start, end, f"bytes {start}-{end}/{size}")


def _http_date_seconds(value: str | None) -> int | None:
    """Unix seconds of an HTTP-date, or None where there is none or it is malformed.

    Wraps ``werkzeug.http.parse_date`` (which takes IMF-fixdate, RFC 850 and asctime dates,
    naive ones as UTC) because the standard library parser under it can raise
    ``OverflowError`` on a huge zone offset, which Werkzeug does not catch.
    """
    if not value:
        return None
    try:
        parsed = parse_date(value)
        return None if parsed is None else math.floor(parsed.timestamp())
    except (ValueError, TypeError, OverflowError, IndexError):
        return None


def _utc(timestamp: float) -> datetime:
    """The aware UTC datetime ``is_resource_modified`` compares with (it drops the
    microseconds itself, i.e. rounds down to the second as Last-Modified does)."""
    return datetime.fromtimestamp(timestamp, UTC)
