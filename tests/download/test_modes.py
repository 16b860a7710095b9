"""The delivery modes (§4, ``FILES_DELIVERY``) and the cache headers (``FILES_CDN_CACHE``)
through the app: what ``redirect`` and ``accel`` answer, on local files and on S3. The real
nginx in front of ``accel`` is in tests/e2e/test_nginx.py; here its one decoding of the
``X-Accel-Redirect`` path is done by hand."""

from __future__ import annotations

import io
import json
import time
import urllib.request
from collections.abc import Callable
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from flask import Flask

from files_service import get_services
from files_service.clock import ManualClock
from files_service.delivery.caching import NO_STALE
from files_service.errors import SettingsError
from files_service.files import register_file
from files_service.settings import Settings
from files_service.storage import MemoryStorage, S3Storage
from files_service.timefmt import iso
from files_service.tokens import LEGACY
from tests.conftest import World, make_world, path_of
from tests.download.test_current import error_of

Maker = Callable[..., Flask]


def setup(make_app: Maker, storage: S3Storage | None = None, **settings: object):  # type: ignore[no-untyped-def]
    if storage is not None:
        settings.setdefault("storage_url", f"s3://{storage.bucket}/{storage.prefix}")
    app = make_app(storage=storage, **settings)
    services = get_services(app)
    return app.test_client(), services, make_world(services)


def mint(services, world: World, **kw: object) -> str:  # type: ignore[no-untyped-def]
    return path_of(services.minter.mint(world.file, world.key, **kw).url)


# -- Cache-Control -----------------------------------------------------------------------------


def test_private_by_default_bound_to_the_token(make_app: Maker, clock: ManualClock):
    client, services, world = setup(make_app)
    minted = services.minter.mint(world.file, world.key, ttl=3600)
    clock.advance(100.5)
    response = client.get(path_of(minted.url))
    assert response.headers["Cache-Control"] == "private, max-age=3499"  # rounded down


