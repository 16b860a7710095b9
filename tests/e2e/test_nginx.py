"""Behind a real nginx (Debian's), started by the tests with the configurations of
docs/delivery.md: ``accel`` mode serves the right bytes and headers for local files and for S3
objects, ranges included; nginx as a caching proxy never keeps a download past its token's
expiry and never caches an error. Every header arrives intact through gunicorn and nginx,
Content-Disposition of awkward names included."""

from __future__ import annotations

import http.client
import json
import struct
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from files_service.clock import ManualClock
from files_service.delivery import content_disposition
from files_service.delivery.caching import NO_STALE
from files_service.files import register_file, store_file
from files_service.registry.models import ApiKey, File
from files_service.services import Services
from files_service.storage import S3Storage
from files_service.tokens import LEGACY
from tests.servers import AWS_ENV, Nginx, Server, free_port, s3_client

pytestmark = pytest.mark.e2e

CONTENT = bytes(range(256)) * 1024  # 256 KiB
AWKWARD_NAMES = [
    'naïve "quoted"; name\\with, comma.txt',
    "Résumé \u2013 2026 ✓ 🎉.pdf",
    "é" * 127 + "x",  # 255 bytes of UTF-8
    "%41%2F..%00 looks encoded.txt",
    "x; filename*=UTF-8''forged.exe",  # a naive client must not read a parameter of its own
    "\u05e2\u05d1\u05e8\u05d9\u05ea.txt",  # a right-to-left script (bidi controls are refused)
]


def request(
    method: str, url: str, headers: dict[str, str] | None = None
) -> tuple[int, Message, bytes]:
    """One request on its own connection; the headers as a Message, so repeats show."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
    try:
        conn.request(method, f"{parts.path}?{parts.query}" if parts.query else parts.path,
                     headers=headers or {})
        response = conn.getresponse()
        return response.status, response.msg, response.read()
    finally:
        conn.close()


def parsed_filename(disposition: str) -> str:
    """The exact name a browser takes from ``filename*`` (RFC 8187)."""
    for part in disposition.split(";"):
        name, _, value = part.strip().partition("=")
        if name == "filename*":
            charset, _, encoded = value.partition("''")
            assert charset == "UTF-8"
            return unquote(encoded, errors="strict")
    raise AssertionError(f"no filename* in {disposition!r}")


@dataclass
class Stack:
    """A service behind nginx, and the service's parts in-process to seed and mint."""

    server: Server
    nginx: Nginx
    services: Services
    key: ApiKey
    secret: str
    file: File

    def url(self, file: File | None = None, **kw: object) -> str:
        return self.services.minter.mint(file or self.file, self.key, **kw).url

    def store(self, filename: str, content: bytes = b"x", content_type: str = "text/plain") -> File:
        return store_file(
            self.services, self.key.organization_id, iter([content]), filename=filename,
            content_type=content_type,
        )


@pytest.fixture
def make_stack(make_server, make_nginx, moto_endpoint) -> Iterator[Callable[..., Stack]]:  # type: ignore[no-untyped-def]
    built: list[Services] = []

    def make(config: str, *, s3: bool = False, clock: ManualClock | None = None,
             **settings: str) -> Stack:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = dict(FILES_DOWNLOAD_BASE_URL=base, FILES_API_BASE_URL=base,
                   FILES_TRUSTED_PROXIES="1", **settings)
        storage = None
        if s3:
            client = s3_client(moto_endpoint)
            bucket = f"e2e-{uuid.uuid4().hex}"
            client.create_bucket(Bucket=bucket)
            storage = S3Storage(bucket, "objects", client=client)
            env.update(AWS_ENV, FILES_STORAGE=f"s3://{bucket}/objects",
                       FILES_S3_ENDPOINT_URL=moto_endpoint)
        server = make_server(**env)
        services = server.services(storage=storage, clock=clock)
        built.append(services)
        org = services.registry.create_organization("E2E")
        key, secret = services.registry.create_api_key(org.id, name="e2e")
        file = store_file(services, org.id, iter([CONTENT]), filename="data.bin",
                          content_type="application/x-test")
        server.start()
        service_address = server.base.removeprefix("http://")
        replacements = {"127.0.0.1:8000": service_address}
        if config == "accel-local":
            replacements["/srv/files/objects/"] = services.storage.root + "/"
        elif config == "accel-s3":
            replacements["127.0.0.1:9000"] = moto_endpoint.removeprefix("http://")
        elif config == "cache":
            replacements["/var/cache/nginx/files"] = str(server.log.parent / f"cache-{port}")
        nginx = make_nginx(port, config, replacements)
        return Stack(server, nginx, services, key, secret, file)

    yield make
    for services in built:
        services.close()


# -- accel ---------------------------------------------------------------------------------------


