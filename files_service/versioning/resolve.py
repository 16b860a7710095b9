"""Which API version a request is served in (§6), and what a deprecated one says about itself.

First match wins:

1. the request: the ``Files-Version`` header, an ``Accept: application/vnd.files.DATE+json``
   media type, or the ``api-version`` query parameter (where they name different versions:
   ``400``);
2. the principal's pinned ``api-version`` (the webhook's in a ``webhook-id`` mint, else the
   api-key's);
3. neither: the newest released version, and the caller pins the principal to it
   (``Resolution.needs_pin``). A release dated after today (code deployed ahead of its
   version's date) is not out yet: the newest one on or before today is used.

A well-formed date that is not a release is served as the newest release on or before it. A
malformed value, a future date or one before the first release, ``unstable`` where it is not
enabled, and a retired version (under the ``reject`` policy) get ``400``, whose detail and
``meta.supported-versions`` list the supported versions and whose ``source`` names the header
or parameter at fault (none where the version came from the principal). Under
``fall-forward`` a retired version is served as the oldest supported one.

A version is deprecated from its deprecation date on, and retired the day after its sunset
date (``FILES_VERSION_DATES``).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Literal, NamedTuple

from ..jsonapi.errors import ApiError, raise_all, shorten
from ..jsonapi.media import accept_versions
from .bundle import UNSTABLE
from .released import VERSIONS

RetiredPolicy = Literal["reject", "fall-forward"]
RETIRED_POLICIES: tuple[str, ...] = ("reject", "fall-forward")
VERSION_HEADER = "Files-Version"
VERSION_PARAMETER = "api-version"

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

_SOURCES: dict[str, dict[str, str]] = {
    "header": {"header": VERSION_HEADER},
    "accept": {"header": "Accept"},
    "query": {"parameter": VERSION_PARAMETER},
}
_NAMES = {
    "header": f"the {VERSION_HEADER} header",
    "accept": "the Accept header",
    "query": f"the {VERSION_PARAMETER} parameter",
    "principal": "the version pinned for this API key or webhook",
}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


class VersionDates(NamedTuple):
    """When a version is deprecated, and its sunset (the last day it is served)."""

    deprecation: date
    sunset: date


@dataclass(frozen=True)
class Resolution:
    """The outcome of version resolution.

    ``version``: the version served (a release or ``unstable``), for the ``Files-Version``
    response header. ``requested``: what the request (or the principal's pin) named, ``None``
    when nothing did. ``explicit``: the request named it. ``needs_pin``: nothing named it, so
    the caller must pin the principal to ``version``. ``deprecation`` / ``sunset``: set when the
    version served is deprecated.
    """

    version: str
    requested: str | None
    explicit: bool
    needs_pin: bool
    deprecation: date | None = None
    sunset: date | None = None

    @property
    def deprecated(self) -> bool:
        """Whether the version served is deprecated."""
        return self.deprecation is not None


def utc_today(now: float) -> date:
    """The UTC date at ``now`` (Unix seconds), for ``resolve_version(today=...)``."""
    return datetime.fromtimestamp(now, UTC).date()


def resolve_version(
    *,
    header: str | None,
    accept: str | None,
    query: str | None,
    principal_version: str | None,
    today: date,
    versions: Sequence[str] = VERSIONS,
    version_dates: Mapping[str, VersionDates] | None = None,
    retired_policy: RetiredPolicy = "reject",
    enable_unstable: bool = False,
) -> Resolution:
    """The version to serve a request in; ``ApiError`` (400) where the version is at fault.

    ``header``: the ``Files-Version`` header; ``accept``: the ``Accept`` header; ``query``: the
    ``api-version`` parameter (``api_version_param``); each ``None`` where absent.
    ``principal_version``: the pinned version of the principal, ``None`` where not yet pinned.
    ``today``: the server's UTC date. ``versions``: the released versions, newest first.
    ``version_dates``: ``parse_version_dates(FILES_VERSION_DATES)``.
    """
    rules = _Rules(tuple(versions), version_dates or {}, today, retired_policy, enable_unstable)
    named: list[tuple[str, str]] = []
    if header is not None:
        named.append(("header", header.strip()))
    named += [("accept", version) for version in accept_versions(accept)]
    if query is not None:
        named.append(("query", query))

    distinct: dict[str, str] = {}  # value -> the first source naming it
    for source, value in named:
        distinct.setdefault(value, source)
    served: dict[str, str] = {}
    errors: list[ApiError] = []
    for value, source in distinct.items():
        try:
            served[value] = rules.serve(value, source)
        except ApiError as error:
            errors.append(error)
    raise_all(errors)
    if len(distinct) > 1:
        (first, first_source), (second, second_source) = list(distinct.items())[:2]
        raise rules.error(
            "conflicting_api_versions",
            f"{_sentence(_NAMES[first_source])} asks for {first} but {_NAMES[second_source]} "
            f"asks for {second}: name one version.",
            second_source,
        )
    if distinct:
        requested = next(iter(distinct))
        return rules.resolution(served[requested], requested, explicit=True, needs_pin=False)
    if principal_version is not None:
        version = rules.serve(principal_version, "principal")
        return rules.resolution(version, principal_version, explicit=False, needs_pin=False)
    return rules.resolution(rules.newest_out(), None, explicit=False, needs_pin=True)


def release_for(
    requested: str,
    *,
    name: str,
    today: date,
    versions: Sequence[str] = VERSIONS,
    version_dates: Mapping[str, VersionDates] | None = None,
    retired_policy: RetiredPolicy = "reject",
    enable_unstable: bool = False,
) -> str:
    """The version served where a request names ``requested``, by the same rules: a release
    itself, the newest release on or before a well-formed date that is not one, ``unstable``
    where enabled, and under ``fall-forward`` the oldest supported release for a retired one.
    For callers outside a request (the command line): ``ApiError`` (400) otherwise, whose
    detail names ``name`` (such as ``--version``) where a request's names the header."""
    rules = _Rules(tuple(versions), version_dates or {}, today, retired_policy, enable_unstable)
    return rules.serve(requested, name)


@dataclass(frozen=True)
class _Rules:
    versions: tuple[str, ...]
    dates: Mapping[str, VersionDates]
    today: date
    retired_policy: str
    enable_unstable: bool

    def retired(self, version: str) -> bool:
        dates = self.dates.get(version)
        return dates is not None and self.today > dates.sunset

    def newest_out(self) -> str:
        """The newest release dated on or before today (any release, where none is yet)."""
        today = self.today.isoformat()
        return next((version for version in self.versions if version <= today), self.versions[0])

    def supported(self) -> list[str]:
        released = [version for version in self.versions if not self.retired(version)]
        return ([UNSTABLE] if self.enable_unstable else []) + released

    def error(self, code: str, detail: str, source: str) -> ApiError:
        supported = self.supported()
        return ApiError(
            400,
            code,
            f"{detail} Supported versions: {', '.join(supported) or 'none'}.",
            source=_SOURCES.get(source),
            meta={"supported-versions": supported},
        )

    def serve(self, requested: str, source: str) -> str:
        """The release that serves ``requested``; ``ApiError`` where it cannot be served.
        ``source`` is a key of ``_NAMES``, or any other name to show as it is."""
        what = _sentence(_NAMES.get(source, source))
        if requested == UNSTABLE:
            if not self.enable_unstable:
                raise self.error(
                    "invalid_api_version", f"{what} asks for 'unstable', which is not enabled.",
                    source,
                )
            return UNSTABLE
        shown = repr(shorten(requested, 40))
        try:
            day = date.fromisoformat(requested) if _DATE.fullmatch(requested) else None
        except ValueError:
            day = None
        if day is None:
            raise self.error(
                "invalid_api_version",
                f"{what} must be a date as YYYY-MM-DD or 'unstable', not {shown}.",
                source,
            )
        if day > self.today:
            raise self.error(
                "invalid_api_version", f"{what} names {requested}, a date in the future.", source
            )
        if requested < self.versions[-1]:
            raise self.error(
                "invalid_api_version",
                f"{what} names {requested}, before the first version ({self.versions[-1]}).",
                source,
            )
        release = next(version for version in self.versions if version <= requested)
        if not self.retired(release):
            return release
        if self.retired_policy == "reject":
            raise self.error(
                "retired_api_version",
                f"{what} names {requested}, served as {release}, which was retired after "
                f"{self.dates[release].sunset.isoformat()}.",
                source,
            )
        oldest_supported = [version for version in self.versions if not self.retired(version)]
        return oldest_supported[-1] if oldest_supported else self.versions[0]

    def resolution(
        self, version: str, requested: str | None, *, explicit: bool, needs_pin: bool
    ) -> Resolution:
        dates = self.dates.get(version)
        deprecated = dates is not None and self.today >= dates.deprecation
        return Resolution(
            version=version,
            requested=requested,
            explicit=explicit,
            needs_pin=needs_pin,
            deprecation=dates.deprecation if dates and deprecated else None,
            sunset=dates.sunset if dates and deprecated else None,
        )


def parse_version_dates(
    text: str, *, versions: Sequence[str] = VERSIONS
) -> dict[str, VersionDates]:
    """``FILES_VERSION_DATES`` (``VERSION:DEPRECATION:SUNSET,…``, dates as YYYY-MM-DD) as a
    mapping; ``ValueError`` with a message naming the entry at fault for a malformed entry, a
    version that is not released, one given twice, a deprecation before the version's own
    release, or a sunset before its deprecation. An empty text means no dates."""
    result: dict[str, VersionDates] = {}
    if not text.strip():
        return result
    for entry in text.split(","):
        entry = entry.strip()
        parts = entry.split(":")
        if len(parts) != 3:
            raise ValueError(
                f"{entry!r} is not VERSION:DEPRECATION:SUNSET "
                "(e.g. 2022-09-01:2026-06-01:2027-01-01)"
            )
        version, deprecation_text, sunset_text = (part.strip() for part in parts)
        if version not in versions:
            raise ValueError(
                f"{entry!r}: {version!r} is not a released version "
                f"(released: {', '.join(versions)})"
            )
        if version in result:
            raise ValueError(f"{entry!r}: dates for {version} are given more than once")
        deprecation = _parse_date(deprecation_text, entry, "deprecation")
        sunset = _parse_date(sunset_text, entry, "sunset")
        if deprecation < date.fromisoformat(version):
            raise ValueError(f"{entry!r}: the deprecation date is before the version itself")
        if sunset < deprecation:
            raise ValueError(f"{entry!r}: the sunset date is before the deprecation date")
        result[version] = VersionDates(deprecation, sunset)
    return result


def _parse_date(text: str, entry: str, what: str) -> date:
    try:
        if _DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ValueError(f"{entry!r}: the {what} date {text!r} is not a date as YYYY-MM-DD")


def deprecation_headers(resolution: Resolution, link_url: str | None) -> list[tuple[str, str]]:
    """The response headers of a deprecated version; none for a version that is not.

    ``Deprecation: @<unix seconds>`` (RFC 9745), ``Sunset: <IMF-fixdate>`` in GMT (RFC 8594),
    both at midnight UTC of their dates, and ``Link: <link_url>; rel="deprecation"`` where
    ``link_url`` is given (e.g. the absolute URL of ``/api/v1/versions``).
    """
    if resolution.deprecation is None:
        return []
    headers = [("Deprecation", f"@{calendar.timegm(resolution.deprecation.timetuple())}")]
    if resolution.sunset is not None:
        midnight = datetime(
            resolution.sunset.year, resolution.sunset.month, resolution.sunset.day, tzinfo=UTC
        )
        headers.append(("Sunset", format_datetime(midnight, usegmt=True)))
    if link_url:
        headers.append(("Link", f'<{link_url}>; rel="deprecation"'))
    return headers
