"""Signed upload URLs (§5): ``POST /api/v1/upload-urls`` mints one, ``PUT`` or ``POST`` (a
multipart form) to ``/uploads/{token}`` uploads through it once, on local files and S3, SQLite
and PostgreSQL.

Every response goes through ``ApiClient``, which validates each document against the official
JSON:API schema."""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest
from werkzeug.test import TestResponse

from files_service import get_services
from files_service.clock import ManualClock
from files_service.tokens import SigningKey
from tests.api.conftest import (
    JSON_API,
    ApiClient,
    Part,
    Stack,
    error_of,
    multipart,
)
from tests.api.test_upload import GeneratedBody
from tests.conftest import SIGNING_KEY, World, make_world, path_of

MiB = 1024 * 1024
CONTENT = bytes(range(256)) * 1024 + b"tail"  # 256 KiB and a bit, every byte value


def mint(api: ApiClient, query: str = "", **attributes: Any) -> TestResponse:
    """``POST /api/v1/upload-urls`` with ``attributes`` (the filename defaults)."""
    attributes.setdefault("filename", "report.pdf")
    body = json.dumps({"data": {"type": "upload-url", "attributes": attributes}})
    return api.post(f"/api/v1/upload-urls{query}", data=body,
                    headers={"Content-Type": JSON_API})


def minted_url(api: ApiClient, **attributes: Any) -> dict[str, Any]:
    response = mint(api, **attributes)
    assert response.status_code == 201, response.data
    return response.get_json(force=True)["data"]["attributes"]  # type: ignore[no-any-return]


def browser(api: ApiClient) -> ApiClient:
    """The same app, as a browser holding no API key."""
    return api.as_caller(None)


def put(api: ApiClient, url: str, content: bytes | GeneratedBody,
        content_type: str | None = "application/pdf", *, chunked: bool = False,
        length: int | None = None, headers: dict[str, str] | None = None) -> TestResponse:
    """``PUT`` ``content`` to an upload URL, without credentials."""
    sent = dict(headers or {})
    environ: dict[str, Any] = {}
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type
    if isinstance(content, GeneratedBody):
        environ["wsgi.input"] = content
        if chunked:
            environ["wsgi.input_terminated"] = True
        else:
            environ["CONTENT_LENGTH"] = str(content.length if length is None else length)
        return browser(api).request("PUT", path_of(url), headers=sent,
                                    environ_overrides=environ)
    return browser(api).request("PUT", path_of(url), data=content, headers=sent,
                                environ_overrides=environ)


def post_form(
    api: ApiClient, url: str, content: bytes, content_type: str | None = "application/pdf",
    *, filename: str = "anything.pdf", extra: list[Part] | None = None,
) -> TestResponse:
    """``POST`` an HTML form's body (one part ``file``) to an upload URL."""
    body, form_type = multipart([Part("file", content, filename, content_type), *(extra or [])])
    return browser(api).request("POST", path_of(url), data=body,
                                headers={"Content-Type": form_type})


def raw(size: int, **kwargs: Any) -> GeneratedBody:
    """A raw body of ``size`` bytes made as it is read."""
    return GeneratedBody(b"", size, b"", **kwargs)


