"""Each dated change: documented, named for its date, and the exact shapes it produces."""

from __future__ import annotations

import copy
import inspect
import re
from typing import Any

import pytest

from files_service.versioning import BUNDLE, MigrationContext, VersionChange
from files_service.versioning.changes import ALL, v2023_01_05, v2025_06_01


@pytest.mark.parametrize("change", ALL, ids=lambda c: c.version)
def test_each_change_is_documented_and_lives_in_a_module_named_for_its_date(
    change: VersionChange,
) -> None:
    module = inspect.getmodule(type(change))
    assert module is not None
    name = module.__name__.rsplit(".", 1)[-1]
    if change.version == "unstable":
        # In progress: the module is already named for the date it is meant to be released on.
        assert re.fullmatch(r"v[0-9]{4}_[0-9]{2}_[0-9]{2}", name)
        assert module.__doc__ and module.__doc__.startswith(name[1:].replace("_", "-"))
    else:
        assert name == "v" + change.version.replace("-", "_")
        assert module.__doc__ and module.__doc__.startswith(change.version)
    doc = inspect.cleandoc(type(change).__doc__ or "")
    summary, _, explanation = doc.partition("\n")
    assert summary and explanation.strip(), "a summary line and an explanation for users"
    assert change.description and "\n" not in change.description
    assert change.applies_to
    assert (type(change).downgrade_response.__doc__ or "").strip()


def test_the_bundle_lists_every_change_module() -> None:
    assert set(ALL) == {v2023_01_05.CHANGE, v2025_06_01.CHANGE}
    assert set(BUNDLE.changes) == set(ALL)


# The frozen shape of a file's attributes in each version (the relationships never changed).
def expected_attributes(version: str, head: dict[str, Any], legacy_url: str) -> dict[str, Any]:
    attributes = copy.deepcopy(head["attributes"])
    if version < "2025-06-01":
        attributes["checksum"] = head["attributes"]["checksum"]["value"]
    if version < "2023-01-05":
        attributes["url"] = legacy_url
        attributes["url-expires-at"] = None
    return attributes


@pytest.mark.parametrize("version", ["unstable", "2025-06-01", "2023-01-05", "2022-09-01"])
def test_file_shape_in_each_version(
    version: str, head_file: dict[str, Any], ctx: MigrationContext, legacy_url: str,
    validate: Any,
) -> None:
    migrated = BUNDLE.migrate_resource(head_file, version, ctx)
    assert migrated["attributes"] == expected_attributes(version, head_file, legacy_url)
    assert migrated["relationships"] == head_file["relationships"]
    assert (migrated["type"], migrated["id"]) == (head_file["type"], head_file["id"])
    validate({"data": migrated})


def test_2022_09_01_exact_file_attributes(
    head_file: dict[str, Any], ctx: MigrationContext
) -> None:
    migrated = BUNDLE.migrate_resource(head_file, "2022-09-01", ctx)
    assert migrated["attributes"] == {
        "filename": "report.pdf",
        "content-type": "application/pdf",
        "byte-size": 16384,
        "checksum": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "metadata": {"project": "apollo"},
        "created-at": "2026-01-01T00:00:00Z",
        "url": "https://api.example.com/api/v1/files/legacytok/report.pdf",
        "url-expires-at": None,
    }


def test_checksum_change_round_trip(head_file: dict[str, Any], ctx: MigrationContext) -> None:
    change = v2025_06_01.CHANGE
    before = change.downgrade_response(copy.deepcopy(head_file), ctx)
    value = head_file["attributes"]["checksum"]["value"]
    assert before["attributes"]["checksum"] == value
    # what the change did is undone by building the head shape from the old one
    rebuilt = copy.deepcopy(before)
    rebuilt["attributes"]["checksum"] = {"algorithm": "sha256", "value": value}
    assert rebuilt == head_file
    # an already-old checksum, or none (sparse fieldset), is left alone
    assert change.downgrade_response(copy.deepcopy(before), ctx) == before
    sparse = {"type": "file", "id": "f", "attributes": {"filename": "a"}}
    assert change.downgrade_response(copy.deepcopy(sparse), ctx) == sparse
    assert change.upgrade_request({"data": {}}, ctx) == {"data": {}}


def test_url_change_round_trip(
    head_file: dict[str, Any], legacy_url: str
) -> None:
    asked: list[str] = []

    def legacy(file_id: str) -> str:
        asked.append(file_id)
        return legacy_url

    change = v2023_01_05.CHANGE
    before = change.downgrade_response(copy.deepcopy(head_file), MigrationContext(legacy))
    assert asked == [head_file["id"]]
    assert before["attributes"]["url"] == legacy_url
    assert before["attributes"]["url-expires-at"] is None
    rest = {k: v for k, v in before["attributes"].items() if k not in ("url", "url-expires-at")}
    assert rest == {k: v for k, v in head_file["attributes"].items()
                    if k not in ("url", "url-expires-at")}


def test_url_change_on_sparse_resources(legacy_url: str) -> None:
    change = v2023_01_05.CHANGE
    called: list[str] = []
    ctx = MigrationContext(lambda file_id: called.append(file_id) or legacy_url)
    sparse = {"type": "file", "id": "f", "attributes": {"filename": "a"}}
    assert change.downgrade_response(copy.deepcopy(sparse), ctx) == sparse
    assert called == []  # no URL is minted where none is shown
    only_expiry = {"type": "file", "id": "f", "attributes": {"url-expires-at": "x"}}
    assert change.downgrade_response(only_expiry, ctx)["attributes"] == {"url-expires-at": None}
    assert change.downgrade_response({"type": "file", "id": "f"}, ctx) == {"type": "file",
                                                                          "id": "f"}


def test_url_change_needs_the_legacy_url_from_the_api_layer(head_file: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="legacy_file_url"):
        v2023_01_05.CHANGE.downgrade_response(head_file, MigrationContext())