def assert_download_headers(headers: Message, file: File, disposition: str = "inline") -> None:
    """The §4 headers, each exactly once, as the browser gets them from nginx."""
    expected = {
        "Content-Type": file.content_type,
        "ETag": f'"{file.checksum}"',
        "Content-Disposition": content_disposition(file.filename, disposition),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Access-Control-Allow-Origin": "*",
    }
    for name, value in expected.items():
        assert headers.get_all(name) == [value], name
    assert len(headers.get_all("Cache-Control")) == 1
    assert headers["Cache-Control"].startswith("private, max-age=")
    assert len(headers.get_all("Last-Modified")) == 1
    assert "Content-Range" in headers["Access-Control-Expose-Headers"]
    # (S3's own x-amz-* request ids may pass: nothing in them is a secret.)
    assert not any(h.lower().startswith(("x-accel", "x-files")) for h in headers)


@pytest.mark.parametrize("storage", ["local", "s3"])
def test_accel_serves_the_bytes_through_nginx(make_stack, storage: str):  # type: ignore[no-untyped-def]
    stack = make_stack(f"accel-{storage}", s3=storage == "s3", FILES_DELIVERY="accel")
    url, size = stack.url(), len(CONTENT)

    status, headers, body = request("GET", url)
    assert (status, body) == (200, CONTENT)
    assert headers["Content-Length"] == str(size)
    assert_download_headers(headers, stack.file)

    for spec, start, end in (("bytes=1000-1999", 1000, 1999), ("bytes=-10", size - 10, size - 1),
                             ("bytes=262000-", 262000, size - 1)):
        status, headers, body = request("GET", url, {"Range": spec})
        assert status == 206, spec
        assert body == CONTENT[start : end + 1]
        assert headers.get_all("Content-Range") == [f"bytes {start}-{end}/{size}"]
        assert_download_headers(headers, stack.file)

    etag = f'"{stack.file.checksum}"'
    status, _, body = request("GET", url, {"Range": "bytes=0-9", "If-Range": etag})
    assert (status, body) == (206, CONTENT[:10])
    status, _, body = request("GET", url, {"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert (status, body) == (200, CONTENT)
    status, _, body = request("GET", url, {"Range": "bytes=0-9,20-29"})
    assert (status, body) == (200, CONTENT)
    status, _, body = request("GET", url, {"Range": "bytes=0-9, "})
    assert (status, body) == (206, CONTENT[:10])

    status, headers, body = request("GET", url, {"If-None-Match": etag})
    assert (status, body) == (304, b"")
    assert headers["ETag"] == etag

    status, headers, body = request("GET", url, {"Range": f"bytes={size}-"})
    assert status == 416
    assert headers["Content-Range"] == f"bytes */{size}"
    assert json.loads(body)["errors"][0]["code"] == "range_not_satisfiable"

    status, headers, body = request("HEAD", url)
    assert (status, body) == (200, b"")
    assert headers["Content-Length"] == str(size)

    status, headers, body = request("GET", url[:-4] + "AAAA")
    assert status == 403
    assert headers["Cache-Control"] == "no-store"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert json.loads(body)["errors"][0]["code"] == "invalid_token"

    # The legacy path: the API key is checked by the service and never reaches storage.
    legacy = stack.url(style=LEGACY)
    assert request("GET", legacy)[0] == 401
    status, headers, body = request(
        "GET", legacy, {"Authorization": f"Bearer {stack.secret}", "Range": "bytes=5-9"}
    )
    assert (status, body) == (206, CONTENT[5:10])

    for name in AWKWARD_NAMES:
        file = stack.store(name, b"awkward", "text/plain; charset=utf-8")
        status, headers, body = request("GET", stack.url(file, disposition="attachment"))
        assert (status, body) == (200, b"awkward")
        assert_download_headers(headers, file, "attachment")
        assert parsed_filename(headers["Content-Disposition"]) == name

    # A key with spaces, non-ASCII and reserved characters: decoded exactly once on the way,
    # whether nginx serves it from disk or S3 serves the path nginx passed on.
    key = "in box/é+!'(%);=.bin"
    stack.services.storage.write(key, [b"odd key"])
    odd = register_file(stack.services, stack.key.organization_id, key, filename="odd.bin",
                        content_type="application/octet-stream")
    for headers_in, expected in (({}, b"odd key"), ({"Range": "bytes=4-6"}, b"key")):
        status, _, body = request("GET", stack.url(odd), headers_in)
        assert body == expected, status

    # An object gone from storage behind the registry's back: a JSON:API 404 from nginx.
    gone = stack.store("gone.txt", b"soon gone")
    stack.services.storage.delete(gone.storage_key)
    status, headers, body = request("GET", stack.url(gone))
    assert status == 404
    assert json.loads(body)["errors"][0]["code"] == "not_found"
    assert "no-store" in headers.get_all("Cache-Control")
    assert headers["Access-Control-Allow-Origin"] == "*"

    assert "[alert]" not in stack.nginx.error_log and "[crit]" not in stack.nginx.error_log


# -- nginx as a caching proxy ----------------------------------------------------------------


def cached_entries(cache_dir: Path) -> list[tuple[int, int]]:
    """``(date, valid_sec)`` of each entry of an nginx cache directory: when nginx stored it
    and until when it will serve it without asking the service again (the header of
    ``ngx_http_file_cache_header_t``: version, valid_sec, updating_sec, error_sec,
    last_modified, date, as 64-bit little-endian words)."""
    entries = []
    for path in cache_dir.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            version, valid_sec, _, _, _, date = struct.unpack_from("<Qqqqqq", path.read_bytes())
            assert version == 5, f"unknown nginx cache file version {version}"
            entries.append((date, valid_sec))
    return entries


def test_a_caching_proxy_never_outlives_the_token_nor_caches_an_error(make_stack):  # type: ignore[no-untyped-def]
    stack = make_stack("cache", FILES_CDN_CACHE="public")
    cache_dir = stack.nginx.prefix.parent / f"cache-{stack.nginx.base.rsplit(':', 1)[1]}"
    minted = stack.services.minter.mint(stack.file, stack.key, ttl=120)

    status, headers, body = request("GET", minted.url)
    assert (status, body, headers["X-Cache-Status"]) == (200, CONTENT, "MISS")
    max_age = int(headers["Cache-Control"].split("s-maxage=")[1].split(",")[0])
    assert 0 < max_age <= minted.expires_at - int(time.time()) + 1
    status, headers, body = request("GET", minted.url)
    assert (status, body, headers["X-Cache-Status"]) == (200, CONTENT, "HIT")
    assert headers["Cache-Control"].startswith("public, max-age=")
    status, headers, body = request("GET", minted.url, {"Range": "bytes=10-19"})
    assert (status, body, headers["X-Cache-Status"]) == (206, CONTENT[10:20], "HIT")

    # nginx's own record of the entry: served without the service only until valid_sec,
    # which is never past the token's expiry. No waiting on a clock needed.
    (entry,) = cached_entries(cache_dir)
    stored_at, valid_until = entry
    assert stored_at <= valid_until <= minted.expires_at

    # A URL whose token expires within the next two seconds: cached for at most that long.
    short = stack.services.minter.mint(stack.file, stack.key, ttl=2)
    status, headers, _ = request("GET", short.url)
    assert status == 200
    assert headers["Cache-Control"] in ("no-store", f"public, max-age=1, s-maxage=1, {NO_STALE}",
                                        f"public, max-age=2, s-maxage=2, {NO_STALE}")
    new = [valid for _, valid in cached_entries(cache_dir) if valid != valid_until]
    assert all(valid <= short.expires_at for valid in new)

    # Inside the clock leeway (expired 3 s ago by the server's real clock): served no-store,
    # so never cached.
    past = ManualClock(time.time() - 30)
    expired_services = stack.server.services(clock=past)
    try:
        lapsed = expired_services.minter.mint(
            expired_services.registry.get_file(stack.file.id),
            expired_services.registry.get_principal(stack.key.id), ttl=27,
        )
    finally:
        expired_services.close()
    for _ in range(2):
        status, headers, body = request("GET", lapsed.url)
        assert (status, headers["Cache-Control"], headers["X-Cache-Status"]) == (
            200, "no-store", "MISS")

    # Errors: never cached, however often asked.
    before = len(cached_entries(cache_dir))
    for url in (minted.url[:-4] + "AAAA", minted.url.replace("data.bin", "other.bin")):
        for _ in range(2):
            status, headers, body = request("GET", url)
            assert status == 403
            assert headers["Cache-Control"] == "no-store"
            assert headers["X-Cache-Status"] == "MISS"
            assert json.loads(body)["errors"][0]["code"] == "invalid_token"
    assert len(cached_entries(cache_dir)) == before

    for name in AWKWARD_NAMES[:2]:
        file = stack.store(name, b"awkward")
        status, headers, _ = request("GET", stack.url(file, disposition="attachment"))
        assert headers.get_all("Content-Disposition") == [content_disposition(name, "attachment")]


def test_a_caching_proxy_keeps_nothing_of_private_downloads(make_stack):  # type: ignore[no-untyped-def]
    stack = make_stack("cache")  # FILES_CDN_CACHE=private, the default
    url = stack.url()
    statuses = [request("GET", url)[1]["X-Cache-Status"] for _ in range(2)]
    assert statuses == ["MISS", "MISS"]
    status, headers, body = request("GET", url)
    assert (status, body) == (200, CONTENT)
    assert_download_headers(headers, stack.file)