def token_of(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[1]


def download(stack_api: ApiClient, url: str) -> bytes:
    response = browser(stack_api).get(path_of(url))
    assert response.status_code == 200, response.data
    return response.data


# -- minting -----------------------------------------------------------------------------------


def test_minting_gives_the_upload_url_resource(api: ApiClient, world: World, app: Any):
    response = mint(api, filename="Quarterly report 2025.pdf")
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Files-Version"] == "2025-06-01"
    data = response.get_json(force=True)["data"]
    attributes = data["attributes"]
    assert data["type"] == "upload-url" and data["id"] == attributes["file-id"]
    assert attributes["file-id"].startswith("file_")
    assert attributes["url"].startswith("https://files.example.com/uploads/")
    assert attributes["expires-at"] == "2026-01-01T01:00:00.000Z"  # an hour, by default
    assert attributes["content-type"] is None
    assert attributes["max-bytes"] == app.extensions["files_service"].settings.max_upload_bytes
    assert data["relationships"]["created-by"]["data"] == {"type": "api-key", "id": world.key.id}
    assert len(token_of(attributes["url"])) < 400
    # Nothing exists until the upload has finished.
    assert api.get(f"/api/v1/files/{attributes['file-id']}").status_code == 404


def test_minting_takes_each_attribute(api: ApiClient):
    attributes = minted_url(api, **{
        "filename": "photo.png", "content-type": "Image/*", "max-bytes": 1000,
        "metadata": {"album": "summer"}, "url-ttl": 600,
    })
    assert attributes["content-type"] == "image/*"
    assert attributes["max-bytes"] == 1000
    assert attributes["expires-at"] == "2026-01-01T00:10:00.000Z"
    assert attributes["filename"] == "photo.png"


def test_the_default_ttl_is_the_principals_where_shorter(api: ApiClient, world: World,
                                                           make_key: Any):
    _, secret = make_key(world.org, version="2025-06-01", ttl=120)
    attributes = minted_url(api.as_caller(secret))
    assert attributes["expires-at"] == "2026-01-01T00:02:00.000Z"
    refused = mint(api.as_caller(secret), **{"url-ttl": 121})
    assert refused.status_code == 400
    assert error_of(refused)["source"] == {"pointer": "/data/attributes/url-ttl"}


@pytest.mark.parametrize(("attributes", "pointer"), [
    ({"filename": None}, "/data/attributes/filename"),
    ({"filename": "a/b.txt"}, "/data/attributes/filename"),
    ({"filename": ""}, "/data/attributes/filename"),
    ({"content-type": "image"}, "/data/attributes/content-type"),
    ({"content-type": "image/png; q=1"}, "/data/attributes/content-type"),
    ({"content-type": "*/*"}, "/data/attributes/content-type"),
    ({"content-type": 7}, "/data/attributes/content-type"),
    ({"max-bytes": 0}, "/data/attributes/max-bytes"),
    ({"max-bytes": "10"}, "/data/attributes/max-bytes"),
    ({"max-bytes": True}, "/data/attributes/max-bytes"),
    ({"max-bytes": 10737418241}, "/data/attributes/max-bytes"),
    ({"metadata": [1]}, "/data/attributes/metadata"),
    ({"metadata": {"k": "v" * 20000}}, "/data/attributes/metadata"),
    ({"url-ttl": 0}, "/data/attributes/url-ttl"),
    ({"url-ttl": 86401}, "/data/attributes/url-ttl"),
    ({"url-ttl": 21601}, "/data/attributes/url-ttl"),  # past the key's file-url-ttl
    ({"url-ttl": "60"}, "/data/attributes/url-ttl"),
    ({"url": "https://x"}, "/data/attributes/url"),
    ({"size": 3}, "/data/attributes/size"),
])
def test_each_bad_attribute_is_refused_on_its_pointer(api: ApiClient, attributes: dict,
                                                      pointer: str):
    response = mint(api, **attributes)
    assert response.status_code == 400, response.data
    assert error_of(response)["source"] == {"pointer": pointer}


def test_a_missing_filename_and_a_bad_document_are_refused(api: ApiClient):
    body = json.dumps({"data": {"type": "upload-url", "attributes": {}}})
    response = api.post("/api/v1/upload-urls", data=body, headers={"Content-Type": JSON_API})
    assert error_of(response)["source"] == {"pointer": "/data/attributes/filename"}
    body = json.dumps({"data": {"type": "file", "attributes": {"filename": "x"}}})
    response = api.post("/api/v1/upload-urls", data=body, headers={"Content-Type": JSON_API})
    assert response.status_code == 409
    assert error_of(response)["source"] == {"pointer": "/data/type"}


@pytest.mark.parametrize("parameter", ["url-ttl", "url-disposition"])
def test_the_download_minting_parameters_are_refused_in_the_query(api: ApiClient, parameter):
    value = "60" if parameter == "url-ttl" else "attachment"
    response = mint(api, query=f"?{parameter}={value}")
    assert response.status_code == 400
    assert error_of(response)["source"] == {"parameter": parameter}


def test_minting_needs_an_api_key(anonymous: ApiClient):
    assert mint(anonymous).status_code == 401


def test_a_webhook_mints_in_its_context(api: ApiClient, services: Any, world: World):
    hook = services.registry.create_webhook(
        world.org.id, url="https://hooks.example.com/x", file_url_ttl=300,
        api_version="2022-09-01",
    )
    attributes = minted_url(api.as_caller(world.secret), query=f"?webhook-id={hook.id}")
    assert attributes["expires-at"] == "2026-01-01T00:05:00.000Z"  # the webhook's TTL
    response = put(api, attributes["url"], CONTENT)
    assert response.status_code == 201, response.data
    # The document as the webhook would see it: its version, legacy URLs; created by the key.
    assert response.headers["Files-Version"] == "2022-09-01"
    data = response.get_json(force=True)["data"]
    assert data["attributes"]["url"].startswith("https://api.example.com/api/v1/files/")
    assert data["relationships"]["created-by"]["data"]["id"] == world.key.id


# -- uploading, on every backend ---------------------------------------------------------------


def test_put_creates_the_file_as_get_shows_it(stack: Stack):
    attributes = minted_url(stack.api, filename="Q3 report.pdf", metadata={"team": "ops"})
    objects = stack.objects()
    response = put(stack.api, attributes["url"], CONTENT)
    assert response.status_code == 201, response.data
    file_id = attributes["file-id"]
    assert response.headers["Location"] == f"https://api.example.com/api/v1/files/{file_id}"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Location" in response.headers["Access-Control-Expose-Headers"]
    document = response.get_json(force=True)
    assert document == stack.api.get(f"/api/v1/files/{file_id}").get_json(force=True)
    data = document["data"]
    assert data["id"] == file_id
    assert data["attributes"]["filename"] == "Q3 report.pdf"
    assert data["attributes"]["content-type"] == "application/pdf"
    assert data["attributes"]["byte-size"] == len(CONTENT)
    assert data["attributes"]["metadata"] == {"team": "ops"}
    assert data["relationships"]["created-by"]["data"]["id"] == stack.world.key.id
    assert download(stack.api, data["attributes"]["url"]) == CONTENT
    assert len(stack.objects()) == len(objects) + 1
    assert stack.leftovers() == []


def test_a_form_post_creates_the_file(stack: Stack):
    attributes = minted_url(stack.api, filename="scan.pdf")
    response = post_form(stack.api, attributes["url"], CONTENT, filename="C:\\fakepath\\x.bin")
    assert response.status_code == 201, response.data
    data = response.get_json(force=True)["data"]
    # The name is the URL's, not the form's; the type the part's.
    assert data["attributes"]["filename"] == "scan.pdf"
    assert data["attributes"]["content-type"] == "application/pdf"
    assert download(stack.api, data["attributes"]["url"]) == CONTENT


def test_a_url_works_once(stack: Stack):
    attributes = minted_url(stack.api)
    assert put(stack.api, attributes["url"], CONTENT).status_code == 201
    objects, rows = stack.objects(), stack.rows()
    for again in (put(stack.api, attributes["url"], b"other"),
                  post_form(stack.api, attributes["url"], b"other")):
        assert again.status_code == 409
        assert error_of(again)["code"] == "upload_url_used"
        assert again.headers["Cache-Control"] == "no-store"
    assert stack.objects() == objects and stack.rows() == rows
    unread = raw(MiB)
    assert put(stack.api, attributes["url"], unread).status_code == 409
    assert unread.position == 0  # refused before the body was read


class HeldRaw(GeneratedBody):
    """A raw body that, read to its end, waits for the other racer to get as far: both
    uploads then have their objects in storage and commit together."""

    def __init__(self, size: int, barrier: threading.Barrier) -> None:
        super().__init__(b"", size, b"")
        self.barrier = barrier
        self.held = False

    def readinto(self, buffer: Any) -> int:
        if not self.held and self.position == self.size:
            self.held = True
            self.barrier.wait(timeout=60)
        return super().readinto(buffer)


def test_two_uploads_racing_with_one_url_store_one_file(stack: Stack):
    """Both pass the used check, stream to storage at once (S3: two multipart uploads), then
    commit together: one file, one object; the other 409 with its object removed."""
    attributes = minted_url(stack.api)
    objects, rows = stack.objects(), stack.rows()
    barrier = threading.Barrier(2)
    size = 6 * MiB  # over S3's 5 MiB part: each racer has a multipart upload of its own
    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(
            lambda body: put(stack.api, attributes["url"], body, chunked=True),
            [HeldRaw(size, barrier), HeldRaw(size, barrier)],
        ))
    assert sorted(r.status_code for r in responses) == [201, 409], [r.data for r in responses]
    assert error_of(next(r for r in responses if r.status_code == 409))["code"] == (
        "upload_url_used")
    assert set(stack.rows()) - set(rows) == {attributes["file-id"]}
    assert len(stack.objects()) == len(objects) + 1
    assert stack.leftovers() == []
    winner = next(r for r in responses if r.status_code == 201).get_json(force=True)
    assert winner["data"]["attributes"]["byte-size"] == size


