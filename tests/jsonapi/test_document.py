"""Response documents (§7): resource objects, included (deduplicated), sparse fieldsets."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from files_service.jsonapi.document import (
    Resource,
    apply_fieldset,
    build_document,
    resolve_includes,
)

ORG = Resource("organization", "org_1", {"name": "Acme", "created-at": "2026-01-01T00:00:00Z"})
OTHER_ORG = Resource(
    "organization", "org_2", {"name": "Other", "created-at": "2026-01-02T00:00:00Z"}
)
KEY = Resource(
    "api-key", "key_1",
    {"name": "main", "status": "active", "file-url-ttl": 21600, "api-version": "2025-06-01",
     "created-at": "2026-01-01T00:00:00Z"},
    {"organization": ("organization", "org_1")},
)


def file_resource(ident: str = "file_1", created_by: str | None = "key_1") -> Resource:
    return Resource(
        "file", ident,
        {
            "filename": "report.pdf",
            "content-type": "application/pdf",
            "byte-size": 3,
            "checksum": {"algorithm": "sha256", "value": "ab" * 32},
            "metadata": {"project": "apollo", "owner": "ana", "nested": {"a": 1}},
            "created-at": "2026-01-01T00:00:00Z",
            "url": "https://files.example.com/report.pdf?access_token=t",
            "url-expires-at": "2026-01-01T06:00:00Z",
        },
        {
            "organization": ("organization", "org_1"),
            "created-by": ("api-key", created_by) if created_by else None,
        },
    )


STORE = {r.ref: r for r in (ORG, OTHER_ORG, KEY)}


class CountingLoader:
    def __init__(self, store: dict[tuple[str, str], Resource]) -> None:
        self.store = store
        self.calls: list[tuple[str, str]] = []

    def __call__(self, type_name: str, ident: str) -> Resource | None:
        self.calls.append((type_name, ident))
        return self.store.get((type_name, ident))


def test_single_resource_document(validate: Any) -> None:
    document = build_document(file_resource())
    validate(document)
    assert set(document) == {"data"}
    data = document["data"]
    assert data["type"] == "file" and data["id"] == "file_1"
    assert data["attributes"]["checksum"] == {"algorithm": "sha256", "value": "ab" * 32}
    assert data["relationships"] == {
        "organization": {"data": {"type": "organization", "id": "org_1"}},
        "created-by": {"data": {"type": "api-key", "id": "key_1"}},
    }


def test_empty_to_one_and_to_many_relationships(validate: Any) -> None:
    resource = Resource(
        "inquiry", "inq_1", {"status": "approved"},
        {"template": None, "reports": [], "sessions": [("session", "s1"), ("session", "s2")]},
    )
    document = build_document(resource)
    validate(document)
    assert document["data"]["relationships"] == {
        "template": {"data": None},
        "reports": {"data": []},
        "sessions": {"data": [{"type": "session", "id": "s1"}, {"type": "session", "id": "s2"}]},
    }
    assert resource.related("sessions") == [("session", "s1"), ("session", "s2")]
    assert resource.related("template") == [] and resource.related("absent") == []


def test_resource_without_relationships_links_and_meta(validate: Any) -> None:
    resource = Resource("organization", "org_1", {"name": "Acme"},
                        links={"self": "https://api.example.com/api/v1/organizations/org_1"},
                        meta={"note": "x"})
    obj = build_document(resource)["data"]
    assert "relationships" not in obj
    assert obj["links"] == {"self": "https://api.example.com/api/v1/organizations/org_1"}
    assert obj["meta"] == {"note": "x"}
    validate(build_document(resource))


def test_list_document_with_top_level_links_and_meta(validate: Any) -> None:
    document = build_document(
        [file_resource("file_1"), file_resource("file_2", None)],
        links={"self": "https://api.example.com/api/v1/files",
               "next": "https://api.example.com/api/v1/files?page%5Bafter%5D=c"},
        meta={"page-size": 2},
    )
    validate(document)
    assert [d["id"] for d in document["data"]] == ["file_1", "file_2"]
    assert document["data"][1]["relationships"]["created-by"] == {"data": None}
    assert document["links"]["next"].endswith("c")
    assert document["meta"] == {"page-size": 2}
    assert "included" not in document


def test_empty_list_and_null_data(validate: Any) -> None:
    empty = build_document([])
    validate(empty)
    assert empty == {"data": []}
    null = build_document(None)
    validate(null)
    assert null == {"data": None}


def test_included_empty_list_is_kept(validate: Any) -> None:
    document = build_document(file_resource(), included=[])
    validate(document)
    assert document["included"] == []


def test_included_dedupes_and_never_repeats_the_primary(validate: Any) -> None:
    primary = file_resource()
    document = build_document(
        primary, included=[ORG, KEY, ORG, file_resource(), KEY, OTHER_ORG]
    )
    validate(document)
    assert [(r["type"], r["id"]) for r in document["included"]] == [
        ("organization", "org_1"), ("api-key", "key_1"), ("organization", "org_2"),
    ]


def test_included_never_repeats_a_primary_of_a_list(validate: Any) -> None:
    document = build_document([ORG, OTHER_ORG], included=[OTHER_ORG, KEY])
    validate(document)
    assert [r["id"] for r in document["included"]] == ["key_1"]


def test_sparse_fieldsets_apply_to_data_and_included(validate: Any) -> None:
    document = build_document(
        file_resource(),
        included=[ORG, KEY],
        fieldsets={"file": ["filename", "url"], "api-key": ["name"]},
    )
    validate(document)
    assert document["data"]["attributes"] == {
        "filename": "report.pdf", "url": "https://files.example.com/report.pdf?access_token=t",
    }
    # relationships stay: a deliberate departure from JSON:API
    assert set(document["data"]["relationships"]) == {"organization", "created-by"}
    org, key = document["included"]
    assert org["attributes"] == ORG.attributes  # no fieldset for this type
    assert key["attributes"] == {"name": "main"}
    assert key["relationships"] == {"organization": {"data": {"type": "organization",
                                                              "id": "org_1"}}}


def test_metadata_key_selectors(validate: Any) -> None:
    def attributes(selectors: list[str]) -> dict[str, Any]:
        document = build_document(file_resource(), fieldsets={"file": selectors})
        validate(document)
        return document["data"]["attributes"]

    assert attributes(["metadata.project"]) == {"metadata": {"project": "apollo"}}
    assert attributes(["metadata.project", "metadata.nested", "filename"]) == {
        "filename": "report.pdf", "metadata": {"project": "apollo", "nested": {"a": 1}},
    }
    assert attributes(["metadata.missing"]) == {"metadata": {}}
    assert attributes(["metadata", "metadata.project"])["metadata"] == {
        "project": "apollo", "owner": "ana", "nested": {"a": 1},
    }
    assert attributes([]) == {}
    assert attributes(["organization"]) == {}  # a relationship name selects no attribute


def test_apply_fieldset_keeps_order_and_odd_values() -> None:
    obj = {"type": "t", "id": "1", "attributes": {"b": 1, "a": 2, "metadata": None}}
    assert list(apply_fieldset(obj, ["a", "b"])["attributes"]) == ["b", "a"]
    assert apply_fieldset(obj, ["metadata.k"])["attributes"] == {"metadata": None}
    assert apply_fieldset({"type": "t", "id": "1"}, ["a"]) == {
        "type": "t", "id": "1", "attributes": {},
    }


def test_transform_runs_before_fieldsets(validate: Any) -> None:
    seen: list[dict[str, Any]] = []

    def transform(obj: dict[str, Any]) -> dict[str, Any]:
        seen.append(copy.deepcopy(obj))
        if obj["type"] == "file":
            obj["attributes"]["url"] = "legacy"
        return obj

    document = build_document(
        file_resource(), included=[ORG], fieldsets={"file": ["url"]}, transform=transform
    )
    validate(document)
    assert document["data"]["attributes"] == {"url": "legacy"}
    assert "filename" in seen[0]["attributes"]  # the transform saw the full resource
    assert [obj["type"] for obj in seen] == ["file", "organization"]


def test_inputs_are_not_modified() -> None:
    primary = file_resource()
    before = copy.deepcopy(primary)

    def vandal(obj: dict[str, Any]) -> dict[str, Any]:
        obj["attributes"]["metadata"]["project"] = "changed"
        return obj

    meta = {"a": {"b": 1}}
    document = build_document(primary, transform=vandal, meta=meta)
    document["meta"]["a"]["b"] = 2
    assert primary == before
    assert meta == {"a": {"b": 1}}


def test_resolve_includes_one_and_two_names() -> None:
    loader = CountingLoader(STORE)
    primary = file_resource()
    assert resolve_includes(primary, ["organization"], loader) == [ORG]
    assert resolve_includes(primary, [], loader) == []
    # a two-name path includes the resources along the way (full linkage)
    assert resolve_includes(primary, ["created-by.organization"], loader) == [KEY, ORG]
    assert resolve_includes(primary, ["organization", "created-by", "created-by.organization"],
                            loader) == [ORG, KEY]


def test_resolve_includes_loads_each_resource_once() -> None:
    loader = CountingLoader(STORE)
    resolve_includes(file_resource(), ["organization", "created-by.organization"], loader)
    assert sorted(loader.calls) == [("api-key", "key_1"), ("organization", "org_1")]


def test_resolve_includes_skips_what_the_loader_cannot_find_and_empty_links() -> None:
    loader = CountingLoader({})
    assert resolve_includes(file_resource(), ["created-by.organization"], loader) == []
    assert resolve_includes(file_resource(created_by=None), ["created-by"],
                            CountingLoader(STORE)) == []


def test_resolve_includes_never_returns_a_primary_and_handles_lists(validate: Any) -> None:
    loader = CountingLoader(STORE)
    # the key's organization is a primary resource here: not included, but followed through
    assert resolve_includes([ORG, KEY], ["organization"], loader) == []
    assert loader.calls == []
    files = [file_resource("file_1"), file_resource("file_2")]
    included = resolve_includes(files, ["created-by.organization"], loader)
    assert included == [KEY, ORG]
    validate(build_document(files, included=included))


@pytest.mark.parametrize("paths", [["organization"], ["created-by.organization", "organization"]])
def test_included_document_is_valid(paths: list[str], validate: Any) -> None:
    primary = file_resource()
    included = resolve_includes(primary, paths, CountingLoader(STORE))
    document = build_document(primary, included=included, fieldsets={"organization": ["name"]})
    validate(document)
    assert all(r["attributes"] == {"name": "Acme"} for r in document["included"]
               if r["type"] == "organization")
