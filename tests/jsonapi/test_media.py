"""Content negotiation (§7, JSON:API 1.1): 415 for Content-Type, 406 for Accept."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from files_service.jsonapi.errors import ApiError, error_document
from files_service.jsonapi.media import (
    MEDIA_TYPE,
    accept_versions,
    check_accept,
    check_content_type,
    parse_accept,
    parse_media_range,
)

GOOD_CONTENT_TYPES = [
    MEDIA_TYPE,
    "Application/VND.API+JSON",
    f"{MEDIA_TYPE};",
    f'{MEDIA_TYPE}; profile="https://example.com/p"',
    f"{MEDIA_TYPE};profile=https://example.com/p",
]

BAD_CONTENT_TYPES = [
    None,
    "",
    "garbage",
    "application/json",
    "text/plain",
    "multipart/form-data; boundary=x",  # only where the endpoint allows it
    f"{MEDIA_TYPE}; charset=utf-8",
    f"{MEDIA_TYPE}; version=1",
    f'{MEDIA_TYPE}; ext="https://jsonapi.org/ext/atomic"',
    f'{MEDIA_TYPE}; profile="p"; charset=utf-8',
    f"{MEDIA_TYPE}; q=0.5",  # q is no media type parameter of a Content-Type
    f"{MEDIA_TYPE}; =x",
]


@pytest.mark.parametrize("content_type", GOOD_CONTENT_TYPES)
def test_content_type_accepted(content_type: str) -> None:
    check_content_type(content_type)


@pytest.mark.parametrize("content_type", BAD_CONTENT_TYPES)
def test_content_type_refused_with_415(content_type: str | None, validate: Any) -> None:
    with pytest.raises(ApiError) as caught:
        check_content_type(content_type)
    error = caught.value
    assert (error.status, error.code) == (415, "unsupported_media_type")
    assert error.source == {"header": "Content-Type"}
    validate(error_document([error]))


def test_content_type_also_allowed() -> None:
    allowed = {"multipart/form-data"}
    check_content_type("multipart/form-data; boundary=----x", also_allowed=allowed)
    check_content_type(MEDIA_TYPE, also_allowed=allowed)
    with pytest.raises(ApiError) as caught:
        check_content_type("application/json", also_allowed=allowed)
    assert "multipart/form-data" in caught.value.detail


def test_q_is_a_weight_only_in_accept() -> None:
    weighted = parse_media_range(f"{MEDIA_TYPE}; q=0.5", weighted=True)
    assert weighted is not None and weighted.parameters == {} and weighted.q == 0.5
    plain = parse_media_range(f"{MEDIA_TYPE}; q=0.5")
    assert plain is not None and plain.parameters == {"q": "0.5"} and plain.q == 1.0


GOOD_ACCEPTS = [
    None,
    "",
    "garbage",  # no parseable range: ignored
    MEDIA_TYPE,
    "*/*",
    "application/*",
    "application/json",
    "application/json, text/html",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",  # a browser
    "application/vnd.files.2023-01-05+json",
    "application/vnd.files.unstable+json",
    "application/vnd.files.not-a-date+json",  # the date is version resolution's to check
    f"{MEDIA_TYPE}; q=0.5",
    f'{MEDIA_TYPE}; profile="https://example.com/p"',
    f"{MEDIA_TYPE}; charset=utf-8, {MEDIA_TYPE}",
    f'{MEDIA_TYPE}; ext="https://jsonapi.org/ext/atomic", {MEDIA_TYPE}; profile="p"',
    f"{MEDIA_TYPE};q=1.0;foo=bar",  # after q: accept-extensions, not media type parameters
]

BAD_ACCEPTS = [
    f"{MEDIA_TYPE}; charset=utf-8",
    f"{MEDIA_TYPE}; version=2",
    f'{MEDIA_TYPE}; ext="https://jsonapi.org/ext/atomic"',
    f'{MEDIA_TYPE}; ext="a b"; profile="p"',
    f"{MEDIA_TYPE}; charset=utf-8, */*",  # the JSON:API rule is about its own instances
    f"{MEDIA_TYPE}; q=0",
    "text/html",
    "image/png, text/*",
    "text/html, */*;q=0",
    "application/json;q=0",
]


@pytest.mark.parametrize("accept", GOOD_ACCEPTS)
def test_accept_accepted(accept: str | None) -> None:
    check_accept(accept)


@pytest.mark.parametrize("accept", BAD_ACCEPTS)
def test_accept_refused_with_406(accept: str, validate: Any) -> None:
    with pytest.raises(ApiError) as caught:
        check_accept(accept)
    error = caught.value
    assert (error.status, error.code) == (406, "not_acceptable")
    assert error.source == {"header": "Accept"}
    validate(error_document([error]))


def test_parse_accept_keeps_quoted_commas_and_drops_malformed() -> None:
    ranges = parse_accept(f'{MEDIA_TYPE}; profile="a,b", nonsense, text/html;q=0.3, x/y;q=2')
    assert [r.essence for r in ranges] == [MEDIA_TYPE, "text/html"]
    assert ranges[0].parameters == {"profile": "a,b"}
    assert ranges[1].q == 0.3


def test_parse_media_range_unquotes() -> None:
    parsed = parse_media_range(r'a/b; Name="x\"y"')
    assert parsed is not None and parsed.parameters == {"name": 'x"y'}
    assert parse_media_range("a/b; name") is None
    assert parse_media_range("a b/c") is None


@pytest.mark.parametrize(
    ("accept", "versions"),
    [
        (None, []),
        ("application/vnd.files.2023-01-05+json", ["2023-01-05"]),
        ("Application/Vnd.Files.2023-01-05+JSON", ["2023-01-05"]),
        ("application/vnd.files.2023-01-05+json, application/vnd.files.2023-01-05+json;q=0.5",
         ["2023-01-05"]),
        ("application/vnd.files.2023-01-05+json, application/vnd.files.2022-09-01+json",
         ["2023-01-05", "2022-09-01"]),
        ("application/vnd.files.2023-01-05+json;q=0", []),
        ("application/vnd.files.+json", [""]),
        (f"{MEDIA_TYPE}, */*", []),
    ],
)
def test_accept_versions(accept: str | None, versions: list[str]) -> None:
    assert accept_versions(accept) == versions


HEADERS = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.lists(
        st.sampled_from([
            MEDIA_TYPE, "*/*", "text/html", "application/json", "a/b", ";", ",", '"', "\\",
            "; q=0", "; q=1.5", '; ext="x"', "; profile=p", "; charset=utf-8", "=",
            "application/vnd.files.2023-01-05+json",
        ]),
        max_size=6,
    ).map("".join),
)


@settings(max_examples=300, deadline=None)
@given(header=HEADERS)
def test_negotiation_raises_only_api_errors(header: str | None) -> None:
    for check, status in ((check_accept, 406), (check_content_type, 415)):
        try:
            check(header)
        except ApiError as error:
            assert error.status == status
    accept_versions(header)