def test_public_for_a_cdn_with_s_maxage(make_app: Maker, clock: ManualClock):
    client, services, world = setup(make_app, cdn_cache="public")
    url = mint(services, world, ttl=600)
    cache_control = client.get(url).headers["Cache-Control"]
    assert cache_control == "public, max-age=600, s-maxage=600, " + NO_STALE
    clock.advance(599)
    assert client.get(url).headers["Cache-Control"] == "public, max-age=1, s-maxage=1, " + NO_STALE
    clock.advance(1)  # inside the leeway: still served, never stored
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_legacy_urls_are_private_and_revalidated(make_app: Maker):
    client, services, world = setup(make_app, cdn_cache="public")
    url = mint(services, world, style=LEGACY)
    response = client.get(url, headers={"Authorization": f"Bearer {world.secret}"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-cache"


def test_every_error_is_no_store_even_in_public_mode(make_app: Maker):
    client, services, world = setup(make_app, cdn_cache="public")
    url = mint(services, world)
    for response in (
        client.get(url[:-2]),
        client.get(url, headers={"Range": "bytes=999999-"}),
        client.delete(url),
        client.get(mint(services, world, style=LEGACY)),
    ):
        assert response.status_code >= 400
        error_of(response)  # JSON:API, no-store, CORS


def names(header: str) -> set[str]:
    return {name.strip().lower() for name in header.split(",")}


def test_a_script_may_read_what_it_needs(make_app: Maker):
    client, services, world = setup(make_app)
    response = client.get(mint(services, world), headers={"Range": "bytes=0-1"})
    exposed = names(response.headers["Access-Control-Expose-Headers"])
    assert exposed >= {
        "content-type", "content-length", "content-disposition", "content-range",
        "accept-ranges", "etag", "last-modified", "cache-control",
    }
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_preflight_allows_what_a_media_element_or_a_script_sends(make_app: Maker):
    client, _, _ = setup(make_app)
    response = client.options(
        "/anything.mp4?access_token=whatever",
        headers={"Origin": "https://customer.example", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "range, if-none-match, x-custom"},
    )
    assert response.status_code == 204
    allowed = names(response.headers["Access-Control-Allow-Headers"])
    assert allowed >= {"range", "if-range", "if-none-match", "x-custom", "authorization"}
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"


# -- redirect ----------------------------------------------------------------------------------


def test_redirect_needs_s3_storage_and_says_so_in_one_line(base_settings: Settings):
    with pytest.raises(SettingsError) as error:
        base_settings.with_changes(delivery="redirect")
    assert str(error.value).startswith("FILES_DELIVERY: redirect needs s3://")
    with pytest.raises(SettingsError):
        Settings.from_env({"FILES_DELIVERY": "redirect", "FILES_STORAGE": "local://x"})


def test_redirect_refuses_at_start_a_storage_with_no_urls(make_app: Maker):
    with pytest.raises(SettingsError) as error:
        make_app(storage=MemoryStorage(), delivery="redirect", storage_url="s3://bucket/p")
    assert str(error.value) == (
        "FILES_DELIVERY: redirect needs storage with URLs of its own, not memory://"
    )


def fetch(url: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers, response.read()


def test_redirect_to_a_presigned_url_with_the_type_and_disposition(
    make_app: Maker, make_s3_storage: Callable[[], S3Storage], clock: ManualClock
):
    client, services, _ = setup(make_app, make_s3_storage(), delivery="redirect")
    world = make_world(services, filename="Résumé; \"final\".pdf")
    # botocore signs with the real clock: compare like with like, from the mint on (the
    # set-up before may take seconds on a busy machine).
    clock.set(time.time())
    minted = services.minter.mint(world.file, world.key, ttl=120, disposition="attachment")
    response = client.get(path_of(minted.url))
    assert response.status_code == 302
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    location = response.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    signed_at = time.mktime(time.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")) - time.timezone
    # The storage URL dies no later than the token.
    assert signed_at + int(query["X-Amz-Expires"][0]) <= minted.expires_at
    status, headers, body = fetch(location)
    assert (status, body) == (200, world.content)
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"] == response_disposition(client, minted.url)
    assert query["response-cache-control"][0].startswith("private, max-age=")
    # Ranges go to S3 itself.
    status, headers, body = fetch(location, {"Range": "bytes=2-5"})
    assert (status, body) == (206, world.content[2:6])


def response_disposition(client, url: str) -> str:  # type: ignore[no-untyped-def]
    """The Content-Disposition the stream mode would send for ``url``."""
    from files_service.delivery import content_disposition

    name = unquote(urlsplit(url).path[1:])
    return content_disposition(name, "attachment")


def test_redirect_lives_at_most_five_minutes(
    make_app: Maker, make_s3_storage: Callable[[], S3Storage]
):
    client, services, world = setup(make_app, make_s3_storage(), delivery="redirect")
    for url in (mint(services, world), mint(services, world, style=LEGACY)):
        response = client.get(url, headers={"Authorization": f"Bearer {world.secret}"})
        assert response.status_code == 302
        assert parse_qs(urlsplit(response.headers["Location"]).query)["X-Amz-Expires"] == ["300"]


def test_redirect_inside_the_leeway_streams_instead(
    make_app: Maker, make_s3_storage: Callable[[], S3Storage], clock: ManualClock
):
    client, services, world = setup(make_app, make_s3_storage(), delivery="redirect")
    minted = services.minter.mint(world.file, world.key, ttl=60)
    clock.set(minted.expires_at + 0.5)
    response = client.get(path_of(minted.url))
    assert response.status_code == 200
    assert response.data == world.content
    assert response.headers["Cache-Control"] == "no-store"
    clock.set(minted.expires_at + 60)
    assert error_of(client.get(path_of(minted.url)))["code"] == "expired_token"


def test_redirect_checks_the_token_like_every_mode(
    make_app: Maker, make_s3_storage: Callable[[], S3Storage]
):
    client, services, world = setup(make_app, make_s3_storage(), delivery="redirect")
    response = client.get(mint(services, world)[:-3] + "xyz")
    assert response.status_code == 403
    assert "Location" not in response.headers


HTML = b"<!doctype html><script>fetch('/?steal=' + document.cookie)</script>"
SVG = (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script>'
       b"</svg>")


def upload(client, secret: str, content: bytes, filename: str, content_type: str):  # type: ignore[no-untyped-def]
    """Upload through the API, as a tenant would: the file's id and the URL minted."""
    response = client.post(
        "/api/v1/files", data={"file": (io.BytesIO(content), filename, content_type)},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 201, response.data
    data = json.loads(response.data)["data"]
    return data["id"], path_of(data["attributes"]["url"])


ACTIVE_UPLOADS = [
    (HTML, "page.html", "text/html"),
    (HTML, "page.html", "Text/HTML; charset=utf-8"),
    (HTML, "page.xhtml", "application/xhtml+xml"),
    (SVG, "drawing.svg", "image/svg+xml"),
    (SVG, "drawing.xml", "text/xml"),
    (HTML, "sniffed.bin", "unknown/unknown"),
    (HTML, "listed.png", "image/png,text/html"),
]


@pytest.mark.parametrize(
    ("content", "filename", "content_type"), ACTIVE_UPLOADS,
    ids=[content_type for _, _, content_type in ACTIVE_UPLOADS],
)
def test_redirect_never_sends_active_content_from_the_storage_origin(
    make_app: Maker, make_s3_storage: Callable[[], S3Storage],
    content: bytes, filename: str, content_type: str,
):
    client, services, world = setup(make_app, make_s3_storage(), delivery="redirect")
    file_id, url = upload(client, world.secret, content, filename, content_type)
    file = services.registry.get_file(file_id)
    attachment = path_of(services.minter.mint(file, world.key, disposition="attachment").url)
    legacy = path_of(services.minter.mint(file, world.key, style=LEGACY).url)
    for path, method, headers in (
        (url, "GET", {}),
        (url, "HEAD", {}),
        (url, "GET", {"Range": "bytes=1-8"}),
        (attachment, "GET", {}),
        (legacy, "GET", {"Authorization": f"Bearer {world.secret}"}),
    ):
        response = client.open(path, method=method, headers=headers)
        # Streamed by the service, as in stream mode, with the §4 protections S3 cannot add.
        assert response.status_code in (200, 206), (path, method, headers)
        assert "Location" not in response.headers
        assert response.headers["Content-Type"] == content_type
        assert response.headers["Content-Security-Policy"] == "sandbox"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        if method == "GET":
            assert response.data == (content[1:9] if headers.get("Range") else content)


def test_redirect_still_sends_inert_content_to_the_storage(
    make_app: Maker, make_s3_storage: Callable[[], S3Storage]
):
    client, _, world = setup(make_app, make_s3_storage(), delivery="redirect")
    for content, filename, content_type in (
        (b"\x89PNG\r\n", "image.png", "image/png"),
        (b"%PDF-1.7", "report.pdf", "application/pdf"),
        (b"a,b\n", "table.csv", "text/csv; charset=utf-8"),
    ):
        _, url = upload(client, world.secret, content, filename, content_type)
        response = client.get(url)
        assert response.status_code == 302, content_type
        status, headers, body = fetch(response.headers["Location"])
        assert (status, headers["Content-Type"], body) == (200, content_type, content)


# -- accel -------------------------------------------------------------------------------------


def test_accel_local_names_the_file_under_the_location(make_app: Maker):
    client, services, world = setup(make_app, delivery="accel", cdn_cache="public")
    response = client.get(mint(services, world, ttl=900, disposition="attachment"))
    assert response.status_code == 200
    assert response.data == b""
    h = response.headers
    assert h["X-Accel-Redirect"] == f"/_protected/{world.file.storage_key}"
    assert h["Content-Length"] == "0"
    assert h["Content-Type"] == "application/pdf"
    assert h["Content-Disposition"].startswith("attachment;")
    assert h["Cache-Control"] == "public, max-age=900, s-maxage=900, " + NO_STALE
    assert h["ETag"] == f'"{world.file.checksum}"'
    assert h["Last-Modified"]
    assert "X-Files-Range" not in h


def test_accel_location_is_a_setting_and_keys_are_encoded_once(make_app: Maker):
    client, services, _ = setup(make_app, delivery="accel", accel_location="/internal/files")
    world = make_world(services)
    services.storage.write("in box/é?#%.bin", [b"odd key"])
    odd = register_file(
        services, world.org.id, "in box/é?#%.bin", filename="odd.bin",
        content_type="application/octet-stream",
    )
    response = client.get(path_of(services.minter.mint(odd, world.key).url))
    path = response.headers["X-Accel-Redirect"]
    assert path == "/internal/files/in%20box/%C3%A9%3F%23%25.bin"
    # nginx decodes it once and serves <alias>/<that>:
    assert services.storage.path_for(unquote(path.removeprefix("/internal/files/")))


def test_accel_range_tells_the_bytes(make_app: Maker):
    client, services, world = setup(make_app, delivery="accel")
    response = client.get(mint(services, world), headers={"Range": "bytes=100-199"})
    assert response.status_code == 200  # nginx turns it into the 206
    assert response.headers["X-Files-Range"] == "bytes=100-199"
    assert "X-Accel-Redirect" in response.headers


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Range": "bytes=999999-"}, 416),
        ({"If-None-Match": "{etag}"}, 304),
    ],
)
def test_accel_answers_304_and_416_itself(make_app: Maker, headers, status):
    client, services, world = setup(make_app, delivery="accel")
    headers = {k: v.replace("{etag}", f'"{world.file.checksum}"') for k, v in headers.items()}
    response = client.get(mint(services, world), headers=headers)
    assert response.status_code == status
    assert "X-Accel-Redirect" not in response.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"Range": "bytes=0-1,5-6"},  # several ranges: the whole file
        {"Range": "bytes=0-1, "},  # nginx would refuse what the RFC says to skip
        {"Range": "bytes = 0-1"},
        {"Range": "bytes=0-9", "If-Range": '"stale"'},
        {"If-Match": '"x"'},  # nginx would answer 412 against validators it does not have
        {},  # HEAD
    ],
)
def test_accel_streams_itself_where_nginx_would_answer_otherwise(make_app: Maker, headers):
    client, services, world = setup(make_app, delivery="accel")
    method = "HEAD" if not headers else "GET"
    response = client.open(mint(services, world), method=method, headers=headers)
    assert "X-Accel-Redirect" not in response.headers
    assert response.status_code in (200, 206)
    if method == "GET":
        assert response.data == world.content[: len(response.data)]
        assert response.headers["Content-Length"] == str(len(response.data))


