"""JSON:API through the API (§7): media types (415/406), ``include``, sparse fieldsets, error
objects naming what is at fault, reserved and unsupported parameters."""

from __future__ import annotations

import json

import pytest

from files_service.services import Services
from tests.api.conftest import JSON_API, ApiClient, error_of, minted
from tests.conftest import World


def file_path(world: World, query: str = "") -> str:
    return f"/api/v1/files/{world.file.id}{query}"


# -- media types -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/vnd.api+json; charset=utf-8",
        'application/vnd.api+json; ext="https://example.com/ext"',
        "application/json",
        "text/plain",
        None,
    ],
)
def test_415_for_a_content_type_we_do_not_take(api: ApiClient, content_type):
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = api.post("/api/v1/files", data=b'{"data": {}}', headers=headers)
    assert response.status_code == 415
    assert error_of(response)["source"] == {"header": "Content-Type"}


@pytest.mark.parametrize("path", ["/api/v1/files", "/api/v1/upload-urls"])
@pytest.mark.parametrize("where", ["attribute", "metadata"])
def test_a_number_past_pythons_int_limit_is_a_400(api: ApiClient, path, where):
    # json refuses integers of more than 4,300 digits with a plain ValueError, not a
    # JSONDecodeError: it is a malformed document all the same, never a 500.
    huge = "9" * 5000
    value = ('"max-bytes": ' + huge if where == "attribute"
             else '"metadata": {"n": ' + huge + "}")
    kind = "file" if path.endswith("files") else "upload-url"
    body = ('{"data": {"type": "' + kind + '", "attributes": {"filename": "a.txt", '
            + value + "}}}").encode()
    response = api.post(path, data=body, headers={"Content-Type": JSON_API})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert error_of(response)["source"] == {"pointer": ""}


def test_a_profile_parameter_is_fine(api: ApiClient, services: Services, world: World):
    services.storage.write(f"imports/{world.org.id}/p.txt", iter([b"p"]))
    body = json.dumps({"data": {"type": "file", "attributes": {
        "filename": "p.txt", "storage-key": f"imports/{world.org.id}/p.txt"}}})
    response = api.post("/api/v1/files", data=body, headers={
        "Content-Type": 'application/vnd.api+json; profile="https://example.com/p"'})
    assert response.status_code == 201


@pytest.mark.parametrize(
    "accept",
    ["application/vnd.api+json; charset=utf-8", "text/html",
     'application/vnd.api+json; ext="https://example.com/ext", text/html;q=0.9',
     "application/vnd.api+json; q=0"],
)
def test_406_for_an_accept_we_cannot_satisfy(api: ApiClient, world: World, accept):
    response = api.get(file_path(world), headers={"Accept": accept})
    assert response.status_code == 406
    assert error_of(response)["source"] == {"header": "Accept"}