def test_an_upload_broken_off_leaves_nothing_and_the_url_usable(stack: Stack):
    attributes = minted_url(stack.api)
    objects, rows = stack.objects(), stack.rows()
    broken = put(stack.api, attributes["url"], raw(6 * MiB, fail_at=3 * MiB), chunked=True)
    assert broken.status_code == 400
    short = put(stack.api, attributes["url"], raw(2 * MiB, stop_at=MiB))  # a length not sent
    assert short.status_code == 400
    assert stack.objects() == objects and stack.rows() == rows and stack.leftovers() == []
    assert stack.api.get(f"/api/v1/files/{attributes['file-id']}").status_code == 404
    assert put(stack.api, attributes["url"], CONTENT).status_code == 201


def test_max_bytes_before_and_during_the_transfer(stack: Stack):
    attributes = minted_url(stack.api, **{"max-bytes": 5 * MiB + 1})
    objects, rows = stack.objects(), stack.rows()
    declared = raw(6 * MiB)
    response = put(stack.api, attributes["url"], declared)
    assert response.status_code == 413
    assert error_of(response)["code"] == "upload_too_large"
    assert declared.position == 0  # refused before a byte was read
    chunked = raw(6 * MiB)
    response = put(stack.api, attributes["url"], chunked, chunked=True)
    assert response.status_code == 413
    assert chunked.position < 6 * MiB
    form = post_form(stack.api, attributes["url"], b"x" * (5 * MiB + 2))
    assert form.status_code == 413
    # A form declared too large is refused before its head is read, as a raw body is.
    declared_form = GeneratedBody(
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n',
        6 * MiB, b"\r\n--B--\r\n")
    response = browser(stack.api).request(
        "POST", path_of(attributes["url"]), environ_overrides={
            "wsgi.input": declared_form, "CONTENT_LENGTH": str(declared_form.length),
            "CONTENT_TYPE": "multipart/form-data; boundary=B"})
    assert response.status_code == 413
    assert declared_form.position == 0
    assert stack.objects() == objects and stack.rows() == rows and stack.leftovers() == []
    # Exactly the limit, in a form whose framing comes on top: taken.
    assert post_form(stack.api, attributes["url"], b"x" * (5 * MiB + 1)).status_code == 201


