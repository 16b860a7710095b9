"""Ranges and conditional requests (SPEC §4, RFC 9110 §13-14), and where Werkzeug differs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from werkzeug.http import http_date, parse_date, parse_if_range_header, parse_range_header

from files_service.delivery.conditional import Decision, evaluate

SIZE = 1000
ETAG = '"abc"'
MODIFIED = 1_700_000_000.75  # Last-Modified shows it as ... 00:00 (whole seconds)
SAME_DATE = http_date(1_700_000_000)
LATER = http_date(1_700_000_001)
EARLIER = http_date(1_699_999_999)
# The standard library raises OverflowError on this zone offset (werkzeug.http.parse_date
# does not catch it).
OVERFLOW_DATE = "Sun, 06 Nov 1994 08:49:37 +99999999999999999999"


def ev(**headers: Any) -> Decision:
    """evaluate() for a GET of SIZE bytes, with the given overrides."""
    args: dict[str, Any] = {
        "method": "GET",
        "size": SIZE,
        "etag": ETAG,
        "last_modified": MODIFIED,
        "range_header": None,
        "if_range": None,
        "if_none_match": None,
        "if_modified_since": None,
    }
    args.update(headers)
    return evaluate(**args)


WHOLE = Decision(200, 0, SIZE - 1)
NOT_MODIFIED = Decision(304, 0, -1)
UNSATISFIABLE = Decision(416, 0, -1, f"bytes */{SIZE}")


def partial(start: int, end: int, size: int = SIZE) -> Decision:
    return Decision(206, start, end, f"bytes {start}-{end}/{size}")


# -- Range ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("range_header", "expected"),
    [
        (None, WHOLE),
        ("bytes=0-499", partial(0, 499)),
        ("bytes=0-0", partial(0, 0)),
        ("bytes=999-999", partial(999, 999)),
        ("bytes=500-", partial(500, 999)),  # open-ended
        ("bytes=-200", partial(800, 999)),  # suffix
        ("bytes=-1000", partial(0, 999)),
        ("bytes=-1001", partial(0, 999)),  # suffix longer than the file: all of it
        ("bytes=-99999999999999999999999", partial(0, 999)),
        ("bytes=900-5000", partial(900, 999)),  # end clamped to the last byte
        ("bytes=0-99999999999999999999999", partial(0, 999)),
        ("BYTES=1-2", partial(1, 2)),  # range units are case-insensitive
        ("bytes=0-5,", partial(0, 5)),  # empty list elements are skipped
        ("bytes=, 0-5 ,,", partial(0, 5)),
        ("bytes=1000-", UNSATISFIABLE),  # first-pos at or past the end
        ("bytes=1000-2000", UNSATISFIABLE),
        ("bytes=99999999999999999999999-", UNSATISFIABLE),
        ("bytes=-0", UNSATISFIABLE),  # a valid suffix that selects nothing
        ("bytes=-000", UNSATISFIABLE),
        ("items=0-5", WHOLE),  # another unit: ignored
        ("none", WHOLE),
        ("bytes=0-1,5-6", WHOLE),  # several ranges: the whole file
        ("bytes=0-1,2000-3000", WHOLE),
        ("bytes=5-10,0-3", WHOLE),
        ("bytes=-0,-0", WHOLE),
        # malformed: ignored
        ("", WHOLE),
        ("bytes", WHOLE),
        ("bytes=", WHOLE),
        ("bytes=,", WHOLE),
        ("bytes=abc", WHOLE),
        ("bytes=5", WHOLE),
        ("bytes=5-3", WHOLE),  # last-pos before first-pos makes the range-spec invalid
        ("bytes=+1-2", WHOLE),
        ("bytes=1-+2", WHOLE),
        ("bytes=1-2-3", WHOLE),
        ("bytes=--1", WHOLE),
        ("bytes=-", WHOLE),
        ("bytes=0x1-2", WHOLE),
        ("bytes=1_0-20", WHOLE),
        ("bytes=\u0661-\u0662", WHOLE),  # non-ASCII (Arabic-Indic) digits
        ("bytes=0-5\r\n", WHOLE),
        ("bytes=0-5\x00", WHOLE),
        ("bytes=1" + "0" * 5000 + "-", WHOLE),  # beyond Python's int-string limit
    ],
)
def test_range(range_header: str | None, expected: Decision) -> None:
    assert ev(range_header=range_header) == expected


def test_head_ignores_range() -> None:
    assert ev(method="HEAD", range_header="bytes=0-1") == WHOLE
    assert ev(method="HEAD", range_header="bytes=5000-") == WHOLE


@pytest.mark.parametrize(
    ("range_header", "expected"),
    [
        (None, Decision(200, 0, -1)),
        ("bytes=0-", Decision(416, 0, -1, "bytes */0")),
        ("bytes=0-0", Decision(416, 0, -1, "bytes */0")),
        ("bytes=-0", Decision(416, 0, -1, "bytes */0")),
        # RFC 9110 §14.1.1 calls this satisfiable, yet there is no byte for a 206: the whole
        # (empty) representation.
        ("bytes=-1", Decision(200, 0, -1)),
        ("items=0-", Decision(200, 0, -1)),
    ],
)
def test_zero_size(range_header: str | None, expected: Decision) -> None:
    decision = ev(size=0, range_header=range_header)
    assert decision == expected
    assert decision.length == 0


def test_length() -> None:
    assert WHOLE.length == SIZE
    assert partial(10, 19).length == 10
    assert NOT_MODIFIED.length == 0
    assert UNSATISFIABLE.length == 0


# -- If-Range ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("if_range", "expected"),
    [
        (ETAG, partial(0, 9)),
        (f" {ETAG} ", partial(0, 9)),
        (SAME_DATE, partial(0, 9)),  # exactly Last-Modified, at second precision
        ("", partial(0, 9)),  # blank: as if absent
        ('"other"', WHOLE),
        ('W/"abc"', WHOLE),  # a weak tag never matches in the strong comparison
        ('w/"abc"', WHOLE),
        ("abc", WHOLE),  # not an entity-tag (unquoted)
        ('"abc', WHOLE),
        ('"a"bc"', WHOLE),
        (LATER, WHOLE),  # a later date is not an exact match
        (EARLIER, WHOLE),
        (OVERFLOW_DATE, WHOLE),
        ("garbage", WHOLE),
    ],
)
def test_if_range(if_range: str, expected: Decision) -> None:
    assert ev(range_header="bytes=0-9", if_range=if_range) == expected


def test_failed_if_range_sends_the_whole_file_even_for_an_unsatisfiable_range() -> None:
    assert ev(range_header="bytes=5000-", if_range='"other"') == WHOLE
    assert ev(range_header="bytes=5000-", if_range=ETAG) == UNSATISFIABLE


def test_if_range_without_range_is_ignored() -> None:
    assert ev(if_range=ETAG) == WHOLE
    assert ev(if_range='"other"') == WHOLE


def test_if_range_applies_to_a_suffix_range() -> None:
    assert ev(range_header="bytes=-5000", if_range=ETAG) == partial(0, 999)
    assert ev(range_header="bytes=-5000", if_range='"old"') == WHOLE


# -- If-None-Match / If-Modified-Since ----------------------------------------------------------


@pytest.mark.parametrize(
    ("if_none_match", "if_modified_since", "expected"),
    [
        (ETAG, None, NOT_MODIFIED),
        ('W/"abc"', None, NOT_MODIFIED),  # weak comparison
        ('"x", W/"y", "abc"', None, NOT_MODIFIED),
        ("*", None, NOT_MODIFIED),
        (" * ", None, NOT_MODIFIED),
        ('"other"', None, WHOLE),
        ('"ab"', None, WHOLE),
        (None, SAME_DATE, NOT_MODIFIED),  # 00:00.75 is 00:00 at second precision
        (None, LATER, NOT_MODIFIED),
        (None, EARLIER, WHOLE),
        (None, "yesterday", WHOLE),  # malformed: ignored
        (None, OVERFLOW_DATE, WHOLE),
        (None, "", WHOLE),
        ('"other"', SAME_DATE, WHOLE),  # If-None-Match present: If-Modified-Since ignored
        (",", SAME_DATE, WHOLE),  # ... even one without a usable tag
        ("", SAME_DATE, NOT_MODIFIED),  # a blank one counts as absent
        (ETAG, EARLIER, NOT_MODIFIED),
    ],
)
def test_not_modified(
    if_none_match: str | None, if_modified_since: str | None, expected: Decision
) -> None:
    assert ev(if_none_match=if_none_match, if_modified_since=if_modified_since) == expected


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_not_modified_wins_over_range(method: str) -> None:
    assert ev(method=method, if_none_match=ETAG, range_header="bytes=0-1") == NOT_MODIFIED
    assert ev(method=method, if_modified_since=LATER, range_header="bytes=5000-") == NOT_MODIFIED


def test_not_modified_for_an_empty_file() -> None:
    assert ev(size=0, if_none_match=ETAG) == NOT_MODIFIED


@pytest.mark.parametrize("method", ["POST", "OPTIONS", "get", ""])
def test_other_methods_are_a_programming_error(method: str) -> None:
    with pytest.raises(ValueError, match="GET/HEAD"):
        ev(method=method)


def test_negative_size_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="size"):
        ev(size=-1)


# -- where Werkzeug departs from RFC 9110 -----------------------------------------------------
# These pin down Werkzeug's own behaviour that conditional.py works around. Should one start
# failing after a Werkzeug upgrade, the matching wrapper may be simplified.


def test_werkzeug_finds_a_long_suffix_unsatisfiable() -> None:
    parsed = parse_range_header("bytes=-5000")
    assert parsed is not None and parsed.range_for_length(SIZE) is None


def test_werkzeug_keeps_other_units() -> None:
    parsed = parse_range_header("items=0-5")
    assert parsed is not None and parsed.units == "items"
    assert parsed.range_for_length(SIZE) is None  # so send_file would answer 416


def test_werkzeug_rejects_empty_list_elements_and_zero_suffix() -> None:
    assert parse_range_header("bytes=0-5,") is None
    assert parse_range_header("bytes=-0") is None


def test_werkzeug_if_range_drops_weakness_and_takes_unquoted_tags() -> None:
    assert parse_if_range_header('W/"abc"').etag == "abc"
    assert parse_if_range_header("abc").etag == "abc"


def test_werkzeug_parse_date_lets_overflow_escape() -> None:
    with pytest.raises(OverflowError):
        parse_date(OVERFLOW_DATE)


# -- properties --------------------------------------------------------------------------------

_RANGE_ALPHABET = st.sampled_from(list("bytesBYTESitm=-,0123456789 \t\r\n+_x\u0661"))
_ETAG_ALPHABET = st.sampled_from(list('abcW/"*, \t'))
_DATE_ALPHABET = st.sampled_from(list("SunMonNovGMT, :+-0123456789"))


def header(alphabet: st.SearchStrategy[str], *fixed: str) -> st.SearchStrategy[str | None]:
    """None, arbitrary text, text made of the characters that matter, or realistic values."""
    strategies: list[st.SearchStrategy[str | None]] = [
        st.none(),
        st.text(max_size=80),
        st.text(alphabet=alphabet, max_size=40),
    ]
    if fixed:
        strategies.append(st.sampled_from(fixed))
    return st.one_of(strategies)


ranges = st.one_of(
    header(_RANGE_ALPHABET, "bytes=0-", "bytes=-0", "bytes=0-5,", "items=1-2"),
    st.builds(
        "bytes={}-{}".format,
        st.integers(0, 2**70) | st.just(""),
        st.integers(0, 2**70) | st.just(""),
    ),
)
dates = header(_DATE_ALPHABET, SAME_DATE, LATER, EARLIER, OVERFLOW_DATE)


@settings(max_examples=500, deadline=None)
@given(
    method=st.sampled_from(["GET", "HEAD"]),
    size=st.one_of(st.integers(0, 3), st.integers(0, 2**64)),
    last_modified=st.floats(0, 2**33, allow_nan=False),
    range_header=ranges,
    if_range=st.one_of(header(_ETAG_ALPHABET, ETAG), dates),
    if_none_match=header(_ETAG_ALPHABET, ETAG, "*"),
    if_modified_since=dates,
)
@example(
    method="GET", size=10, last_modified=MODIFIED, range_header="bytes=-20",
    if_range=None, if_none_match=None, if_modified_since=OVERFLOW_DATE,
)  # fmt: skip
def test_evaluate_never_raises_and_stays_in_bounds(
    method: str,
    size: int,
    last_modified: float,
    range_header: str | None,
    if_range: str | None,
    if_none_match: str | None,
    if_modified_since: str | None,
) -> None:
    decision = evaluate(
        method=method,
        size=size,
        etag=ETAG,
        last_modified=last_modified,
        range_header=range_header,
        if_range=if_range,
        if_none_match=if_none_match,
        if_modified_since=if_modified_since,
    )
    if decision.status == 206:
        assert method == "GET"
        assert 0 <= decision.start <= decision.end < size
        assert decision.content_range == f"bytes {decision.start}-{decision.end}/{size}"
    elif decision.status == 200:
        assert (decision.start, decision.end, decision.content_range) == (0, size - 1, None)
    elif decision.status == 416:
        assert method == "GET"
        assert decision.content_range == f"bytes */{size}"
        assert decision.length == 0
    else:
        assert decision == NOT_MODIFIED


def rfc9110_range(spec: str, size: int) -> tuple[int, int] | str | None:
    """A direct reading of RFC 9110 §14.1.1-14.1.2 for one well-formed byte-range-spec:
    ``(first, last)``, ``"416"``, or None for "answer the whole representation"."""
    first_text, _, last_text = spec.partition("-")
    if not first_text:  # suffix-range
        length = int(last_text)
        if length == 0:
            return "416"
        if size == 0:
            return None  # satisfiable, yet nothing to send: the (empty) whole
        return max(size - length, 0), size - 1
    first = int(first_text)
    if first >= size:
        return "416"
    last = size - 1 if not last_text else min(int(last_text), size - 1)
    return first, last


@settings(max_examples=400, deadline=None)
@given(
    size=st.one_of(st.integers(0, 20), st.integers(0, 2**40)),
    first=st.one_of(st.integers(0, 25), st.integers(0, 2**41)),
    length=st.one_of(st.integers(0, 25), st.integers(0, 2**41)),
    form=st.sampled_from(["first-last", "first-", "-suffix"]),
)
def test_single_ranges_follow_rfc_9110(size: int, first: int, length: int, form: str) -> None:
    spec = {
        "first-last": f"{first}-{first + length}",
        "first-": f"{first}-",
        "-suffix": f"-{length}",
    }[form]
    expected = rfc9110_range(spec, size)
    decision = ev(size=size, range_header=f"bytes={spec}")
    if expected is None:
        assert decision == Decision(200, 0, size - 1)
    elif expected == "416":
        assert decision == Decision(416, 0, -1, f"bytes */{size}")
    else:
        assert decision == partial(*expected, size=size)
