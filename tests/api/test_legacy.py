"""The legacy URL style (§3) of versions before 2023-01-05, and its download path (§4):
``{API_BASE_URL}/api/v1/files/{token}/{filename}``, usable only with an active API key of
the file's organization, not expiring by time, and never interchangeable with current-style
URLs."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from files_service.services import Services
from tests.api.conftest import ApiClient, minted
from tests.conftest import World, path_of

LEGACY_URL = re.compile(r"^https://api\.example\.com/api/v1/files/([A-Za-z0-9._-]+)/(.+)$")


def legacy_url_of(api: ApiClient, world: World, version: str = "2022-09-01", query: str = ""
                  ) -> str:
    response = api.get(f"/api/v1/files/{world.file.id}{query}", version=version)
    assert response.headers["Files-Version"] == "2022-09-01"
    attributes = response.get_json(force=True)["data"]["attributes"]
    assert attributes["url-expires-at"] is None
    return attributes["url"]  # type: ignore[no-any-return]


def download(api: ApiClient, url: str, secret: str | None = None):  # type: ignore[no-untyped-def]
    headers = {} if secret is None else {"Authorization": f"Bearer {secret}"}
    return api.as_caller(None).get(path_of(url), headers=headers)


@pytest.mark.parametrize("version", ["2022-09-01", "2022-12-31", "2023-01-04"])
def test_versions_before_2023_01_05_mint_legacy_urls(api: ApiClient, world: World,
                                                     services: Services, version: str):
    before = minted(services, "legacy"), minted(services, "current")
    url = legacy_url_of(api, world, version)
    match = LEGACY_URL.match(url)
    assert match and match.group(2) == "report.pdf"
    assert "access_token" not in url
    assert (minted(services, "legacy"), minted(services, "current")) == (
        before[0] + 1, before[1])


def test_uploading_in_a_legacy_version(api: ApiClient, services: Services, world: World):
    response = api.upload(b"legacy bytes", "old style.txt", version="2022-09-01")
    assert response.status_code == 201
    attributes = response.get_json(force=True)["data"]["attributes"]
    assert LEGACY_URL.match(attributes["url"])
    assert attributes["url"].endswith("/old%20style.txt")
    assert attributes["url-expires-at"] is None
    got = download(api, attributes["url"], world.secret)
    assert got.status_code == 200 and got.data == b"legacy bytes"


def test_a_legacy_url_downloads_only_with_an_api_key_of_the_organization(
    api: ApiClient, world: World, other: World, make_key
):
    url = legacy_url_of(api, world)
    ok = download(api, url, world.secret)
    assert ok.status_code == 200 and ok.data == world.content
    assert "Files-Version" not in ok.headers  # downloads are not versioned
    _, second = make_key(world.org)
    assert download(api, url, second).status_code == 200  # any active key of the org

    refused = download(api, url)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert refused.get_json(force=True)["errors"][0]["code"] == "unauthorized"
    assert download(api, url, "fsk_not-a-real-secret").status_code == 401
    elsewhere = download(api, url, other.secret)
    assert elsewhere.status_code == 404
    assert elsewhere.get_json(force=True)["errors"][0]["code"] == "not_found"


def test_a_revoked_key_cannot_download(api: ApiClient, world: World, services: Services,
                                       make_key):
    url = legacy_url_of(api, world)
    key, secret = make_key(world.org)
    services.registry.revoke_principal(key.id)
    assert download(api, url, secret).status_code == 401


def test_a_legacy_url_does_not_expire_by_time(api: ApiClient, world: World, clock):
    url = legacy_url_of(api, world)
    clock.advance(90 * 86400)
    assert download(api, url, world.secret).status_code == 200


def test_revoking_the_minting_key_voids_its_legacy_urls(api: ApiClient, world: World,
                                                       services: Services, make_key, clock):
    key, secret = make_key(world.org, version="2022-09-01")
    url = ApiClient(api.app, api.validate, secret).get(
        f"/api/v1/files/{world.file.id}").get_json(force=True)["data"]["attributes"]["url"]
    assert LEGACY_URL.match(url)
    services.registry.revoke_principal(key.id)
    clock.advance(services.settings.registry_cache_seconds + 1)
    response = download(api, url, world.secret)
    assert response.status_code == 403
    assert response.get_json(force=True)["errors"][0]["code"] == "revoked_token"


def test_the_two_styles_never_work_on_each_others_path(api: ApiClient, world: World):
    legacy = legacy_url_of(api, world)
    legacy_token = LEGACY_URL.match(legacy).group(1)  # type: ignore[union-attr]
    current = api.get(f"/api/v1/files/{world.file.id}").get_json(force=True)["data"][
        "attributes"]["url"]
    current_token = parse_qs(urlsplit(current).query)["access_token"][0]
    client = api.as_caller(None)
    auth = {"Authorization": f"Bearer {world.secret}"}

    on_current = client.get(f"/report.pdf?access_token={legacy_token}")
    assert on_current.status_code == 403
    assert on_current.get_json(force=True)["errors"][0]["code"] == "invalid_token"
    on_legacy = client.get(f"/api/v1/files/{current_token}/report.pdf", headers=auth)
    assert on_legacy.status_code == 403
    assert on_legacy.get_json(force=True)["errors"][0]["code"] == "invalid_token"


def test_a_legacy_mint_keeps_the_minting_parameters(api: ApiClient, world: World,
                                                    services: Services):
    hook = services.registry.create_webhook(world.org.id, url="https://example.com/h",
                                            api_version="2022-09-01")
    url = legacy_url_of(api, world, query=f"?webhook-id={hook.id}&url-disposition=attachment")
    assert hook.id in url
    got = download(api, url, world.secret)
    assert got.status_code == 200
    assert got.headers["Content-Disposition"].startswith("attachment;")
    # url-ttl is checked in every version, though a legacy URL does not expire.
    refused = api.get(f"/api/v1/files/{world.file.id}?url-ttl=30000", version="2022-09-01")
    assert refused.status_code == 400
    assert "21600" in refused.get_json(force=True)["errors"][0]["detail"]