@pytest.mark.parametrize(
    "accept",
    ["application/vnd.api+json", "*/*", "application/json",
     'application/vnd.api+json; profile="x", application/vnd.api+json; charset=utf-8',
     "application/vnd.files.2025-06-01+json"],
)
def test_acceptable_accept_headers(api: ApiClient, world: World, accept):
    response = api.get(file_path(world), headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == JSON_API


# -- include -----------------------------------------------------------------------------------


def test_no_include_means_no_included(api: ApiClient, world: World):
    assert "included" not in api.get(file_path(world)).get_json(force=True)


def test_empty_include_gives_an_empty_included(api: ApiClient, world: World):
    assert api.get(file_path(world, "?include=")).get_json(force=True)["included"] == []


def test_include_related_resources_once_each(api: ApiClient, world: World):
    document = api.get(
        file_path(world, "?include=organization,created-by,created-by.organization")
    ).get_json(force=True)
    refs = [(item["type"], item["id"]) for item in document["included"]]
    assert refs == [("organization", world.org.id), ("api-key", world.key.id)]


def test_a_two_name_path_brings_the_way_too(api: ApiClient, world: World):
    document = api.get(file_path(world, "?include=created-by.organization")).get_json(force=True)
    assert {item["type"] for item in document["included"]} == {"api-key", "organization"}


def test_include_on_the_read_only_views(api: ApiClient, world: World, services: Services):
    hook = services.registry.create_webhook(world.org.id, url="https://example.com/h")
    for path in (f"/api/v1/api-keys/{world.key.id}", f"/api/v1/webhooks/{hook.id}"):
        document = api.get(f"{path}?include=organization").get_json(force=True)
        assert document["included"][0]["id"] == world.org.id


def test_a_file_uploaded_by_the_cli_has_no_creator(api: ApiClient, world: World,
                                                   services: Services):
    from files_service.files import store_file

    file = store_file(services, world.org.id, iter([b"cli"]), filename="cli.txt",
                      content_type="text/plain")
    document = api.get(f"/api/v1/files/{file.id}?include=created-by").get_json(force=True)
    assert document["data"]["relationships"]["created-by"] == {"data": None}
    assert document["included"] == []


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("?include=created-by.organization.name", "invalid_parameter"),  # three names
        ("?include=owner", "invalid_parameter"),  # unknown relationship
        ("?include=created-by.owner", "invalid_parameter"),
        ("?include=organization,", "invalid_parameter"),
        ("?include=organization&include=created-by", "invalid_parameter"),  # twice
    ],
)
def test_include_errors(api: ApiClient, world: World, query, code):
    response = api.get(file_path(world, query))
    assert response.status_code == 400
    error = response.get_json(force=True)["errors"][0]
    assert error["code"] == code and error["source"] == {"parameter": "include"}


def test_include_is_not_allowed_on_lists(api: ApiClient):
    for path in ("/api/v1/files?include=organization", "/api/v1/files?include=",
                 "/api/v1/versions?include="):
        response = api.get(path)
        assert response.status_code == 400
        assert error_of(response)["source"] == {"parameter": "include"}


# -- sparse fieldsets --------------------------------------------------------------------------


def test_fields_keep_only_the_named_attributes_and_every_relationship(api: ApiClient,
                                                                      world: World):
    data = api.get(file_path(world, "?fields[file]=filename,byte-size")).get_json(
        force=True)["data"]
    assert data["attributes"] == {"filename": "report.pdf", "byte-size": len(world.content)}
    assert set(data["relationships"]) == {"organization", "created-by"}


def test_fields_apply_in_included_too(api: ApiClient, world: World):
    document = api.get(file_path(
        world, "?include=created-by&fields[api-key]=status&fields[file]=filename"
    )).get_json(force=True)
    assert document["included"][0]["attributes"] == {"status": "active"}
    assert document["data"]["attributes"] == {"filename": "report.pdf"}


def test_a_metadata_key_selector(api: ApiClient):
    created = api.upload(b"x", metadata={"project": "apollo", "owner": "ana"}).get_json(
        force=True)["data"]
    data = api.get(f"/api/v1/files/{created['id']}?fields[file]=metadata.project,"
                   "metadata.missing").get_json(force=True)["data"]
    assert data["attributes"] == {"metadata": {"project": "apollo"}}
    both = api.get(f"/api/v1/files/{created['id']}?fields[file]=metadata,metadata.project"
                   ).get_json(force=True)["data"]
    assert both["attributes"] == {"metadata": {"project": "apollo", "owner": "ana"}}


def test_an_empty_fieldset_keeps_no_attribute(api: ApiClient, world: World):
    data = api.get(file_path(world, "?fields[file]=")).get_json(force=True)["data"]
    assert data["attributes"] == {}


def test_fields_select_from_the_version_served(api: ApiClient, world: World):
    data = api.get(file_path(world, "?fields[file]=checksum,url"), version="2022-09-01"
                   ).get_json(force=True)["data"]
    assert data["attributes"]["checksum"] == world.file.checksum
    assert "/api/v1/files/" in data["attributes"]["url"]


