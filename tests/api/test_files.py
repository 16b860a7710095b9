"""``/api/v1/files`` (§5): upload, register, read, list, batch minting, delete, and the
minting parameters."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from files_service.files import store_file
from files_service.services import Services
from tests.api.conftest import JSON_API, ApiClient, error_of, minted
from tests.conftest import World, path_of


def objects(services: Services) -> list[str]:
    """Every object in the (local) storage of the test, temporary area left out."""
    from pathlib import Path

    root = Path(services.storage.url.removeprefix("local://"))
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*")
        if p.is_file() and not str(p.relative_to(root)).startswith(".tmp")
    )


def test_upload_stores_registers_and_mints(api: ApiClient, services: Services, world: World):
    content = b"hello, world\n" * 100
    before = minted(services, "current")
    response = api.upload(content, "hello.txt", metadata={"project": "apollo"})
    assert response.status_code == 201
    data = response.get_json(force=True)["data"]
    assert response.headers["Location"] == f"https://api.example.com/api/v1/files/{data['id']}"
    attributes = data["attributes"]
    assert attributes["filename"] == "hello.txt"
    assert attributes["content-type"] == "text/plain"
    assert attributes["byte-size"] == len(content)
    assert attributes["checksum"] == {
        "algorithm": "sha256", "value": hashlib.sha256(content).hexdigest()
    }
    assert attributes["metadata"] == {"project": "apollo"}
    assert attributes["url"].startswith("https://files.example.com/hello.txt?access_token=")
    assert attributes["url-expires-at"] == "2026-01-01T06:00:00.000Z"
    assert data["relationships"] == {
        "organization": {"data": {"type": "organization", "id": world.org.id}},
        "created-by": {"data": {"type": "api-key", "id": world.key.id}},
    }
    assert minted(services, "current") == before + 1
    download = api.as_caller(None).get(path_of(attributes["url"]))
    assert download.status_code == 200 and download.data == content
    stored = services.registry.get_file(data["id"])
    assert stored.storage_key == f"{world.org.id}/{data['id']}"


def test_upload_content_type_defaults_to_a_guess(api: ApiClient):
    response = api.upload(b"%PDF-1.7", "paper.pdf", content_type=None)
    assert response.get_json(force=True)["data"]["attributes"]["content-type"] == "application/pdf"


def test_upload_with_a_unicode_filename(api: ApiClient):
    response = api.upload(b"x", "résumé 2026.txt")
    assert response.status_code == 201
    attributes = response.get_json(force=True)["data"]["attributes"]
    assert attributes["filename"] == "résumé 2026.txt"
    assert "/r%C3%A9sum%C3%A9%202026.txt?access_token=" in attributes["url"]


# Control characters (Cc) and invisible format characters (Cf), which make a name read
# otherwise than it is: "invoice\u202efdp.exe" shows as "invoiceexe.pdf".
UNREADABLE_NAMES = [
    "a\x01b", "a\x7fb", "a\x85b", "invoice\u202efdp.exe", "\u2066x\u2069.txt", "\ufeffa.txt",
    "a\u200bb.txt", "a\u200fb.txt", "a\u00adb.txt",
]


@pytest.mark.parametrize(
    ("filename", "pointer"),
    [("x" * 256, "/file/filename"), ("..", "/file/filename")]
    + [(name, "/file/filename") for name in UNREADABLE_NAMES],
)
def test_upload_refuses_a_bad_filename(api: ApiClient, services: Services, filename, pointer):
    response = api.upload(b"data", filename)
    assert response.status_code == 400
    assert error_of(response)["source"] == {"pointer": pointer}
    assert len(services.registry.list_files(api_org(services, api), limit=10)[0]) == 1


def api_org(services: Services, api: ApiClient) -> str:
    key = services.registry.authenticate(api.secret or "")
    assert key is not None
    return key.organization_id


def test_register_reads_size_and_checksum_from_storage(api: ApiClient, services: Services,
                                                        world: World):
    content = b"stored by the main API"
    services.storage.write(f"imports/{world.org.id}/contract.pdf", iter([content]))
    response = api.register({
        "filename": "contract.pdf", "content-type": "application/pdf",
        "storage-key": f"imports/{world.org.id}/contract.pdf", "metadata": {"deal": "42"},
    })
    assert response.status_code == 201
    attributes = response.get_json(force=True)["data"]["attributes"]
    assert attributes["byte-size"] == len(content)
    assert attributes["checksum"]["value"] == hashlib.sha256(content).hexdigest()
    assert attributes["metadata"] == {"deal": "42"}
    download = api.as_caller(None).get(path_of(attributes["url"]))
    assert download.data == content


def test_register_guesses_a_missing_content_type(api: ApiClient, services: Services,
                                                 world: World):
    services.storage.write(f"imports/{world.org.id}/a.png", iter([b"png"]))
    response = api.register({"filename": "a.png", "storage-key": f"imports/{world.org.id}/a.png"})
    assert response.get_json(force=True)["data"]["attributes"]["content-type"] == "image/png"


IMPORTED = "imports/{org}/x"


@pytest.mark.parametrize(
    ("attributes", "status", "pointer"),
    [
        ({"filename": "a.txt", "storage-key": "imports/{org}/nothing/here"}, 400,
         "/data/attributes/storage-key"),
        ({"filename": "a.txt", "storage-key": "../etc/passwd"}, 403,
         "/data/attributes/storage-key"),
        ({"filename": "a.txt", "storage-key": 7}, 400, "/data/attributes/storage-key"),
        ({"filename": "a.txt"}, 400, "/data/attributes/storage-key"),
        ({"storage-key": IMPORTED}, 400, "/data/attributes/filename"),
        ({"filename": "a/b", "storage-key": IMPORTED}, 400, "/data/attributes/filename"),
        ({"filename": 5, "storage-key": IMPORTED}, 400, "/data/attributes/filename"),
        ({"filename": "a", "storage-key": IMPORTED, "content-type": "nope"}, 400,
         "/data/attributes/content-type"),
        ({"filename": "a", "storage-key": IMPORTED, "metadata": [1]}, 400,
         "/data/attributes/metadata"),
        ({"filename": "a", "storage-key": IMPORTED, "checksum": "00"}, 400,
         "/data/attributes/checksum"),
        ({"filename": "a", "storage-key": IMPORTED, "colour": "red"}, 400,
         "/data/attributes/colour"),
    ],
)
def test_register_errors_point_at_the_member(
    api: ApiClient, services: Services, world: World, attributes, status, pointer
):
    services.storage.write(IMPORTED.format(org=world.org.id), iter([b"x"]))
    if isinstance(attributes.get("storage-key"), str):
        attributes = {**attributes, "storage-key": attributes["storage-key"].format(
            org=world.org.id)}
    response = api.register(attributes)
    assert response.status_code == status
    assert error_of(response)["source"] == {"pointer": pointer}


@pytest.mark.parametrize(
    ("key", "status"),
    [
        # In the import folder, but no storage can hold it: a bad value.
        ("imports/{org}/" + "x" * 256, 400),  # a segment longer than a filesystem takes
        ("imports/{org}/" + "x" * 1025, 400),
        ("imports/{org}/a\x00b", 400),
        ("imports/{org}/a\nb", 400),
        # Anywhere else, whatever storage would say of it: out of reach.
        (".tmp/x", 403),  # local storage's temporary area
        (".TMP/x.part", 403),
        ("imports/{org}/../b", 403),
        ("../b", 403),
        ("/etc/passwd", 403),
        ("imports/{org}//b", 403),
        ("imports/{org}/a/", 403),
        ("imports/{org}/./b", 403),
        ("imports/{org}/a\\b", 403),
        ("", 403),
    ],
)
def test_register_refuses_keys_storage_cannot_hold_naming_the_attribute(
    api: ApiClient, services: Services, world: World, caplog: pytest.LogCaptureFixture,
    key: str, status: int,
):
    """Any key the storage backend refuses is the client's mistake: a 4xx on the attribute,
    never a 500 with a traceback in the log, and nothing registered."""
    (Path(services.storage.url.removeprefix("local://")) / ".tmp" / "x").write_bytes(b"temp")
    before = objects(services)
    with caplog.at_level(logging.WARNING, logger="files_service"):
        response = api.register({"filename": "a.txt",
                                 "storage-key": key.replace("{org}", world.org.id)})
    assert response.status_code == status, response.get_data(as_text=True)
    error = error_of(response)
    assert error["source"] == {"pointer": "/data/attributes/storage-key"}
    assert ("storage key" if status == 400 else "import folder") in error["detail"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(services.registry.list_files(api_org(services, api), limit=100)[0]) == 1
    assert objects(services) == before


@pytest.mark.parametrize("filename", UNREADABLE_NAMES)
def test_register_refuses_an_unreadable_filename(
    api: ApiClient, services: Services, world: World, filename: str
):
    services.storage.write(f"imports/{world.org.id}/x", iter([b"x"]))
    response = api.register({"filename": filename, "storage-key": f"imports/{world.org.id}/x"})
    assert response.status_code == 400
    error = error_of(response)
    assert error["source"] == {"pointer": "/data/attributes/filename"}
    assert f"U+{ord(next(c for c in filename if not c.isprintable())):04X}" in error["detail"]


def test_register_refuses_the_services_own_uploads(api: ApiClient, world: World, other: World):
    for key in (other.file.storage_key, world.file.storage_key):
        response = api.register({"filename": "stolen.txt", "storage-key": key})
        assert response.status_code == 403
        assert error_of(response)["code"] == "forbidden"
        assert error_of(response)["source"] == {"pointer": "/data/attributes/storage-key"}


@pytest.mark.parametrize(
    ("body", "status", "pointer"),
    [
        (b"{not json", 400, ""),
        (b"[1, 2]", 400, ""),
        (b'{"data": []}', 400, "/data"),
        (b'{"data": {"attributes": {}}}', 400, "/data/type"),
        (b'{"data": {"type": "files", "attributes": {}}}', 409, "/data/type"),
        (b'{"data": {"type": "file", "id": "file_x", "attributes": {}}}', 403, "/data/id"),
        (b'{"data": {"type": "file", "attributes": 3}}', 400, "/data/attributes"),
        (b'{"data": {"type": "file", "attributes": {}, "relationships": {}}}', 400,
         "/data/relationships"),
    ],
)
def test_register_document_errors(api: ApiClient, body, status, pointer):
    response = api.post("/api/v1/files", data=body, headers={"Content-Type": JSON_API})
    assert response.status_code == status
    assert error_of(response)["source"] == {"pointer": pointer}


def test_register_body_has_a_size_limit(api: ApiClient):
    body = b'{"data": {"type": "file", "attributes": {"filename": "' + b"a" * (1 << 20) + b'"}}}'
    response = api.post("/api/v1/files", data=body, headers={"Content-Type": JSON_API})
    assert response.status_code == 413
    assert error_of(response)["source"] == {"pointer": ""}


def test_get_mints_a_fresh_url(api: ApiClient, world: World, clock, services: Services):
    first = api.get(f"/api/v1/files/{world.file.id}").get_json(force=True)["data"]
    clock.advance(3600)
    second = api.get(f"/api/v1/files/{world.file.id}").get_json(force=True)["data"]
    assert first["attributes"]["url"] != second["attributes"]["url"]
    assert second["attributes"]["url-expires-at"] == "2026-01-01T07:00:00.000Z"
    assert second["attributes"]["checksum"]["value"] == world.file.checksum


def test_another_organizations_file_is_not_found(api: ApiClient, other: World,
                                                 services: Services):
    for response in (api.get(f"/api/v1/files/{other.file.id}"),
                     api.delete(f"/api/v1/files/{other.file.id}"),
                     api.get("/api/v1/files/file_doesnotexist0000000000")):
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"
    # ...and the DELETE touched nothing of theirs: the row and its object are still there.
    assert services.registry.get_file(other.file.id) == other.file
    stream = services.storage.open(other.file.storage_key)
    try:
        assert b"".join(stream) == b"theirs"
    finally:
        stream.close()


def test_delete_removes_row_and_object_and_voids_urls(
    api: ApiClient, world: World, services: Services
):
    url = api.get(f"/api/v1/files/{world.file.id}").get_json(force=True)["data"]["attributes"][
        "url"]
    response = api.delete(f"/api/v1/files/{world.file.id}")
    assert response.status_code == 204
    assert response.data == b""
    assert response.headers["Files-Version"] == "2025-06-01"
    assert api.get(f"/api/v1/files/{world.file.id}").status_code == 404
    assert world.file.storage_key not in objects(services)
    assert api.as_caller(None).get(path_of(url)).status_code == 404


def add_files(services: Services, world: World, clock, count: int) -> list[str]:
    ids = []
    for n in range(count):
        clock.advance(1)
        ids.append(store_file(services, world.org.id, iter([b"%d" % n]), filename=f"f{n}.txt",
                              content_type="text/plain").id)
    return ids


def test_list_is_newest_first_with_cursor_pagination(api: ApiClient, world: World, clock,
                                                     services: Services):
    ids = add_files(services, world, clock, 5)
    expected = [*reversed(ids), world.file.id]
    seen: list[str] = []
    response = api.get("/api/v1/files?page[size]=2&fields[file]=filename")
    pages = 0
    while True:
        document = response.get_json(force=True)
        seen += [item["id"] for item in document["data"]]
        pages += 1
        if document["links"]["next"] is None:
            break
        assert "fields%5Bfile%5D=filename" in document["links"]["next"]
        response = api.get(path_of(document["links"]["next"]))
    assert seen == expected
    assert pages == 3


def test_pagination_is_stable_under_concurrent_inserts(api: ApiClient, world: World, clock,
                                                      services: Services):
    ids = add_files(services, world, clock, 4)
    first = api.get("/api/v1/files?page[size]=2").get_json(force=True)
    assert [item["id"] for item in first["data"]] == [ids[3], ids[2]]
    add_files(services, world, clock, 3)  # newer files arrive while the client pages
    second = api.get(path_of(first["links"]["next"])).get_json(force=True)
    assert [item["id"] for item in second["data"]] == [ids[1], ids[0]]
    third = api.get(path_of(second["links"]["next"])).get_json(force=True)
    assert [item["id"] for item in third["data"]] == [world.file.id]
    assert third["links"]["next"] is None


def test_list_default_page_size_and_bad_cursor(api: ApiClient, world: World, clock,
                                               services: Services):
    add_files(services, world, clock, 30)
    document = api.get("/api/v1/files").get_json(force=True)
    assert len(document["data"]) == 25
    assert document["links"]["self"] == "https://api.example.com/api/v1/files"
    cursor = parse_qs(urlsplit(document["links"]["next"]).query)["page[after]"][0]
    assert len(api.get(f"/api/v1/files?page[after]={cursor}").get_json(force=True)["data"]) == 6
    response = api.get("/api/v1/files?page[after]=bm9wZQ")
    assert response.status_code == 400
    assert error_of(response)["source"] == {"parameter": "page[after]"}


def test_list_shows_only_the_callers_files(api: ApiClient, world: World, other: World):
    document = api.get("/api/v1/files").get_json(force=True)
    assert [item["id"] for item in document["data"]] == [world.file.id]


def test_batch_minting_with_filter_id(api: ApiClient, world: World, other: World, clock,
                                      services: Services):
    ids = add_files(services, world, clock, 3)
    wanted = [ids[0], other.file.id, world.file.id, "file_" + "Z" * 22, ids[2]]
    before = minted(services, "current")
    response = api.get("/api/v1/files?filter[id]=" + ",".join(wanted))
    assert response.status_code == 200
    document = response.get_json(force=True)
    # In the order asked; unknown ids and other organizations' are simply left out.
    assert [item["id"] for item in document["data"]] == [ids[0], world.file.id, ids[2]]
    assert all("access_token=" in item["attributes"]["url"] for item in document["data"])
    assert document["links"]["next"] is None
    assert minted(services, "current") == before + 3


def test_batch_of_a_hundred_files_in_one_response(api: ApiClient, world: World, clock,
                                                  services: Services):
    ids = add_files(services, world, clock, 100)
    response = api.get("/api/v1/files?filter[id]=" + ",".join(ids))
    assert len(response.get_json(force=True)["data"]) == 100
    too_many = api.get("/api/v1/files?filter[id]=" + ",".join([*ids, world.file.id]))
    assert too_many.status_code == 400
    assert error_of(too_many)["source"] == {"parameter": "filter[id]"}


def test_filter_id_does_not_combine_with_pages(api: ApiClient, world: World):
    response = api.get(f"/api/v1/files?filter[id]={world.file.id}&page[size]=5")
    assert response.status_code == 400
    assert error_of(response)["source"] == {"parameter": "page[size]"}


def test_url_ttl_shortens_and_longer_is_refused(api: ApiClient, world: World, services):
    response = api.get(f"/api/v1/files/{world.file.id}?url-ttl=60")
    assert response.get_json(force=True)["data"]["attributes"]["url-expires-at"] == (
        "2026-01-01T00:01:00.000Z")
    for value in ("21601", "86400"):
        refused = api.get(f"/api/v1/files/{world.file.id}?url-ttl={value}")
        assert refused.status_code == 400
        error = error_of(refused)
        assert error["source"] == {"parameter": "url-ttl"}
        assert "21600" in error["detail"]
    for value in ("0", "abc", "86401"):
        assert error_of(api.get(f"/api/v1/files?url-ttl={value}"))["source"] == {
            "parameter": "url-ttl"}


def test_a_longer_url_ttl_refuses_an_upload_before_storing(api: ApiClient, services: Services):
    response = api.upload(b"data", query="?url-ttl=90000")
    assert response.status_code == 400
    assert len(objects(services)) == 1


def test_url_disposition_attachment(api: ApiClient, world: World):
    response = api.get(f"/api/v1/files/{world.file.id}?url-disposition=attachment")
    url = response.get_json(force=True)["data"]["attributes"]["url"]
    download = api.as_caller(None).get(path_of(url))
    assert download.headers["Content-Disposition"].startswith("attachment;")
    bad = api.get(f"/api/v1/files/{world.file.id}?url-disposition=download")
    assert error_of(bad)["source"] == {"parameter": "url-disposition"}


def test_minting_parameters_only_where_files_are_returned(api: ApiClient, world: World):
    for path in (f"/api/v1/api-keys/{world.key.id}?url-ttl=5",
                 f"/api/v1/organizations/{world.org.id}?url-disposition=inline",
                 "/api/v1/versions?webhook-id=wbh_" + "a" * 22):
        response = api.get(path)
        assert response.status_code == 400
        assert "parameter" in error_of(response)["source"]
    response = api.delete(f"/api/v1/files/{world.file.id}?url-ttl=5")
    assert error_of(response)["source"] == {"parameter": "url-ttl"}


def test_webhook_id_mints_in_the_webhooks_context(api: ApiClient, world: World, services):
    hook = services.registry.create_webhook(
        world.org.id, url="https://example.com/hook", file_url_ttl=600, api_version="2023-01-05"
    )
    response = api.get(f"/api/v1/files/{world.file.id}?webhook-id={hook.id}")
    assert response.headers["Files-Version"] == "2023-01-05"
    attributes = response.get_json(force=True)["data"]["attributes"]
    assert isinstance(attributes["checksum"], str)  # the webhook's version's shape
    assert attributes["url-expires-at"] == "2026-01-01T00:10:00.000Z"  # its TTL
    token = parse_qs(urlsplit(attributes["url"]).query)["access_token"][0]
    assert hook.id in token
    longer = api.get(f"/api/v1/files/{world.file.id}?webhook-id={hook.id}&url-ttl=601")
    assert error_of(longer)["source"] == {"parameter": "url-ttl"}
    services.registry.revoke_principal(hook.id)
    revoked = api.get(f"/api/v1/files/{world.file.id}?webhook-id={hook.id}")
    assert revoked.status_code == 400
    assert error_of(revoked)["source"] == {"parameter": "webhook-id"}


def test_webhook_of_another_organization_is_not_found(api: ApiClient, world: World,
                                                      other: World, services):
    hook = services.registry.create_webhook(other.org.id, url="https://example.com/hook")
    for webhook_id in (hook.id, "wbh_" + "Q" * 22):
        response = api.get(f"/api/v1/files/{world.file.id}?webhook-id={webhook_id}")
        assert response.status_code == 404
        assert error_of(response)["source"] == {"parameter": "webhook-id"}
    malformed = api.get(f"/api/v1/files/{world.file.id}?webhook-id=key_x")
    assert malformed.status_code == 400
    assert error_of(malformed)["source"] == {"parameter": "webhook-id"}


def test_read_only_views(api: ApiClient, world: World, other: World, services: Services):
    hook = services.registry.create_webhook(world.org.id, url="https://example.com/h")
    key = api.get(f"/api/v1/api-keys/{world.key.id}").get_json(force=True)["data"]
    assert key["attributes"] == {
        "name": "main", "status": "active", "file-url-ttl": 21600, "api-version": "2025-06-01",
        "created-at": "2026-01-01T00:00:00.000Z",
    }
    assert "secret" not in str(key)
    webhook = api.get(f"/api/v1/webhooks/{hook.id}").get_json(force=True)["data"]
    assert webhook["attributes"]["url"] == "https://example.com/h"
    assert webhook["relationships"]["organization"]["data"]["id"] == world.org.id
    org = api.get(f"/api/v1/organizations/{world.org.id}").get_json(force=True)["data"]
    assert org == {"type": "organization", "id": world.org.id,
                   "attributes": {"name": "Acme", "created-at": "2026-01-01T00:00:00.000Z",
                                  "storage-quota": None, "storage-used": len(world.content)}}
    other_hook = services.registry.create_webhook(other.org.id, url="https://example.com/o")
    for path in (f"/api/v1/api-keys/{other.key.id}", f"/api/v1/webhooks/{other_hook.id}",
                 f"/api/v1/organizations/{other.org.id}", "/api/v1/api-keys/key_nope",
                 "/api/v1/webhooks/nope"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert error_of(response)["code"] == "not_found"
