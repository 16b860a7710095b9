"""What the versions are and what each changed, generated from the change objects: the
``CHANGELOG.md`` text and the payload of ``GET /api/v1/versions`` (and of ``files-service
versions``)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from datetime import date
from typing import Any

from ..jsonapi.document import Resource
from .bundle import UNSTABLE, VersionBundle, VersionChange
from .released import BUNDLE
from .resolve import VersionDates

VERSION_TYPE = "version"

_PREAMBLE = """\
# Changelog

The API is versioned by date. A request names its version with the `Files-Version: YYYY-MM-DD`
header (or `Accept: application/vnd.files.YYYY-MM-DD+json`, or `?api-version=YYYY-MM-DD`);
without one, an API key or webhook keeps the version it was pinned to on its first request.
Each version below lists what changed from the version before it; an older version keeps its
exact response shapes.

This file is generated from `files_service/versioning/changes/` by
`files_service.versioning.changelog.render_changelog()`: edit the change objects, not this file.
"""


def _explanation(change: VersionChange) -> str:
    """The docstring of a change without its summary line."""
    doc = inspect.cleandoc(type(change).__doc__ or "")
    return doc.partition("\n")[2].strip()


def render_changelog(bundle: VersionBundle = BUNDLE) -> str:
    """``CHANGELOG.md``, newest version first (in-progress ``unstable`` changes on top)."""
    sections = [_PREAMBLE]
    headed = ([UNSTABLE] if bundle.changes_of(UNSTABLE) else []) + list(bundle.versions)
    for version in headed:
        title = "Unstable (not released; only where enabled)" if version == UNSTABLE else version
        lines = [f"## {title}", ""]
        if version == bundle.first:
            lines.append(f"- {bundle.first_description}")
        for change in bundle.changes_of(version):
            lines.append(f"- {change.description}")
            explanation = _explanation(change)
            if explanation:
                lines.append("")
                lines += [f"  {line}".rstrip() for line in explanation.splitlines()]
        sections.append("\n".join(lines) + "\n")
    return "\n".join(sections)


def version_status(
    version: str, today: date, version_dates: Mapping[str, VersionDates], bundle: VersionBundle
) -> str:
    """``unstable``, ``retired`` (after its sunset date), ``deprecated`` (from its deprecation
    date), ``current`` (the newest release) or ``supported``."""
    if version == UNSTABLE:
        return "unstable"
    dates = version_dates.get(version)
    if dates is not None and today > dates.sunset:
        return "retired"
    if dates is not None and today >= dates.deprecation:
        return "deprecated"
    return "current" if version == bundle.newest else "supported"


def versions_payload(
    today: date,
    version_dates: Mapping[str, VersionDates],
    *,
    enable_unstable: bool = False,
    bundle: VersionBundle = BUNDLE,
) -> list[dict[str, Any]]:
    """Every version, newest first (``unstable`` on top where enabled), as
    ``{"identifier", "status", "deprecation-date", "sunset-date", "changes": [{"description",
    "resource-types"}]}``, dates as YYYY-MM-DD or ``null``."""
    listed = ([UNSTABLE] if enable_unstable else []) + list(bundle.versions)
    payload = []
    for version in listed:
        dates = version_dates.get(version)
        changes = [
            {"description": change.description, "resource-types": sorted(change.applies_to)}
            for change in bundle.changes_of(version)
        ]
        if version == bundle.first:
            changes.insert(0, {"description": bundle.first_description, "resource-types": []})
        payload.append(
            {
                "identifier": version,
                "status": version_status(version, today, version_dates, bundle),
                "deprecation-date": dates.deprecation.isoformat() if dates else None,
                "sunset-date": dates.sunset.isoformat() if dates else None,
                "changes": changes,
            }
        )
    return payload


def versions_resources(
    today: date,
    version_dates: Mapping[str, VersionDates],
    *,
    enable_unstable: bool = False,
    bundle: VersionBundle = BUNDLE,
) -> list[Resource]:
    """``versions_payload`` as resources of type ``version`` (id: the identifier), for
    ``build_document`` in ``GET /api/v1/versions``."""
    return [
        Resource(
            VERSION_TYPE,
            entry["identifier"],
            {key: value for key, value in entry.items() if key != "identifier"},
        )
        for entry in versions_payload(
            today, version_dates, enable_unstable=enable_unstable, bundle=bundle
        )
    ]


def main(argv: list[str] | None = None) -> int:
    """``python -m files_service.versioning [PATH]``: write the changelog to PATH
    (``CHANGELOG.md`` in the repository, by ``make changelog``), or to stdout without one."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    text = render_changelog()
    if not args:
        sys.stdout.write(text)
        return 0
    with open(args[0], "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    return 0
