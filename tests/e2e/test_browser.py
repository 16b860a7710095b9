"""In a real browser: Debian's Chromium, headless, driven by Playwright (with the system
Chromium as its executable; Playwright never downloads a browser here). The pages come from
another origin (a second loopback port), so CORS and Cross-Origin-Resource-Policy are real:

- an ``<img>`` renders from a current-style URL;
- a ``<video>`` seeks, the browser's own Range requests answered with 206;
- an attachment URL saves a download under its exact non-ASCII name;
- ``fetch()`` reads the bytes and the exposed headers, a range included;
- an expired URL fails in the page, and its script can read the 403 and ``expired_token``.

Skipped, saying why, only where no Chromium can be found."""

from __future__ import annotations

import struct
import subprocess
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from files_service.clock import ManualClock
from files_service.files import store_file
from files_service.registry.models import ApiKey, File
from files_service.services import Services
from tests.browser import Browser, open_browser
from tests.servers import Server, new_server

pytestmark = pytest.mark.e2e

ATTACHMENT_NAME = "Résumé \u2013 Zoë\u2019s «plan» ✓.txt"
VIDEO_SECONDS = 10


def png(width: int, height: int) -> bytes:
    """A small RGB PNG, made here (a gradient, so it is plainly an image)."""
    rows = b"".join(
        b"\x00" + bytes(c for x in range(width) for c in (x * 4 % 256, y * 4 % 256, 128))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def webm(path: Path) -> bytes:
    """A VP8 clip of a test pattern, made with the ffmpeg that the imageio-ffmpeg wheel
    ships (no network, no system package)."""
    import imageio_ffmpeg

    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc=duration={VIDEO_SECONDS}:size=320x240:rate=25",
         # Noise, so the clip is a few MB: more than Chromium reads ahead with
         # preload=metadata, so that seeking near the end needs a new Range request.
         "-vf", "noise=alls=30:allf=t", "-c:v", "libvpx", "-b:v", "3M", "-g", "25",
         "-deadline", "realtime",
         "-cpu-used", "8", str(path)],
        check=True, timeout=60,
    )
    return path.read_bytes()


@dataclass
class Site(Browser):
    """The service, a page origin elsewhere, and Chromium."""

    server: Server
    services: Services
    key: ApiKey
    files: dict[str, File]

    def url(self, name: str, **kw: object) -> str:
        return self.services.minter.mint(self.files[name], self.key, **kw).url


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("browser")
    server = new_server(tmp)
    services = server.services()
    org = services.registry.create_organization("Browser")
    key, _ = services.registry.create_api_key(org.id, name="browser")
    contents = {
        "picture.png": (png(64, 48), "image/png"),
        "clip.webm": (webm(tmp / "clip.webm"), "video/webm"),
        ATTACHMENT_NAME: ("Bonjour, Zoë!\n".encode(), "text/plain; charset=utf-8"),
        "data.bin": (bytes(range(256)) * 16, "application/octet-stream"),
    }
    files = {
        name: store_file(services, org.id, iter([content]), filename=name, content_type=kind)
        for name, (content, kind) in contents.items()
    }
    server.start(workers=2)

    try:
        with open_browser(tmp, accept_downloads=True) as browser:
            yield Site(**vars(browser), server=server, services=services, key=key, files=files)
    finally:
        services.close()
        server.stop()


def test_an_image_renders_from_another_site(site: Site):
    page = site.page(f'<img id="img" src="{site.url("picture.png")}">')
    page.wait_for_function(
        "() => { const i = document.getElementById('img'); return i.complete; }"
    )
    size = page.evaluate(
        "() => [document.getElementById('img').naturalWidth,"
        " document.getElementById('img').naturalHeight]"
    )
    assert size == [64, 48]