def test_the_quota_applies(stack: Stack):
    stack.services.registry.set_storage_quota(stack.world.org.id, len(stack.world.content) + 100)
    attributes = minted_url(stack.api)
    objects = stack.objects()
    response = put(stack.api, attributes["url"], raw(MiB), chunked=True)
    assert response.status_code == 403
    assert error_of(response)["code"] == "quota_exceeded"
    assert stack.objects() == objects and stack.leftovers() == []
    assert put(stack.api, attributes["url"], b"x" * 100).status_code == 201


# -- the type rule -----------------------------------------------------------------------------


@pytest.mark.parametrize(("rule", "sent", "status"), [
    ("image/*", "image/png", 201),
    ("image/*", "IMAGE/JPEG; q=1", 201),
    ("image/*", "text/plain", 415),
    ("image/*", "imagex/png", 415),
    ("image/png", "image/png", 201),
    ("image/png", "image/jpeg", 415),
    (None, "text/plain; charset=utf-8", 201),
    # A list of types, of which browsers take the last, never passes a rule.
    ("image/png", "image/png; a=b,text/html", 415),
    ("image/*", "image/png,text/html", 415),
    ("image/*", "image/png/x", 415),
])
def test_the_type_rule_on_put(api: ApiClient, rule: str | None, sent: str, status: int):
    attributes = minted_url(api, **{"filename": "pic.png", "content-type": rule})
    response = put(api, attributes["url"], b"bytes", sent)
    assert response.status_code == status, response.data
    if status == 415:
        assert error_of(response)["code"] == "unsupported_media_type"
        assert error_of(response)["source"] == {"header": "Content-Type"}
    else:
        assert response.get_json(force=True)["data"]["attributes"]["content-type"] == sent


def test_a_type_left_out_is_guessed_from_the_filename(api: ApiClient):
    attributes = minted_url(api, **{"filename": "pic.png", "content-type": "image/*"})
    response = put(api, attributes["url"], b"bytes", None)
    assert response.get_json(force=True)["data"]["attributes"]["content-type"] == "image/png"
    attributes = minted_url(api, **{"filename": "pic.png", "content-type": "image/*"})
    response = post_form(api, attributes["url"], b"bytes", "application/octet-stream")
    assert response.get_json(force=True)["data"]["attributes"]["content-type"] == "image/png"
    attributes = minted_url(api, **{"filename": "notes.txt", "content-type": "image/*"})
    response = post_form(api, attributes["url"], b"bytes", "application/octet-stream")
    assert response.status_code == 415
    assert error_of(response)["source"] == {"pointer": "/file/content-type"}


