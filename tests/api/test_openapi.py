"""``GET /api/v1/openapi.json`` (§5): a valid OpenAPI 3.1 document per version, whose schemas
describe what that version really serves."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator

from files_service.api.openapi import openapi_document
from files_service.api.resources import ATTRIBUTES
from files_service.api.schemas import attribute_names, head_schemas
from files_service.services import Services
from files_service.versioning import BUNDLE
from tests.api.conftest import ApiClient, error_of
from tests.conftest import World


def spec_for(api: ApiClient, version: str) -> dict[str, Any]:
    response = api.get("/api/v1/openapi.json", version=version)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Files-Version"] == version
    return response.get_json()  # type: ignore[no-any-return]


def conforms(spec: dict[str, Any], schema_name: str, document: Any) -> None:
    """Assert ``document`` matches ``components.schemas[schema_name]`` of ``spec``."""
    validator = Draft202012Validator(
        {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    )
    problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    assert not problems, problems


@pytest.mark.parametrize("version", BUNDLE.versions)
def test_a_valid_openapi_31_document_per_version(api: ApiClient, version: str):
    spec = spec_for(api, version)
    OpenAPIV31SpecValidator(spec).validate()
    assert spec["openapi"].startswith("3.1")
    assert spec["info"]["version"] == version
    assert spec["servers"] == [{"url": "https://api.example.com/api/v1"}]


def test_unstable_is_described_where_enabled(make_app, validate, world_factory_openapi):
    app = make_app(enable_unstable=True)
    client = world_factory_openapi(app)
    spec = spec_for(client, "unstable")
    OpenAPIV31SpecValidator(spec).validate()
    assert spec["components"]["schemas"] == head_schemas()


@pytest.fixture
def world_factory_openapi(validate: Any):  # type: ignore[no-untyped-def]
    from files_service import get_services
    from tests.conftest import make_world

    def make(app):  # type: ignore[no-untyped-def]
        return ApiClient(app, validate, make_world(get_services(app)).secret)

    return make


def test_each_version_describes_its_own_file_shape(api: ApiClient):
    checksum = {v: spec_for(api, v)["components"]["schemas"]["FileAttributes"]["properties"]
                for v in BUNDLE.versions}
    assert checksum["2025-06-01"]["checksum"]["type"] == "object"
    assert checksum["2023-01-05"]["checksum"]["type"] == "string"
    assert checksum["2023-01-05"]["url"]["description"].startswith("A download URL")
    assert checksum["2022-09-01"]["url"]["description"].startswith("A legacy download URL")
    assert checksum["2022-09-01"]["url-expires-at"] == {
        "type": "null", "description": "Always null: legacy URLs do not expire by time."}


@pytest.mark.parametrize("version", BUNDLE.versions)
def test_what_each_version_serves_matches_its_description(
    api: ApiClient, world: World, services: Services, version: str
):
    spec = spec_for(api, version)
    hook = services.registry.create_webhook(world.org.id, url="https://example.com/h")
    services.storage.write(f"imports/{world.org.id}/a.txt", iter([b"a"]))
    cases = [
        ("FileDocument", api.upload(b"x", metadata={"a": "b"}, version=version)),
        ("FileDocument", api.register({"filename": "a.txt",
                                       "storage-key": f"imports/{world.org.id}/a.txt"},
                                      version=version)),
        ("FileDocument", api.get(f"/api/v1/files/{world.file.id}?include=created-by,"
                                 "organization", version=version)),
        ("FileListDocument", api.get("/api/v1/files?page[size]=1", version=version)),
        ("ApiKeyDocument", api.get(f"/api/v1/api-keys/{world.key.id}?include=organization",
                                   version=version)),
        ("WebhookDocument", api.get(f"/api/v1/webhooks/{hook.id}", version=version)),
        ("OrganizationDocument", api.get(f"/api/v1/organizations/{world.org.id}",
                                         version=version)),
        ("VersionListDocument", api.get("/api/v1/versions", version=version)),
        ("ErrorDocument", api.get("/api/v1/files?sort=x", version=version)),
    ]
    for schema, response in cases:
        assert response.status_code < 500
        conforms(spec, schema, response.get_json(force=True))
    # …and a shape from another version does not.
    other = "2022-09-01" if version != "2022-09-01" else "2025-06-01"
    foreign = api.get(f"/api/v1/files/{world.file.id}", version=other).get_json(force=True)
    with pytest.raises(AssertionError):
        conforms(spec, "FileDocument", foreign)


def test_openapi_json_content_negotiation(api: ApiClient):
    assert api.get("/api/v1/openapi.json", headers={"Accept": "application/json"}
                   ).status_code == 200
    refused = api.get("/api/v1/openapi.json", headers={"Accept": "application/vnd.api+json"})
    assert refused.status_code == 406
    assert error_of(refused)["source"] == {"header": "Accept"}
    assert api.get("/api/v1/openapi.json?include=x").status_code == 400


def test_the_document_builder_is_pure():
    first = openapi_document("2023-01-05", BUNDLE, "https://x.example")
    second = openapi_document("2023-01-05", BUNDLE, "https://x.example")
    assert first == second
    assert first["components"]["schemas"] == BUNDLE.migrate_openapi(head_schemas(), "2023-01-05")
    for version in BUNDLE.versions:
        names = attribute_names(BUNDLE, version)
        assert set(names) == set(ATTRIBUTES)
        # file_resource decides whether to mint by these two names: a change renaming them
        # must teach it the version's names first.
        assert {"url", "url-expires-at"} <= set(names["file"])


@pytest.mark.parametrize("version", BUNDLE.versions)
def test_each_version_describes_upload_urls_and_what_they_answer(api: ApiClient, version: str):
    """The mint and the upload URL itself (on the download host, with no API key), and the
    documents both give conform to what the description says."""
    spec = spec_for(api, version)
    assert spec["paths"]["/upload-urls"]["post"]["operationId"] == "createUploadUrl"
    upload = spec["paths"]["/uploads/{token}"]
    assert set(upload) >= {"put", "post"}
    assert upload["put"]["servers"] == [
        {"url": "https://files.example.com", "description": "The download host."}]
    assert upload["put"]["security"] == []
    body = '{"data": {"type": "upload-url", "attributes": {"filename": "a.txt"}}}'
    conforms(spec, "UploadUrlRequestDocument", json.loads(body))
    minted = api.post("/api/v1/upload-urls", data=body, version=version,
                      headers={"Content-Type": "application/vnd.api+json"})
    assert minted.status_code == 201
    conforms(spec, "UploadUrlDocument", minted.get_json(force=True))
    url = minted.get_json(force=True)["data"]["attributes"]["url"]
    created = api.as_caller(None).request(
        "PUT", url.removeprefix("https://files.example.com"), data=b"hi", version=version,
        headers={"Content-Type": "text/plain"},
    )
    assert created.status_code == 201
    conforms(spec, "FileDocument", created.get_json(force=True))