def test_accel_s3_proxies_a_presigned_path(
    make_app: Maker, make_s3_storage: Callable[[], S3Storage], moto_endpoint: str
):
    storage = make_s3_storage()
    client, services, world = setup(make_app, storage, delivery="accel")
    storage.write("in box/é+%.bin", [b"0123456789"])
    odd = register_file(
        services, world.org.id, "in box/é+%.bin", filename="odd.bin",
        content_type="application/octet-stream",
    )
    for file, expected in ((world.file, world.content), (odd, b"0123456789")):
        response = client.get(
            path_of(services.minter.mint(file, world.key).url), headers={"Range": "bytes=2-5"}
        )
        accel = response.headers["X-Accel-Redirect"]
        assert accel.startswith(f"/_protected/{storage.bucket}/pre/fix/")
        assert response.headers["X-Files-Range"] == "bytes=2-5"
        path, _, query = accel.removeprefix("/_protected").partition("?")
        assert "X-Amz-Signature=" in query
        # What nginx does: decode the path once, send it on with the query and the Range.
        status, _, body = fetch(
            f"{moto_endpoint}{unquote(path)}?{query}", {"Range": "bytes=2-5"}
        )
        assert (status, body) == (206, expected[2:6])


def test_accel_checks_the_token_like_every_mode(make_app: Maker, clock: ManualClock):
    client, services, world = setup(make_app, delivery="accel")
    minted = services.minter.mint(world.file, world.key, ttl=60)
    clock.set(minted.expires_at + 31)
    response = client.get(path_of(minted.url))
    assert "X-Accel-Redirect" not in response.headers
    error = error_of(response)
    assert error["code"] == "expired_token"
    assert error["meta"]["expired-at"] == iso(minted.expires_at)
    assert json.loads(response.data)["errors"][0]["status"] == "403"
