"""Dated API versions (§6), cadwyn-style, as a pure core.

- ``bundle``: ``VersionChange``, ``VersionBundle``, ``MigrationContext``.
- ``changes/``: one module per dated change, named for its date.
- ``released``: ``BUNDLE``, the released versions and their changes.
- ``resolve``: ``resolve_version``, ``release_for``, ``parse_version_dates``,
  ``deprecation_headers``.
- ``changelog``: ``render_changelog`` and ``versions_payload``.
"""

from .bundle import UNSTABLE, MigrationContext, VersionBundle, VersionChange
from .changelog import render_changelog, versions_payload, versions_resources
from .released import BUNDLE, VERSIONS
from .resolve import (
    Resolution,
    VersionDates,
    deprecation_headers,
    parse_version_dates,
    release_for,
    resolve_version,
    utc_today,
)

__all__ = [
    "BUNDLE",
    "UNSTABLE",
    "VERSIONS",
    "MigrationContext",
    "Resolution",
    "VersionBundle",
    "VersionChange",
    "VersionDates",
    "deprecation_headers",
    "parse_version_dates",
    "release_for",
    "render_changelog",
    "resolve_version",
    "utc_today",
    "versions_payload",
    "versions_resources",
]