def test_a_url_nobody_asked_to_see_is_not_minted(api: ApiClient, world: World,
                                                 services: Services):
    before = minted(services, "current"), minted(services, "legacy")
    api.get(file_path(world, "?fields[file]=filename"))
    api.get(file_path(world, "?fields[file]=filename"), version="2022-09-01")
    api.get("/api/v1/files?fields[file]=byte-size")
    assert (minted(services, "current"), minted(services, "legacy")) == before
    only_expiry = api.get(file_path(world, "?fields[file]=url-expires-at")).get_json(
        force=True)["data"]["attributes"]
    assert only_expiry == {"url-expires-at": "2026-01-01T06:00:00.000Z"}


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?fields[file]=colour", "fields[file]"),
        ("?fields[file]=filename,", "fields[file]"),
        ("?fields[folder]=name", "fields[folder]"),
        ("?fields[file]=created-at.x", "fields[file]"),
    ],
)
def test_fieldset_errors(api: ApiClient, world: World, query, parameter):
    response = api.get(file_path(world, query))
    assert response.status_code == 400
    assert error_of(response)["source"] == {"parameter": parameter}


# -- other parameters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?sort=-created-at", "sort"),
        ("?foo=1", "foo"),
        ("?page=2", "page"),
        ("?filter[name]=x", "filter[name]"),
        ("?page[number]=2", "page[number]"),
        ("?url_ttl=60", "url_ttl"),  # a near miss would mint a URL living far longer
        ("?Include=organization", "Include"),
    ],
)
def test_reserved_and_unsupported_parameters_are_refused(api: ApiClient, query, parameter):
    response = api.get(f"/api/v1/files{query}")
    assert response.status_code == 400
    assert error_of(response)["source"] == {"parameter": parameter}


def test_implementation_specific_parameters_are_ignored(api: ApiClient, world: World):
    assert api.get(file_path(world, "?utm-source=mail&trace_id=7")).status_code == 200


def test_every_bad_parameter_is_reported(api: ApiClient):
    response = api.get("/api/v1/files?sort=x&page[size]=0&foo=1")
    assert response.status_code == 400
    sources = [error["source"]["parameter"]
               for error in response.get_json(force=True)["errors"]]
    assert sources == ["sort", "page[size]", "foo"]


def test_pagination_parameters_only_on_lists(api: ApiClient, world: World):
    for path in (file_path(world, "?page[size]=2"), "/api/v1/versions?page[size]=2",
                 "/api/v1/versions?filter[id]=2022-09-01"):
        response = api.get(path)
        assert response.status_code == 400
        assert "parameter" in error_of(response)["source"]


# -- unknown paths and methods -----------------------------------------------------------------


def test_unknown_paths_and_methods_are_json_api_errors(api: ApiClient, world: World,
                                                       anonymous: ApiClient):
    missing = api.get("/api/v1/folders")
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    wrong = api.request("PATCH", file_path(world))
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "DELETE, GET, HEAD, OPTIONS"
    assert error_of(wrong)["code"] == "method_not_allowed"
    # Without credentials, nothing at all is said about the API's paths.
    assert anonymous.get("/api/v1/folders").status_code == 401


def test_a_trailing_slash_is_the_same_endpoint(api: ApiClient, world: World):
    assert api.get("/api/v1/files/").status_code == 200
    assert api.get(f"/api/v1/organizations/{world.org.id}/").status_code == 200


def test_the_rest_of_the_app_is_left_alone(api: ApiClient):
    client = api.app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 200 and "Files-Version" not in health.headers
    assert client.get("/nothing-here").status_code in (403, 404)


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer fsk_unknown", "Bearer a b",
     "bearer fsk_unknown"],
)
def test_every_401_is_the_same(anonymous: ApiClient, world: World, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = anonymous.get(file_path(world), headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="files"'
    error = error_of(response)
    assert error["code"] == "unauthorized"
    assert error["source"] == {"header": "Authorization"}


def test_a_revoked_key_is_refused_like_an_unknown_one(api: ApiClient, world: World,
                                                      services: Services, make_key):
    key, secret = make_key(world.org)
    assert api.as_caller(secret).get(file_path(world)).status_code == 200
    services.registry.revoke_principal(key.id)
    response = api.as_caller(secret).get(file_path(world))
    assert response.status_code == 401
    unknown = api.as_caller("fsk_" + "x" * 43).get(file_path(world))
    assert response.get_json(force=True) == unknown.get_json(force=True)
    assert services.metrics.registry.get_sample_value(
        "files_auth_failures_total", {"kind": "api_key"}) == 2
