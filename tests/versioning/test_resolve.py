"""Version resolution (§6): precedence, closest-earlier, every refusal and its source,
retirement, deprecation headers, and FILES_VERSION_DATES."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from files_service.jsonapi.errors import ApiError, error_document
from files_service.versioning.resolve import (
    Resolution,
    VersionDates,
    deprecation_headers,
    parse_version_dates,
    release_for,
    resolve_version,
    utc_today,
)

TODAY = date(2026, 7, 1)
VERSIONED = "application/vnd.files.{}+json"
DATES = {
    "2022-09-01": VersionDates(date(2026, 6, 1), date(2027, 1, 1)),
    "2023-01-05": VersionDates(date(2027, 1, 1), date(2027, 6, 1)),
}
HEADER = {"header": "Files-Version"}
ACCEPT = {"header": "Accept"}
QUERY = {"parameter": "api-version"}


def resolve(
    header: str | None = None,
    accept: str | None = None,
    query: str | None = None,
    principal: str | None = None,
    **overrides: Any,
) -> Resolution:
    options: dict[str, Any] = {"today": TODAY, "version_dates": {}}
    options.update(overrides)
    return resolve_version(
        header=header, accept=accept, query=query, principal_version=principal, **options
    )


def refusal(**kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        resolve(**kwargs)
    assert caught.value.status == 400
    return caught.value


# -- precedence ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("kwargs", "version", "requested", "explicit", "needs_pin"),
    [
        ({"header": "2023-01-05"}, "2023-01-05", "2023-01-05", True, False),
        ({"header": " 2023-01-05 "}, "2023-01-05", "2023-01-05", True, False),
        ({"accept": VERSIONED.format("2023-01-05")}, "2023-01-05", "2023-01-05", True, False),
        ({"accept": f"application/vnd.api+json, {VERSIONED.format('2022-09-01')};q=0.5"},
         "2022-09-01", "2022-09-01", True, False),
        ({"query": "2022-09-01"}, "2022-09-01", "2022-09-01", True, False),
        ({"header": "2023-01-05", "accept": VERSIONED.format("2023-01-05"),
          "query": "2023-01-05"}, "2023-01-05", "2023-01-05", True, False),
        ({"header": "2023-01-05", "principal": "2022-09-01"}, "2023-01-05", "2023-01-05", True,
         False),
        ({"query": "2025-06-01", "principal": "2022-09-01"}, "2025-06-01", "2025-06-01", True,
         False),
        ({"principal": "2022-09-01"}, "2022-09-01", "2022-09-01", False, False),
        ({"accept": "application/vnd.api+json", "principal": "2023-01-05"}, "2023-01-05",
         "2023-01-05", False, False),
        ({}, "2025-06-01", None, False, True),
        ({"accept": "*/*"}, "2025-06-01", None, False, True),
    ],
)
def test_precedence(
    kwargs: dict[str, Any], version: str, requested: str | None, explicit: bool, needs_pin: bool
) -> None:
    resolution = resolve(**kwargs)
    assert resolution.version == version
    assert resolution.requested == requested
    assert resolution.explicit is explicit
    assert resolution.needs_pin is needs_pin
    assert not resolution.deprecated


@pytest.mark.parametrize(
    ("requested", "served"),
    [
        ("2022-09-01", "2022-09-01"),
        ("2023-01-04", "2022-09-01"),
        ("2023-01-05", "2023-01-05"),
        ("2024-02-29", "2023-01-05"),
        ("2025-05-31", "2023-01-05"),
        ("2025-06-01", "2025-06-01"),
        ("2026-07-01", "2025-06-01"),  # today
    ],
)
def test_closest_earlier_release(requested: str, served: str) -> None:
    for kwargs in ({"header": requested}, {"query": requested},
                   {"accept": VERSIONED.format(requested)}, {"principal": requested}):
        resolution = resolve(**kwargs)
        assert (resolution.version, resolution.requested) == (served, requested)


# -- refusals -------------------------------------------------------------------------------------

MALFORMED = ["2023-1-5", "20230105", "2023-02-30", "yesterday", "", "2023-01-05T00:00",
             "\u0662\u0660\u0662\u0663-01-05", "Unstable", "2023-13-01", "0000-01-01"]


@pytest.mark.parametrize("value", MALFORMED)
@pytest.mark.parametrize(
    ("where", "source"), [("header", HEADER), ("accept", ACCEPT), ("query", QUERY)]
)
def test_malformed_versions(value: str, where: str, source: dict[str, str], validate: Any) -> None:
    if where == "accept" and (":" in value or not value.isascii()):
        # not a well-formed media range at all: the Accept header ignores it (test below)
        assert resolve(accept=VERSIONED.format(value)).needs_pin
        return
    kwargs = {"accept": VERSIONED.format(value)} if where == "accept" else {where: value}
    error = refusal(**kwargs)
    assert error.code == "invalid_api_version"
    assert error.source == source
    assert "2025-06-01, 2023-01-05, 2022-09-01" in error.detail
    assert error.meta == {"supported-versions": ["2025-06-01", "2023-01-05", "2022-09-01"]}
    validate(error_document([error]))


@pytest.mark.parametrize(
    ("kwargs", "code", "source", "words"),
    [
        ({"header": "2026-07-02"}, "invalid_api_version", HEADER, "future"),
        ({"query": "2099-01-01"}, "invalid_api_version", QUERY, "future"),
        ({"accept": VERSIONED.format("2026-07-02")}, "invalid_api_version", ACCEPT, "future"),
        ({"header": "2022-08-31"}, "invalid_api_version", HEADER, "before the first"),
        ({"query": "1999-01-01"}, "invalid_api_version", QUERY, "before the first"),
        ({"header": "unstable"}, "invalid_api_version", HEADER, "not enabled"),
        ({"accept": VERSIONED.format("unstable")}, "invalid_api_version", ACCEPT, "not enabled"),
        ({"header": "2023-01-05", "query": "2022-09-01"}, "conflicting_api_versions", QUERY,
         "Files-Version header asks for 2023-01-05 but the api-version parameter"),
        ({"header": "2023-01-05", "accept": VERSIONED.format("2025-06-01")},
         "conflicting_api_versions", ACCEPT, "Accept"),
        ({"accept": VERSIONED.format("2025-06-01"), "query": "2023-01-05"},
         "conflicting_api_versions", QUERY, "Accept header asks for 2025-06-01"),
        ({"accept": f"{VERSIONED.format('2025-06-01')}, {VERSIONED.format('2023-01-05')}"},
         "conflicting_api_versions", ACCEPT, "2023-01-05"),
        # two dates that are served by the same release still disagree
        ({"header": "2023-01-05", "query": "2023-02-01"}, "conflicting_api_versions", QUERY,
         "2023-02-01"),
        ({"principal": "2099-01-01"}, "invalid_api_version", None, "pinned"),
        ({"principal": "garbage"}, "invalid_api_version", None, "pinned"),
    ],
)
def test_refusals(
    kwargs: dict[str, Any], code: str, source: dict[str, str] | None, words: str, validate: Any
) -> None:
    error = refusal(**kwargs)
    assert error.code == code
    assert error.source == source
    assert words in error.detail
    assert "Supported versions: 2025-06-01, 2023-01-05, 2022-09-01." in error.detail
    validate(error_document([error]))


def test_each_malformed_source_is_reported(validate: Any) -> None:
    error = refusal(header="x", query="y")
    assert [e.source for e in error.errors] == [HEADER, QUERY]
    validate(error_document([error]))


def test_a_malformed_source_wins_over_a_disagreement() -> None:
    error = refusal(header="2023-01-05", query="nonsense")
    assert len(error.errors) == 1
    assert error.code == "invalid_api_version" and error.source == QUERY


def test_unstable_when_enabled() -> None:
    resolution = resolve(header="unstable", enable_unstable=True)
    assert resolution.version == "unstable" and resolution.explicit
    assert not resolution.deprecated
    error = refusal(header="nonsense", enable_unstable=True)
    assert error.meta == {
        "supported-versions": ["unstable", "2025-06-01", "2023-01-05", "2022-09-01"]
    }


# -- retirement and deprecation ------------------------------------------------------------------

def test_retired_version_is_refused_by_default(validate: Any) -> None:
    today = date(2027, 1, 2)  # the day after 2022-09-01's sunset
    error = refusal(header="2022-09-01", today=today, version_dates=DATES)
    assert error.code == "retired_api_version"
    assert error.source == HEADER
    assert "retired after 2027-01-01" in error.detail
    assert error.meta == {"supported-versions": ["2025-06-01", "2023-01-05"]}
    assert "Supported versions: 2025-06-01, 2023-01-05." in error.detail
    validate(error_document([error]))
    # a date served by the retired release is refused just the same
    assert refusal(query="2022-12-31", today=today, version_dates=DATES).source == QUERY
    # and so is a principal pinned to it, with no source in the request
    assert refusal(principal="2022-09-01", today=today, version_dates=DATES).source is None


def test_retired_version_falls_forward_to_the_oldest_supported() -> None:
    today = date(2027, 1, 2)
    resolution = resolve(header="2022-09-01", today=today, version_dates=DATES,
                         retired_policy="fall-forward")
    assert (resolution.version, resolution.requested) == ("2023-01-05", "2022-09-01")
    assert resolution.deprecated  # 2023-01-05 is itself deprecated from 2027-01-01
    # both old versions retired: falls to the newest
    later = resolve(principal="2022-09-01", today=date(2027, 6, 2), version_dates=DATES,
                    retired_policy="fall-forward")
    assert later.version == "2025-06-01" and not later.deprecated
    # everything retired (a misconfiguration): still served, as the newest
    every = {v: VersionDates(date(2026, 1, 1), date(2026, 1, 1))
             for v in ("2025-06-01", "2023-01-05", "2022-09-01")}
    assert resolve(header="2023-01-05", version_dates=every,
                   retired_policy="fall-forward").version == "2025-06-01"


def test_release_for_reads_a_version_as_a_request_would() -> None:
    """Outside a request (the command line), the same rules, naming the caller's option."""
    for asked in ("2022-09-01", "2023-01-04", "2023-01-05", "2025-05-31", "2026-07-01"):
        assert release_for(asked, name="--version", today=TODAY) == resolve(header=asked).version
    today = date(2027, 1, 2)
    assert release_for("2022-12-31", name="--version", today=today, version_dates=DATES,
                       retired_policy="fall-forward") == "2023-01-05"
    for asked, says in [
        ("2026-07-02", "--version names 2026-07-02, a date in the future."),
        ("2022-08-31", "--version names 2022-08-31, before the first version (2022-09-01)."),
        ("v2", "--version must be a date as YYYY-MM-DD or 'unstable', not 'v2'."),
        ("unstable", "--version asks for 'unstable', which is not enabled."),
    ]:
        with pytest.raises(ApiError) as caught:
            release_for(asked, name="--version", today=TODAY)
        assert caught.value.detail.startswith(says)
        assert caught.value.source is None
    with pytest.raises(ApiError) as caught:
        release_for("2022-09-01", name="VERSION", today=today, version_dates=DATES)
    assert caught.value.code == "retired_api_version"
    assert caught.value.detail.startswith("VERSION names 2022-09-01, served as 2022-09-01")
    assert release_for("unstable", name="--version", today=TODAY, enable_unstable=True) == (
        "unstable")


