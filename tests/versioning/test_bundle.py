"""The version bundle: ordering, migration one version at a time, the "matches nothing" check."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import pytest

from files_service.versioning import BUNDLE, UNSTABLE, VERSIONS, MigrationContext
from files_service.versioning.bundle import (
    VersionBundle,
    VersionChange,
    find_ineffective_changes,
    version_key,
)


class NoOp(VersionChange):
    """Changes nothing at all (a change object that matches nothing)."""

    version = "2025-06-01"
    description = "Nothing."
    applies_to = frozenset({"file"})


class Recorder(VersionChange):
    """Records the order it runs in."""

    log: ClassVar[list[str]] = []
    description = "Records."
    applies_to = frozenset({"file"})

    def __init__(self, version: str) -> None:
        self.version = version  # type: ignore[misc]

    def downgrade_response(self, resource: dict[str, Any], ctx: MigrationContext) -> dict[str, Any]:
        self.log.append(f"down {self.version}")
        resource.setdefault("attributes", {})[f"was-{self.version}"] = True
        return resource

    def upgrade_request(self, body: dict[str, Any], ctx: MigrationContext) -> dict[str, Any]:
        self.log.append(f"up {self.version}")
        return body


def test_released_versions() -> None:
    assert VERSIONS == ("2025-06-01", "2023-01-05", "2022-09-01")
    assert BUNDLE.newest == "2025-06-01" and BUNDLE.first == "2022-09-01"
    assert [c.version for c in BUNDLE.changes] == ["2025-06-01", "2023-01-05"]
    assert BUNDLE.changes_of("2022-09-01") == []
    assert BUNDLE.changes_of(UNSTABLE) == []


def test_unstable_sorts_after_every_date() -> None:
    assert version_key(UNSTABLE) > version_key("9999-12-31")
    assert version_key("2023-01-05") > version_key("2022-09-01")


@pytest.mark.parametrize(
    ("versions", "changes"),
    [
        ((), ()),
        (("2022-09-01", "2023-01-05"), ()),  # oldest first
        (("2023-01-05", "2023-01-05"), ()),
        (("unstable", "2022-09-01"), ()),
        (("2025-06-01", "2022-09-01"), (Recorder("2023-01-05"),)),  # not released
        (("2025-06-01", "2022-09-01"), (Recorder("2022-09-01"),)),  # the first version
    ],
)
def test_bundle_refuses_inconsistent_definitions(
    versions: tuple[str, ...], changes: tuple[VersionChange, ...]
) -> None:
    with pytest.raises(ValueError):
        VersionBundle(versions, changes)


def test_migration_runs_newest_first_one_version_at_a_time() -> None:
    Recorder.log.clear()
    bundle = VersionBundle(
        ("2024-01-01", "2023-01-01", "2022-01-01"),
        (Recorder("2023-01-01"), Recorder(UNSTABLE), Recorder("2024-01-01")),
    )
    resource = {"type": "file", "id": "f", "attributes": {}}
    out = bundle.migrate_resource(resource, "2022-01-01", MigrationContext())
    assert Recorder.log == ["down unstable", "down 2024-01-01", "down 2023-01-01"]
    assert resource == {"type": "file", "id": "f", "attributes": {}}  # untouched
    assert set(out["attributes"]) == {"was-unstable", "was-2024-01-01", "was-2023-01-01"}

    Recorder.log.clear()
    bundle.migrate_resource(resource, "2023-01-01", MigrationContext())
    assert Recorder.log == ["down unstable", "down 2024-01-01"]
    Recorder.log.clear()
    bundle.migrate_resource(resource, UNSTABLE, MigrationContext())
    assert Recorder.log == []
    Recorder.log.clear()
    bundle.migrate_resource({"type": "organization", "id": "o"}, "2022-01-01", MigrationContext())
    assert Recorder.log == []  # not a type the changes apply to

    Recorder.log.clear()
    body = {"data": {"type": "file", "attributes": {}}}
    assert bundle.upgrade_request(body, "2022-01-01", MigrationContext()) == body
    assert Recorder.log == ["up 2023-01-01", "up 2024-01-01", "up unstable"]


def test_migrate_document_covers_data_and_included(
    head_file: dict[str, Any], ctx: MigrationContext, legacy_url: str
) -> None:
    org = {"type": "organization", "id": "org_x", "attributes": {"name": "Acme"}}
    single = {"data": head_file, "included": [org], "meta": {"a": 1}}
    frozen = copy.deepcopy(single)
    out = BUNDLE.migrate_document(single, "2022-09-01", ctx)
    assert single == frozen
    assert out["data"]["attributes"]["url"] == legacy_url
    assert out["included"] == [org] and out["meta"] == {"a": 1}
    listed = BUNDLE.migrate_document({"data": [head_file, head_file]}, "2023-01-05", ctx)
    assert [d["attributes"]["checksum"] for d in listed["data"]] == [
        head_file["attributes"]["checksum"]["value"]
    ] * 2
    assert BUNDLE.migrate_document({"data": None}, "2022-09-01", ctx) == {"data": None}


def test_every_change_of_the_bundle_changes_something(
    head_samples: list[dict[str, Any]], ctx: MigrationContext
) -> None:
    assert find_ineffective_changes(BUNDLE, head_samples, ctx) == []


def test_a_change_that_matches_nothing_fails_the_check(
    head_samples: list[dict[str, Any]], ctx: MigrationContext
) -> None:
    noop = NoOp()
    bundle = VersionBundle(VERSIONS, (noop, *BUNDLE.changes))
    assert find_ineffective_changes(bundle, head_samples, ctx) == [noop]


def test_a_change_whose_input_a_newer_change_removes_fails_the_check(
    head_samples: list[dict[str, Any]], ctx: MigrationContext
) -> None:
    class DropsUrls(VersionChange):
        """Hides the url from everything older."""

        version = UNSTABLE
        description = "Drops url."
        applies_to = frozenset({"file"})

        def downgrade_response(
            self, resource: dict[str, Any], ctx: MigrationContext
        ) -> dict[str, Any]:
            resource["attributes"].pop("url", None)
            resource["attributes"].pop("url-expires-at", None)
            return resource

    bundle = VersionBundle(VERSIONS, (DropsUrls(), *BUNDLE.changes))
    ineffective = find_ineffective_changes(bundle, head_samples, ctx)
    assert [c.version for c in ineffective] == ["2023-01-05"]


def test_a_change_is_only_tried_on_the_types_it_applies_to(
    head_samples: list[dict[str, Any]], ctx: MigrationContext
) -> None:
    class WrongType(Recorder):
        applies_to = frozenset({"webhook"})

    bundle = VersionBundle(VERSIONS, (WrongType("2025-06-01"),))
    assert len(find_ineffective_changes(bundle, head_samples, ctx)) == 1