def test_a_form_takes_only_the_file_part(api: ApiClient):
    attributes = minted_url(api)
    response = post_form(api, attributes["url"], b"x",
                         extra=[Part("metadata", b'{"a": "b"}', None, "application/json")])
    assert response.status_code == 400
    assert error_of(response)["source"] == {"pointer": "/metadata"}
    response = browser(api).request("POST", path_of(attributes["url"]), data=b"x",
                                    headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert put(api, attributes["url"], b"x").status_code == 201


# -- tokens ------------------------------------------------------------------------------------


def test_an_expired_url_is_refused(api: ApiClient, clock: ManualClock):
    attributes = minted_url(api, **{"url-ttl": 60})
    clock.advance(60 + 11)  # past the expiry and the clock leeway
    response = put(api, attributes["url"], CONTENT)
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "expired_token"
    assert error["meta"]["expired-at"] == "2026-01-01T00:01:00.000Z"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_a_revoked_principal_s_urls_stop_within_the_cache_time(
    api: ApiClient, services: Any, world: World, clock: ManualClock, make_key: Any
):
    key, secret = make_key(world.org, version="2025-06-01")
    first = minted_url(api.as_caller(secret))
    second = minted_url(api.as_caller(secret))
    assert put(api, first["url"], b"one").status_code == 201  # the cache now holds the key
    services.registry.revoke_principal(key.id)
    clock.advance(services.settings.registry_cache_seconds + 1)
    response = put(api, second["url"], b"two")
    assert response.status_code == 403
    assert error_of(response)["code"] == "revoked_token"


def test_upload_and_download_tokens_are_kept_apart(api: ApiClient, world: World):
    attributes = minted_url(api, filename=world.file.filename)
    upload_token = token_of(attributes["url"])
    download_url = api.get(f"/api/v1/files/{world.file.id}").get_json(force=True)["data"][
        "attributes"]["url"]
    download_token = download_url.split("access_token=")[1]
    as_download = browser(api).get(f"/{world.file.filename}?access_token={upload_token}")
    assert as_download.status_code == 403
    assert error_of(as_download)["code"] == "invalid_token"
    as_upload = put(api, f"https://files.example.com/uploads/{download_token}", b"x")
    assert as_upload.status_code == 403
    assert error_of(as_upload)["code"] == "invalid_token"


@pytest.mark.parametrize("change", ["filename", "max-bytes", "signature", "type", "garbage"])
def test_a_tampered_token_is_refused(api: ApiClient, change: str):
    attributes = minted_url(api, **{"content-type": "image/*", "max-bytes": 10})
    parts = token_of(attributes["url"]).split(".")
    if change == "filename":
        parts[8] = "ZXZpbC5leGU"  # evil.exe
    elif change == "max-bytes":
        parts[6] = "99999999"
    elif change == "type":
        parts[7] = ""
    elif change == "signature":
        parts[9] = parts[9][:-1] + ("A" if parts[9][-1] != "A" else "B")
    else:
        parts = ["x"]
    response = put(api, "https://files.example.com/uploads/" + ".".join(parts), b"x",
                   "image/png")
    assert response.status_code == 403
    assert error_of(response)["code"] == "invalid_token"


def test_the_token_reaches_no_log_and_no_error_body(api: ApiClient, caplog: Any,
                                                    clock: ManualClock):
    logger = logging.getLogger("files_service")  # it does not propagate to the root's
    logger.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.DEBUG)
    try:
        check_no_token_anywhere(api, caplog, clock)
    finally:
        logger.removeHandler(caplog.handler)