@pytest.mark.parametrize(
    ("today", "deprecated", "retired"),
    [
        (date(2026, 5, 31), False, False),
        (date(2026, 6, 1), True, False),  # deprecated on its deprecation date
        (date(2027, 1, 1), True, False),  # still served on its sunset date
        (date(2027, 1, 2), True, True),  # retired after it
    ],
)
def test_deprecation_and_retirement_boundaries(
    today: date, deprecated: bool, retired: bool
) -> None:
    if retired:
        refusal(header="2022-09-01", today=today, version_dates=DATES)
        return
    resolution = resolve(header="2022-09-01", today=today, version_dates=DATES)
    assert resolution.deprecated is deprecated
    if deprecated:
        assert resolution.deprecation == date(2026, 6, 1)
        assert resolution.sunset == date(2027, 1, 1)
    else:
        assert resolution.deprecation is None and resolution.sunset is None


def test_deprecated_principal_version_and_pin() -> None:
    assert resolve(principal="2022-09-01", version_dates=DATES).deprecated
    dates = {"2025-06-01": VersionDates(date(2026, 1, 1), date(2028, 1, 1))}
    pinned = resolve(version_dates=dates)
    assert pinned.needs_pin and pinned.deprecated and pinned.version == "2025-06-01"


def test_deprecation_headers_exact() -> None:
    resolution = resolve(header="2022-09-01", version_dates=DATES)
    assert deprecation_headers(resolution, "https://api.example.com/api/v1/versions") == [
        ("Deprecation", "@1780272000"),
        ("Sunset", "Fri, 01 Jan 2027 00:00:00 GMT"),
        ("Link", '<https://api.example.com/api/v1/versions>; rel="deprecation"'),
    ]
    assert deprecation_headers(resolution, None) == [
        ("Deprecation", "@1780272000"),
        ("Sunset", "Fri, 01 Jan 2027 00:00:00 GMT"),
    ]
    assert deprecation_headers(resolve(header="2023-01-05", version_dates=DATES), "u") == []
    assert deprecation_headers(resolve(), "u") == []