def test_a_video_seeks_with_the_browsers_own_range_requests(site: Site):
    url = site.url("clip.webm")
    answers: list[tuple[int, str | None]] = []
    page = site.context.new_page()
    page.on(
        "response",
        lambda r: answers.append((r.status, r.headers.get("content-range")))
        if r.url == url else None,
    )
    (site.pages / "video.html").write_text(
        f'<!doctype html><video id="v" src="{url}" preload="metadata" muted></video>'
    )
    page.goto(f"{site.origin}/video.html")
    duration = page.evaluate(
        """() => new Promise((resolve, reject) => {
            const v = document.getElementById('v');
            v.onerror = () => reject(new Error('video error ' + (v.error && v.error.code)));
            if (v.readyState >= 1) resolve(v.duration);
            else v.onloadedmetadata = () => resolve(v.duration);
        })"""
    )
    assert abs(duration - VIDEO_SECONDS) < 1
    seeked = page.evaluate(
        """(t) => new Promise((resolve, reject) => {
            const v = document.getElementById('v');
            v.onerror = () => reject(new Error('video error ' + (v.error && v.error.code)));
            v.onseeked = () => resolve([v.currentTime, v.readyState]);
            v.currentTime = t;
        })""",
        VIDEO_SECONDS - 2,
    )
    assert abs(seeked[0] - (VIDEO_SECONDS - 2)) < 0.5
    assert answers, "the browser made no request for the video"
    assert all(status == 206 for status, _ in answers), answers
    size = site.files["clip.webm"].byte_size
    starts = [int(cr.split()[1].split("-")[0]) for _, cr in answers if cr]
    assert len(starts) == len(answers)
    assert all(cr and cr.endswith(f"/{size}") for _, cr in answers)
    # Seeking near the end fetched bytes from the middle of the file, not all of it again.
    assert any(0 < start < size for start in starts), answers
    page.close()


def test_an_attachment_saves_under_its_exact_name(site: Site, tmp_path: Path):
    url = site.url(ATTACHMENT_NAME, disposition="attachment")
    page = site.page(f'<a id="dl" href="{url}">download</a>')
    with page.expect_download() as info:
        page.click("#dl")
    download = info.value
    assert download.suggested_filename == ATTACHMENT_NAME
    saved = tmp_path / "saved"
    download.save_as(saved)
    assert saved.read_text(encoding="utf-8") == "Bonjour, Zoë!\n"
    page.close()


FETCH = """async ([url, headers]) => {
    const r = await fetch(url, {headers});
    const body = Array.from(new Uint8Array(await r.arrayBuffer()));
    const h = {};
    for (const name of ['content-type', 'content-length', 'content-disposition',
                        'content-range', 'accept-ranges', 'etag', 'last-modified',
                        'cache-control']) h[name] = r.headers.get(name);
    return {status: r.status, headers: h, body};
}"""


def test_fetch_from_another_origin_reads_the_bytes_and_the_headers(site: Site):
    page = site.page("<p>a customer's page</p>")
    assert page.evaluate("location.origin") == site.origin != site.server.base
    file = site.files["data.bin"]
    content = list(bytes(range(256)) * 16)
    whole = page.evaluate(FETCH, [site.url("data.bin"), {}])
    assert whole["status"] == 200
    assert whole["body"] == content
    h = whole["headers"]
    assert h["content-type"] == "application/octet-stream"
    assert h["content-length"] == str(file.byte_size)
    assert h["etag"] == f'"{file.checksum}"'
    assert h["content-disposition"].startswith("inline;")
    assert h["cache-control"].startswith("private, max-age=")
    assert h["accept-ranges"] == "bytes"
    assert h["last-modified"]
    # A Range set by the script (and If-None-Match, never CORS-safelisted): a preflight first.
    part = page.evaluate(FETCH, [site.url("data.bin"), {"Range": "bytes=10-19",
                                                        "If-None-Match": '"nope"'}])
    assert part["status"] == 206
    assert part["body"] == content[10:20]
    assert part["headers"]["content-range"] == f"bytes 10-19/{file.byte_size}"
    page.close()


def test_an_expired_url_fails_in_the_page(site: Site):
    # Minted an hour ago with a one-minute TTL: its expiry lies well behind the server's real
    # clock (and its leeway) without anyone waiting for it.
    clock = ManualClock(time.time() - 3600)
    past = site.server.services(clock=clock)
    try:
        expired = {
            name: past.minter.mint(past.registry.get_file(site.files[name].id),
                                   past.registry.get_principal(site.key.id), ttl=60).url
            for name in ("picture.png", "data.bin")
        }
    finally:
        past.close()
    page = site.page(
        f'<img id="img" src="{expired["picture.png"]}" '
        "onload=\"document.title='loaded'\" onerror=\"document.title='failed'\">"
    )
    page.wait_for_function("() => document.title !== ''")
    assert page.title() == "failed"
    outcome = page.evaluate(
        """async (url) => {
            const r = await fetch(url);
            return {status: r.status, type: r.headers.get('content-type'),
                    cache: r.headers.get('cache-control'), body: await r.json()};
        }""",
        expired["data.bin"],
    )
    assert outcome["status"] == 403
    assert outcome["type"] == "application/vnd.api+json"
    assert outcome["cache"] == "no-store"
    (error,) = outcome["body"]["errors"]
    assert error["code"] == "expired_token"
    assert error["meta"]["expired-at"].endswith("Z")
    page.close()
