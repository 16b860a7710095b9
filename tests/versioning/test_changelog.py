"""The changelog and GET /api/v1/versions, generated from the change objects."""

from __future__ import annotations

from datetime import date
from typing import Any

from files_service.jsonapi.document import build_document
from files_service.versioning import BUNDLE, UNSTABLE, VERSIONS, VersionBundle, VersionChange
from files_service.versioning.changelog import (
    render_changelog,
    version_status,
    versions_payload,
    versions_resources,
)
from files_service.versioning.resolve import VersionDates

DATES = {
    "2022-09-01": VersionDates(date(2026, 6, 1), date(2027, 1, 1)),
    "2023-01-05": VersionDates(date(2027, 1, 1), date(2027, 6, 1)),
}


class InProgress(VersionChange):
    """Something in progress.

    Explained for users.
    """

    version = UNSTABLE
    description = "Something new."
    applies_to = frozenset({"file"})


def test_changelog_lists_every_version_newest_first_with_its_changes() -> None:
    text = render_changelog()
    assert text.startswith("# Changelog\n")
    positions = [text.index(f"\n## {version}\n") for version in VERSIONS]
    assert positions == sorted(positions)
    for change in BUNDLE.changes:
        section = text[text.index(f"## {change.version}"):]
        assert f"- {change.description}" in section.split("\n## ")[0]
    assert "- First version: file URLs in the legacy style." in text
    assert "checksum" in text and "access_token" in text
    assert "Unstable" not in text
    assert text.endswith("\n") and not text.endswith("\n\n\n")
    assert all(line == line.rstrip() for line in text.splitlines())


def test_changelog_shows_unstable_changes_on_top() -> None:
    bundle = VersionBundle(VERSIONS, (InProgress(), *BUNDLE.changes))
    text = render_changelog(bundle)
    assert text.index("## Unstable") < text.index("## 2025-06-01")
    assert "- Something new.\n\n  Explained for users." in text


def test_version_status() -> None:
    today = date(2027, 1, 2)
    assert version_status("2025-06-01", today, DATES, BUNDLE) == "current"
    assert version_status("2023-01-05", today, DATES, BUNDLE) == "deprecated"
    assert version_status("2022-09-01", today, DATES, BUNDLE) == "retired"
    assert version_status("2023-01-05", date(2026, 1, 1), DATES, BUNDLE) == "supported"
    assert version_status(UNSTABLE, today, DATES, BUNDLE) == "unstable"


def test_versions_payload() -> None:
    payload = versions_payload(date(2026, 7, 1), DATES)
    assert [entry["identifier"] for entry in payload] == list(VERSIONS)
    assert payload[0] == {
        "identifier": "2025-06-01",
        "status": "current",
        "deprecation-date": None,
        "sunset-date": None,
        "changes": [{"description": BUNDLE.changes_of("2025-06-01")[0].description,
                     "resource-types": ["file"]}],
    }
    assert payload[1]["status"] == "supported"
    assert payload[1]["deprecation-date"] == "2027-01-01"
    assert payload[2] == {
        "identifier": "2022-09-01",
        "status": "deprecated",
        "deprecation-date": "2026-06-01",
        "sunset-date": "2027-01-01",
        "changes": [{"description": "First version: file URLs in the legacy style.",
                     "resource-types": []}],
    }
    with_unstable = versions_payload(date(2026, 7, 1), {}, enable_unstable=True)
    assert with_unstable[0]["identifier"] == UNSTABLE
    assert with_unstable[0]["status"] == "unstable" and with_unstable[0]["changes"] == []


def test_versions_document_is_valid_json_api(validate: Any) -> None:
    resources = versions_resources(date(2027, 1, 2), DATES, enable_unstable=True)
    document = build_document(resources)
    validate(document)
    assert [r["id"] for r in document["data"]] == [UNSTABLE, *VERSIONS]
    assert all(r["type"] == "version" for r in document["data"])
    assert document["data"][-1]["attributes"]["status"] == "retired"
    assert "identifier" not in document["data"][0]["attributes"]