def test_utc_today() -> None:
    assert utc_today(1_767_225_600.0) == date(2026, 1, 1)
    assert utc_today(1_767_225_599.0) == date(2025, 12, 31)


# -- FILES_VERSION_DATES --------------------------------------------------------------------------

def test_parse_version_dates() -> None:
    assert parse_version_dates("") == {}
    assert parse_version_dates("  ") == {}
    assert parse_version_dates("2022-09-01:2026-06-01:2027-01-01") == {
        "2022-09-01": VersionDates(date(2026, 6, 1), date(2027, 1, 1)),
    }
    assert parse_version_dates(
        " 2022-09-01:2026-06-01:2027-01-01 , 2023-01-05:2027-01-01:2027-01-01"
    ) == {
        "2022-09-01": VersionDates(date(2026, 6, 1), date(2027, 1, 1)),
        "2023-01-05": VersionDates(date(2027, 1, 1), date(2027, 1, 1)),
    }
    dates = parse_version_dates("2022-09-01:2026-06-01:2027-01-01")["2022-09-01"]
    assert dates.deprecation == date(2026, 6, 1) and dates.sunset == date(2027, 1, 1)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("2022-09-01:2026-06-01", "VERSION:DEPRECATION:SUNSET"),
        ("2022-09-01:2026-06-01:2027-01-01:x", "VERSION:DEPRECATION:SUNSET"),
        ("2022-09-01", "VERSION:DEPRECATION:SUNSET"),
        ("garbage", "VERSION:DEPRECATION:SUNSET"),
        ("2022-09-01:2026-06-01:2027-01-01,", "VERSION:DEPRECATION:SUNSET"),
        ("2021-01-01:2026-06-01:2027-01-01", "not a released version"),
        ("2024-01-01:2026-06-01:2027-01-01", "not a released version"),
        ("unstable:2026-06-01:2027-01-01", "not a released version"),
        ("2022-09-01:2026-06-01:2027-01-01,2022-09-01:2026-06-01:2027-01-01", "more than once"),
        ("2022-09-01:2026-13-01:2027-01-01", "deprecation date '2026-13-01'"),
        ("2022-09-01:2026-06-01:soon", "sunset date 'soon'"),
        ("2022-09-01:2026-6-1:2027-01-01", "not a date"),
        ("2022-09-01:2027-01-01:2026-06-01", "sunset date is before the deprecation"),
        ("2023-01-05:2022-12-31:2027-01-01", "before the version itself"),
    ],
)
def test_parse_version_dates_refusals(text: str, words: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_version_dates(text)
    assert words in str(caught.value)


# -- never anything but ApiError -----------------------------------------------------------------

MAYBE_TEXT = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.sampled_from(["2022-09-01", "2023-01-05", "2025-06-01", "2024-02-29", "unstable",
                     "2099-01-01", "1999-01-01", "2023-02-30", ""]),
)
ACCEPTS = st.one_of(
    MAYBE_TEXT,
    MAYBE_TEXT.map(lambda v: VERSIONED.format(v) if v is not None else None),
    st.lists(st.sampled_from(["2022-09-01", "2023-01-05", "x", "unstable"]), max_size=3).map(
        lambda vs: ", ".join(VERSIONED.format(v) for v in vs)
    ),
)


