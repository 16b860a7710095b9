"""Query parameters (§5, §7): every 400 rule, and what is accepted."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from files_service.jsonapi.errors import ApiError, ApiErrorGroup, bad_parameter, error_document
from files_service.jsonapi.query import (
    DEFAULT_PAGE_SIZE,
    QueryOptions,
    api_version_param,
    parse_query,
    whole_number,
)

KNOWN_TYPES = {
    "file": {"filename", "content-type", "byte-size", "checksum", "metadata", "created-at",
             "url", "url-expires-at"},
    "api-key": {"name", "status", "file-url-ttl", "api-version", "created-at"},
    "webhook": {"url", "status", "file-url-ttl", "api-version", "created-at"},
    "organization": {"name", "created-at"},
}
RELATIONSHIPS = {
    "file": {"organization": "organization", "created-by": "api-key"},
    "api-key": {"organization": "organization"},
    "webhook": {"organization": "organization"},
}
FILE_A, FILE_B = "file_" + "a" * 22, "file_" + "b" * 22
KEY = "key_" + "k" * 22


def _colour(value: str) -> str:
    if not value:
        raise bad_parameter("colour-name", "colour-name must not be empty.")
    return value.upper()


COLOUR = {"colour-name": _colour}  # an endpoint's own parameter, for ``extra``


def parse(args: list[tuple[str, str]], **overrides: Any) -> QueryOptions:
    options: dict[str, Any] = {
        "is_list": False, "known_types": KNOWN_TYPES, "relationships": RELATIONSHIPS,
        "primary_type": "file",
    }
    options.update(overrides)
    return parse_query(args, **options)


# Every refusal: (args, overrides, parameter named in source, code).
REFUSALS: list[tuple[list[tuple[str, str]], dict[str, Any], str, str]] = [
    # include
    ([("include", "organization")], {"is_list": True}, "include", "unsupported_parameter"),
    ([("include", "")], {"is_list": True}, "include", "unsupported_parameter"),
    ([("include", "created-by.organization.name")], {}, "include", "invalid_parameter"),
    ([("include", "a.b.c")], {}, "include", "invalid_parameter"),
    ([("include", "owner")], {}, "include", "invalid_parameter"),
    ([("include", "created-by.owner")], {}, "include", "invalid_parameter"),
    ([("include", "organization.created-by")], {}, "include", "invalid_parameter"),
    ([("include", "organization,")], {}, "include", "invalid_parameter"),
    ([("include", ".organization")], {}, "include", "invalid_parameter"),
    ([("include", "created-by.")], {}, "include", "invalid_parameter"),
    ([("include", " organization")], {}, "include", "invalid_parameter"),
    ([("include", "organization")], {"primary_type": "organization"}, "include",
     "invalid_parameter"),
    # fields
    ([("fields[nope]", "name")], {}, "fields[nope]", "invalid_parameter"),
    ([("fields[]", "name")], {}, "fields[]", "invalid_parameter"),
    ([("fields[file]", "nope")], {}, "fields[file]", "invalid_parameter"),
    ([("fields[file]", "filename,,url")], {}, "fields[file]", "invalid_parameter"),
    ([("fields[file]", "filename,")], {}, "fields[file]", "invalid_parameter"),
    ([("fields[file]", "metadata.")], {}, "fields[file]", "invalid_parameter"),
    ([("fields[file]", "filename.x")], {}, "fields[file]", "invalid_parameter"),
    ([("fields[organization]", "metadata.x")], {}, "fields[organization]", "invalid_parameter"),
    ([("fields[file]", "Filename")], {}, "fields[file]", "invalid_parameter"),
    # sort and reserved names
    ([("sort", "created-at")], {}, "sort", "unsupported_parameter"),
    ([("sort", "")], {"is_list": True}, "sort", "unsupported_parameter"),
    ([("foo", "1")], {}, "foo", "unsupported_parameter"),
    ([("fields", "filename")], {}, "fields", "unsupported_parameter"),
    ([("page", "2")], {"is_list": True}, "page", "unsupported_parameter"),
    ([("filter", "x")], {"is_list": True}, "filter", "unsupported_parameter"),
    ([("included", "organization")], {}, "included", "unsupported_parameter"),
    ([("foo[bar]", "1")], {}, "foo[bar]", "unsupported_parameter"),
    ([("fields[file", "filename")], {}, "fields[file", "unsupported_parameter"),
    ([("page[size][x]", "1")], {"is_list": True}, "page[size][x]", "unsupported_parameter"),
    ([("fields]file[", "x")], {}, "fields]file[", "unsupported_parameter"),
    # near misses of our own names
    ([("api_version", "2023-01-05")], {}, "api_version", "unsupported_parameter"),
    ([("Include", "organization")], {}, "Include", "unsupported_parameter"),
    ([("Fields[file]", "filename")], {}, "Fields[file]", "unsupported_parameter"),
    # pagination
    ([("page[size]", "0")], {"is_list": True}, "page[size]", "invalid_parameter"),
    ([("page[size]", "101")], {"is_list": True}, "page[size]", "invalid_parameter"),
    ([("page[size]", "abc")], {"is_list": True}, "page[size]", "invalid_parameter"),
    ([("page[size]", "")], {"is_list": True}, "page[size]", "invalid_parameter"),
    ([("page[size]", "1.5")], {"is_list": True}, "page[size]", "invalid_parameter"),
    ([("page[size]", "-1")], {"is_list": True}, "page[size]", "invalid_parameter"),
    ([("page[size]", "+5")], {"is_list": True}, "page[size]", "invalid_parameter"),
    ([("page[size]", " 5")], {"is_list": True}, "page[size]", "invalid_parameter"),
    ([("page[size]", "\u0665")], {"is_list": True}, "page[size]", "invalid_parameter"),
    ([("page[size]", "1" * 5000)], {"is_list": True}, "page[size]", "invalid_parameter"),
    ([("page[after]", "")], {"is_list": True}, "page[after]", "invalid_parameter"),
    ([("page[after]", "x" * 1001)], {"is_list": True}, "page[after]", "invalid_parameter"),
    ([("page[number]", "2")], {"is_list": True}, "page[number]", "unsupported_parameter"),
    ([("page[size]", "10")], {}, "page[size]", "unsupported_parameter"),
    ([("page[after]", "c")], {}, "page[after]", "unsupported_parameter"),
    # filters
    ([("filter[id]", "")], {"is_list": True}, "filter[id]", "invalid_parameter"),
    ([("filter[id]", ",".join([FILE_A] * 101))], {"is_list": True}, "filter[id]",
     "invalid_parameter"),
    ([("filter[id]", "file_bad")], {"is_list": True}, "filter[id]", "invalid_parameter"),
    ([("filter[id]", f"{FILE_A},,{FILE_B}")], {"is_list": True}, "filter[id]",
     "invalid_parameter"),
    ([("filter[id]", f"{FILE_A} ")], {"is_list": True}, "filter[id]", "invalid_parameter"),
    ([("filter[id]", KEY)], {"is_list": True, "id_prefix": "file"}, "filter[id]",
     "invalid_parameter"),
    ([("filter[name]", "x")], {"is_list": True}, "filter[name]", "unsupported_parameter"),
    ([("filter[id]", FILE_A)], {}, "filter[id]", "unsupported_parameter"),
    # an endpoint's own parameters (extra)
    ([("colour-name", "")], {"extra": COLOUR}, "colour-name", "invalid_parameter"),
    ([("Colour_Name", "red")], {"extra": COLOUR}, "Colour_Name", "unsupported_parameter"),
    # given twice
    ([("colour-name", "red"), ("colour-name", "red")], {"extra": COLOUR}, "colour-name",
     "invalid_parameter"),
    ([("include", "organization"), ("include", "organization")], {}, "include",
     "invalid_parameter"),
    ([("fields[file]", "url"), ("fields[file]", "filename")], {}, "fields[file]",
     "invalid_parameter"),
    ([("api-version", "2023-01-05"), ("api-version", "2023-01-05")], {}, "api-version",
     "invalid_parameter"),
    ([("page[size]", "5"), ("page[size]", "6")], {"is_list": True}, "page[size]",
     "invalid_parameter"),
]


@pytest.mark.parametrize(
    ("args", "overrides", "parameter", "code"),
    REFUSALS,
    ids=[f"{i}-{r[2]}" for i, r in enumerate(REFUSALS)],
)
def test_refusals(
    args: list[tuple[str, str]], overrides: dict[str, Any], parameter: str, code: str
) -> None:
    with pytest.raises(ApiError) as caught:
        parse(args, **overrides)
    error = caught.value
    assert len(error.errors) == 1, [e.detail for e in error.errors]
    assert error.status == 400
    assert error.code == code
    assert error.source == {"parameter": parameter}
    assert error.detail


def test_every_refusal_is_a_valid_error_document(validate: Any) -> None:
    for args, overrides, _, _ in REFUSALS:
        with pytest.raises(ApiError) as caught:
            parse(args, **overrides)
        validate(error_document([caught.value]))


def test_every_problem_is_reported(validate: Any) -> None:
    with pytest.raises(ApiErrorGroup) as caught:
        parse([("sort", "x"), ("colour-name", ""), ("include", "nope"), ("utm-source", "ad")],
              extra=COLOUR)
    sources = [e.source for e in caught.value.errors]
    assert sources == [
        {"parameter": "sort"}, {"parameter": "colour-name"}, {"parameter": "include"}
    ]
    assert caught.value.status == 400
    document = error_document([caught.value])
    validate(document)
    assert len(document["errors"]) == 3


def test_a_bad_repeated_parameter_is_reported_once() -> None:
    with pytest.raises(ApiError) as caught:
        parse([("sort", "a"), ("sort", "b")])
    assert len(caught.value.errors) == 1 and caught.value.code == "unsupported_parameter"


def test_defaults() -> None:
    options = parse([])
    assert options == QueryOptions()
    assert options.include is None
    assert options.fields == {}
    assert options.page_size == DEFAULT_PAGE_SIZE == 25
    assert options.page_after is None and options.filter_ids is None
    assert options.api_version is None and options.extra == {}


def test_empty_include_asks_for_an_empty_included() -> None:
    assert parse([("include", "")]).include == ()


def test_include_paths_checked_and_deduplicated() -> None:
    options = parse([("include", "organization,created-by.organization,organization,created-by")])
    assert options.include == ("organization", "created-by.organization", "created-by")
    assert parse([("include", "organization")], primary_type="api-key").include == (
        "organization",
    )


def test_fieldsets() -> None:
    options = parse([
        ("fields[file]", "filename,metadata.project,metadata.a.b,filename"),
        ("fields[organization]", ""),
        ("fields[api-key]", "name,organization"),  # a relationship name is accepted
    ])
    assert options.fields == {
        "file": ("filename", "metadata.project", "metadata.a.b"),
        "organization": (),
        "api-key": ("name", "organization"),
    }


def test_wants_attribute() -> None:
    options = parse([("fields[file]", "filename,metadata.k")])
    assert options.wants_attribute("file", "filename")
    assert options.wants_attribute("file", "metadata")
    assert not options.wants_attribute("file", "url")
    assert options.wants_attribute("organization", "name")
    assert not parse([("fields[file]", "")]).wants_attribute("file", "url")


def test_list_parameters() -> None:
    options = parse(
        [("page[size]", "100"), ("page[after]", "opaque-cursor"),
         ("filter[id]", f"{FILE_A},{FILE_B},{FILE_A}"), ("fields[file]", "url")],
        is_list=True, id_prefix="file",
    )
    assert options.page_size == 100
    assert options.page_after == "opaque-cursor"
    assert options.filter_ids == (FILE_A, FILE_B)
    assert parse([("page[size]", "1")], is_list=True).page_size == 1
    hundred = ",".join("file_" + f"{i:022d}" for i in range(100))
    assert len(parse([("filter[id]", hundred)], is_list=True).filter_ids or ()) == 100


def test_an_endpoints_own_parameters_are_parsed_by_their_parser() -> None:
    options = parse(
        [("colour-name", "red"), ("api-version", "whatever-resolution-checks-this")],
        extra=COLOUR,
    )
    assert options.extra == {"colour-name": "RED"}
    assert options.api_version == "whatever-resolution-checks-this"
    # Without the endpoint's parameters, the same name is an implementation-specific one.
    assert parse([("colour-name", "red")]).extra == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", None), ("1", 1), ("100", 100), ("101", None), ("", None), ("+5", None),
     (" 5", None), ("1.5", None), ("1e3", None), ("\u0665", None), ("1" * 5000, None)],
)
def test_whole_number(value: str, expected: int | None) -> None:
    assert whole_number(value, 1, 100) == expected


def test_api_version_is_allowed_on_every_endpoint() -> None:
    assert parse([("api-version", "2023-01-05")], primary_type="organization").api_version == (
        "2023-01-05"
    )


@pytest.mark.parametrize(
    "name", ["utm-source", "_", "access_token", "Foo[bar]", "x-trace", "cache_buster", ""]
)
def test_implementation_specific_parameters_are_ignored(name: str) -> None:
    assert parse([(name, "1"), (name, "2")]) == QueryOptions()


def test_api_version_param() -> None:
    assert api_version_param([]) is None
    assert api_version_param([("x", "1"), ("api-version", "2023-01-05")]) == "2023-01-05"
    with pytest.raises(ApiError) as caught:
        api_version_param([("api-version", "a"), ("api-version", "a")])
    assert caught.value.source == {"parameter": "api-version"}


NAMES = st.one_of(
    st.sampled_from([
        "include", "sort", "fields[file]", "fields[api-key]", "fields[x]", "fields", "page[size]",
        "page[after]", "page[x]", "filter[id]", "filter[x]", "colour-name", "colour_name",
        "api-version", "foo", "foo[bar]", "utm-source", "fields[file",
    ]),
    st.text(max_size=20),
)
VALUES = st.one_of(
    st.sampled_from([
        "", "organization", "created-by.organization", "a.b.c", "filename,metadata.k", "25",
        "0", "101", FILE_A, f"{FILE_A},{FILE_B}", "red", "60",
        "metadata.", ",", ".",
    ]),
    st.text(max_size=40),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    args=st.lists(st.tuples(NAMES, VALUES), max_size=8),
    is_list=st.booleans(),
    primary=st.sampled_from(sorted(KNOWN_TYPES)),
)
def test_parse_query_raises_only_api_errors(
    args: list[tuple[str, str]], is_list: bool, primary: str
) -> None:
    try:
        options = parse(args, is_list=is_list, primary_type=primary, extra=COLOUR)
    except ApiError as error:
        assert error.status == 400
        for one in error.errors:
            assert one.source is not None and set(one.source) == {"parameter"}
            assert one.source["parameter"] in {name for name, _ in args}
        return
    assert isinstance(options, QueryOptions)
    assert 1 <= options.page_size <= 100


# -- lists that are not paginated ---------------------------------------------------------------


def test_a_list_that_is_not_paginated_refuses_page_and_filter() -> None:
    for name in ("page[size]", "page[after]", "filter[id]"):
        with pytest.raises(ApiError) as caught:
            parse([(name, "1")], is_list=True, paginated=False)
        assert caught.value.source == {"parameter": name}
        assert "paginated list endpoints" in caught.value.detail
