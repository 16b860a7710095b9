"""Current-style downloads (§4) through the app: headers, every refusal in the §4 table,
revocation and deletion within the cache window, key rotation."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from files_service import get_services
from files_service.files import delete_file
from files_service.tokens import SigningKey
from tests.conftest import SIGNING_KEY, make_world, path_of

NEW_KEY = SigningKey("k2", b"the-next-signing-secret-32-bytes!")


def mint(services, world, **kw):
    return services.minter.mint(world.file, world.key, **kw)


def error_of(response):
    assert response.headers["Content-Type"] == "application/vnd.api+json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = json.loads(response.data)
    (error,) = body["errors"]
    assert error["status"] == str(response.status_code)
    return error


def test_download_streams_the_bytes_with_its_headers(client, services, world, clock):
    minted = mint(services, world)
    response = client.get(path_of(minted.url))
    assert response.status_code == 200
    assert response.data == world.content
    h = response.headers
    assert h["Content-Type"] == "application/pdf"
    assert h["Content-Length"] == str(len(world.content))
    assert h["ETag"] == f'"{world.file.checksum}"'
    assert h["Accept-Ranges"] == "bytes"
    assert h["Last-Modified"]
    assert h["Content-Disposition"].startswith("inline;")
    assert "filename*=UTF-8''report.pdf" in h["Content-Disposition"]
    assert h["Cache-Control"] == f"private, max-age={minted.expires_at - int(clock.now())}"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Content-Security-Policy"] == "sandbox"
    assert h["Referrer-Policy"] == "no-referrer"
    assert h["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert h["Access-Control-Allow-Origin"] == "*"
    assert "Content-Range" in h["Access-Control-Expose-Headers"]
    assert "Files-Version" not in h


def test_head_has_the_headers_and_no_body(client, services, world):
    response = client.head(path_of(mint(services, world).url))
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(world.content))
    assert response.data == b""


def test_attachment_disposition(client, services, world):
    response = client.get(path_of(mint(services, world, disposition="attachment").url))
    assert response.headers["Content-Disposition"].startswith("attachment;")


def test_a_range_is_served_as_206(client, services, world):
    response = client.get(path_of(mint(services, world).url), headers={"Range": "bytes=10-19"})
    assert response.status_code == 206
    assert response.data == world.content[10:20]
    assert response.headers["Content-Range"] == f"bytes 10-19/{len(world.content)}"


def test_if_none_match_gives_304(client, services, world):
    url = path_of(mint(services, world).url)
    etag = client.get(url).headers["ETag"]
    response = client.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.data == b""


def test_unsatisfiable_range_is_a_json_416(client, services, world):
    url = path_of(mint(services, world).url)
    response = client.get(url, headers={"Range": "bytes=999999-"})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(world.content)}"
    assert error_of(response)["code"] == "range_not_satisfiable"


def tampered(url: str, index: int) -> str:
    token = url.split("access_token=")[1]
    chars = list(token)
    chars[index] = "A" if chars[index] != "A" else "B"
    return url.split("access_token=")[0] + "access_token=" + "".join(chars)


@pytest.mark.parametrize("index", [0, 10, 40, -1, -20])
def test_a_changed_character_is_invalid_token(client, services, world, index):
    response = client.get(path_of(tampered(mint(services, world).url, index)))
    assert response.status_code == 403
    assert error_of(response)["code"] == "invalid_token"


def test_another_filename_is_invalid_token(client, services, world):
    url = path_of(mint(services, world).url).replace("report.pdf", "other.pdf")
    response = client.get(url)
    assert response.status_code == 403
    assert error_of(response)["code"] == "invalid_token"


@pytest.mark.parametrize(
    "path", ["/report.pdf", "/report.pdf?access_token=", "/x?access_token=a&access_token=b"]
)
def test_no_token_is_invalid_token(client, world, path):
    response = client.get(path)
    assert response.status_code == 403
    assert error_of(response)["code"] == "invalid_token"


def test_expired_token_after_moving_the_clock(client, services, world, clock):
    minted = mint(services, world, ttl=600)
    url = path_of(minted.url)
    assert client.get(url).status_code == 200
    clock.set(minted.expires_at + 31)
    response = client.get(url)
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "expired_token"
    assert error["meta"]["expired-at"].endswith("Z")
    assert error["meta"]["server-time"].endswith("Z")
    assert minted.url.split("access_token=")[1] not in response.get_data(as_text=True)


def test_inside_the_leeway_is_served_no_store(client, services, world, clock):
    minted = mint(services, world, ttl=600)
    clock.set(minted.expires_at + 1)
    response = client.get(path_of(minted.url))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_revoked_key_within_the_cache_window(client, services, world, clock):
    url = path_of(mint(services, world).url)
    assert client.get(url).status_code == 200  # the principal is now cached
    services.registry.revoke_principal(world.key.id)
    clock.advance(services.settings.registry_cache_seconds + 1)
    response = client.get(url)
    assert response.status_code == 403
    assert error_of(response)["code"] == "revoked_token"


def test_revocation_seen_by_another_replica(make_app, services, world, clock):
    """Two apps on one database: a revocation in one reaches the other within the window."""
    url = path_of(mint(services, world).url)
    other = make_app(registry=None)
    other_client = other.test_client()
    assert other_client.get(url).status_code == 200
    services.registry.revoke_principal(world.key.id)
    clock.advance(30.5)
    assert other_client.get(url).status_code == 403


def test_deleted_file_is_not_found(client, services, world):
    url = path_of(mint(services, world).url)
    assert client.get(url).status_code == 200
    delete_file(services, world.file.id)
    response = client.get(url)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_other_methods_are_405_with_allow(client, services, world):
    response = client.post(path_of(mint(services, world).url))
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert error_of(response)["code"] == "method_not_allowed"


def test_preflight_needs_no_token(client):
    response = client.options(
        "/report.pdf?access_token=x",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "range"},
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in response.headers["Access-Control-Allow-Methods"]


def test_a_file_named_like_a_route_is_still_served(client, services):
    world = make_world(services, filename="healthz", content=b"not a health check")
    response = client.get(path_of(services.minter.mint(world.file, world.key).url))
    assert response.data == b"not a health check"
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_non_ascii_filename_round_trips(client, services):
    world = make_world(services, filename="naïve résumé; \"q\".txt", content=b"hi")
    minted = services.minter.mint(world.file, world.key)
    assert quote("naïve résumé", safe="") in minted.url
    response = client.get(path_of(minted.url))
    assert response.status_code == 200
    assert response.data == b"hi"
    assert "filename*=UTF-8''na%C3%AFve" in response.headers["Content-Disposition"]


def test_rotation_keeps_old_urls_and_dropping_voids_them(make_app, services, world):
    old_url = path_of(mint(services, world).url)
    rotated = make_app(signing_keys=(NEW_KEY, SIGNING_KEY))
    rotated_services = get_services(rotated)
    rotated_client = rotated.test_client()
    assert rotated_client.get(old_url).status_code == 200
    new_minted = rotated_services.minter.mint(world.file, world.key)
    assert new_minted.url.split("access_token=")[1].startswith("k2.")
    dropped = make_app(signing_keys=(NEW_KEY,)).test_client()
    assert dropped.get(path_of(new_minted.url)).status_code == 200
    response = dropped.get(old_url)
    assert response.status_code == 403
    assert error_of(response)["code"] == "invalid_token"


def test_storage_down_before_the_first_byte_is_503(make_app, world_factory=None):
    from files_service.errors import StorageUnavailable
    from files_service.storage import MemoryStorage

    storage = MemoryStorage()
    app = make_app(storage=storage)
    services = get_services(app)
    world = make_world(services)
    storage.fail_open = StorageUnavailable("down")
    response = app.test_client().get(path_of(services.minter.mint(world.file, world.key).url))
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert error_of(response)["code"] == "storage_unavailable"


def test_stream_is_released_after_the_response(make_app):
    from files_service.storage import MemoryStorage

    storage = MemoryStorage()
    app = make_app(storage=storage)
    services = get_services(app)
    world = make_world(services)
    response = app.test_client().get(path_of(services.minter.mint(world.file, world.key).url))
    assert response.data == world.content
    response.close()
    assert storage.open_streams == 0


def test_metrics_count_downloads_and_never_show_tokens(client, services, world):
    minted = mint(services, world)
    response = client.get(path_of(minted.url))
    assert response.data == world.content  # read to the end: a whole download
    response.close()  # a WSGI server closes every body it sent
    client.get(path_of(tampered(minted.url, 5))).close()
    text = client.get("/metrics").get_data(as_text=True)
    assert 'files_downloads_total{outcome="ok"} 1.0' in text
    assert 'files_downloads_total{outcome="invalid_token"} 1.0' in text
    assert f"files_download_bytes_total {float(len(world.content))}" in text
    token = minted.url.split("access_token=")[1]
    assert token not in text and token[-20:] not in text
    assert world.secret not in text