def check_no_token_anywhere(api: ApiClient, caplog: Any, clock: ManualClock) -> None:
    attributes = minted_url(api, **{"max-bytes": 10, "content-type": "image/*"})
    token = token_of(attributes["url"])
    bodies = [
        put(api, attributes["url"], b"x" * 11, "image/png").data,  # 413
        put(api, attributes["url"], b"x", "text/plain").data,  # 415
        put(api, attributes["url"], raw(8, fail_at=5), "image/png", chunked=True).data,
    ]
    assert put(api, attributes["url"], b"x", "image/png").status_code == 201
    bodies.append(put(api, attributes["url"], b"x", "image/png").data)  # 409
    clock.advance(7200)
    bodies.append(put(api, attributes["url"], b"x", "image/png").data)  # expired
    signature = token.rsplit(".", 1)[1]
    for body in bodies:
        assert signature.encode() not in body
    assert "could not be read" in caplog.text  # the log was captured: the broken-off body
    assert signature not in caplog.text and token[:40] not in caplog.text


# -- CORS and methods --------------------------------------------------------------------------


def test_preflight_allows_put_post_and_content_type(api: ApiClient):
    attributes = minted_url(api)
    response = browser(api).request("OPTIONS", path_of(attributes["url"]), headers={
        "Origin": "https://app.example.org", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type",
    })
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert {m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")} >= {
        "PUT", "POST"}
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Credentials" not in response.headers


@pytest.mark.parametrize("method", ["GET", "DELETE", "PATCH"])
def test_other_methods_are_refused(api: ApiClient, method: str):
    attributes = minted_url(api)
    response = browser(api).request(method, path_of(attributes["url"]))
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert response.headers["Allow"] == "PUT, POST, OPTIONS"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_a_key_that_signed_stays_good_while_in_the_ring(make_app: Any, validate: Any):
    app = make_app()
    services = get_services(app)
    world = make_world(services)
    api = ApiClient(app, validate, world.secret)
    attributes = minted_url(api)
    new = SigningKey("k2", b"another-signing-secret-of-32-bytes")
    rotated = ApiClient(make_app(signing_keys=(new, SIGNING_KEY)), validate, world.secret)
    assert put(rotated, attributes["url"], b"x").status_code == 201
    dropped = ApiClient(make_app(signing_keys=(new,)), validate, world.secret)
    again = minted_url(api)
    assert error_of(put(dropped, again["url"], b"x"))["code"] == "invalid_token"


def test_a_large_put_streams_in_bounded_memory(api: ApiClient):
    import tracemalloc

    attributes = minted_url(api)
    body = raw(20 * MiB)
    tracemalloc.start()
    try:
        response = put(api, attributes["url"], body, chunked=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 201, response.data
    attributes = response.get_json(force=True)["data"]["attributes"]
    assert attributes["byte-size"] == 20 * MiB
    assert attributes["checksum"]["value"] == body.digest.hexdigest()
    assert peak < 4 * MiB, f"peak {peak} bytes for a 20 MiB upload"


def test_guessed_upload_tokens_count_against_the_address(make_app: Any, validate: Any):
    from files_service.ratelimit import RateLimit

    app = make_app(rate_limit=RateLimit(3, 60))
    world = make_world(get_services(app))
    api = ApiClient(app, validate, world.secret)
    attributes = minted_url(api)
    tampered = attributes["url"][:-1] + ("A" if attributes["url"][-1] != "A" else "B")
    for _ in range(3):
        assert error_of(put(api, tampered, b"x"))["code"] == "invalid_token"
    refused = put(api, attributes["url"], b"x")  # even the good URL, for a while
    assert refused.status_code == 429
    assert error_of(refused)["code"] == "rate_limited"
    assert refused.headers["Access-Control-Allow-Origin"] == "*"


def test_include_and_fields_apply_to_the_upload_url(api: ApiClient, world: World):
    response = mint(api, query="?include=created-by,organization&fields[upload-url]=url,file-id")
    assert response.status_code == 201, response.data
    document = response.get_json(force=True)
    assert set(document["data"]["attributes"]) == {"url", "file-id"}
    assert {(r["type"], r["id"]) for r in document["included"]} == {
        ("api-key", world.key.id), ("organization", world.org.id)}
    bad = mint(api, query="?fields[upload-url]=size")
    assert bad.status_code == 400
    assert error_of(bad)["source"] == {"parameter": "fields[upload-url]"}


def test_a_url_stays_used_once_its_file_is_deleted(api: ApiClient):
    attributes = minted_url(api)
    assert put(api, attributes["url"], CONTENT).status_code == 201
    assert api.delete(f"/api/v1/files/{attributes['file-id']}").status_code == 204
    again = put(api, attributes["url"], CONTENT)
    assert again.status_code == 409
    assert error_of(again)["code"] == "upload_url_used"
    assert api.get(f"/api/v1/files/{attributes['file-id']}").status_code == 404