@settings(max_examples=400, deadline=None)
@given(
    header=MAYBE_TEXT,
    accept=ACCEPTS,
    query=MAYBE_TEXT,
    principal=MAYBE_TEXT,
    today=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)),
    policy=st.sampled_from(["reject", "fall-forward"]),
    unstable=st.booleans(),
)
def test_resolve_version_raises_only_api_errors(
    header: str | None, accept: str | None, query: str | None, principal: str | None,
    today: date, policy: str, unstable: bool,
) -> None:
    try:
        resolution = resolve_version(
            header=header, accept=accept, query=query, principal_version=principal, today=today,
            version_dates=DATES, retired_policy=policy,  # type: ignore[arg-type]
            enable_unstable=unstable,
        )
    except ApiError as error:
        assert error.status == 400
        for one in error.errors:
            assert one.source in (HEADER, ACCEPT, QUERY, None)
            assert "Supported versions" in one.detail
        return
    assert resolution.version in ("2025-06-01", "2023-01-05", "2022-09-01", "unstable")
    assert resolution.needs_pin is (not resolution.explicit and principal is None)
    assert resolution.deprecated is (resolution.version in DATES
                                     and today >= DATES[resolution.version].deprecation)


def test_future_relative_to_today() -> None:
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    assert refusal(header=tomorrow).code == "invalid_api_version"
    assert resolve(header=TODAY.isoformat()).version == "2025-06-01"


def test_a_release_dated_after_today_is_not_pinned_yet() -> None:
    """Code deployed ahead of its newest version's date pins (and serves) the release before
    it until that day: a pin to a date still in the future would be refused as such."""
    versions = ("2026-03-01", "2025-06-01", "2023-01-05", "2022-09-01")
    before = resolve_version(header=None, accept=None, query=None, principal_version=None,
                             today=date(2026, 2, 28), versions=versions)
    assert before.needs_pin and before.version == "2025-06-01"
    on_the_day = resolve_version(header=None, accept=None, query=None, principal_version=None,
                                 today=date(2026, 3, 1), versions=versions)
    assert on_the_day.version == "2026-03-01"
