"""A real browser through the front tier: Debian's Chromium, headless (Playwright drives the
system Chromium, as tests/e2e/test_browser.py does), on pages of another origin. An image
renders, a video seeks with the browser's own Range requests (206s the edge answers itself),
an attachment saves under its exact non-ASCII name, a script's ranged fetch passes its CORS
preflight, and a revoked key's URL fails in the page once the edge's cache lets go."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from files_service.registry.models import File
from tests.browser import Browser, open_browser
from tests.e2e.test_browser import (
    ATTACHMENT_NAME,
    VIDEO_SECONDS,
    png,
    webm,
)
from tests.edge.conftest import Stack

pytestmark = pytest.mark.e2e

CACHE_SECONDS = 2


@dataclass
class Site(Browser):
    stack: Stack
    files: dict[str, File]


    def tiers(self, path: str) -> list[str]:
        """The tier that answered each logged request for ``path``."""
        return [m.group(1) for line in self.stack.edge.access_lines()
                if f" {path} " in line and (m := re.search(r" tier=(\S+)", line))]


@pytest.fixture(scope="module")
def site(stacks: Callable[..., Stack], tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("browser")
    stack = stacks(FILES_REGISTRY_CACHE_SECONDS=str(CACHE_SECONDS), workers=2)
    contents = {
        "picture.png": (png(64, 48), "image/png"),
        "clip.webm": (webm(tmp / "clip.webm"), "video/webm"),
        ATTACHMENT_NAME: ("Bonjour, Zoë!\n".encode(), "text/plain; charset=utf-8"),
        "data.bin": (bytes(range(256)) * 16, "application/octet-stream"),
    }
    files = {name: stack.store(name, content, kind)
             for name, (content, kind) in contents.items()}
    with open_browser(tmp, accept_downloads=True) as browser:
        yield Site(**vars(browser), stack=stack, files=files)


def test_an_image_renders(site: Site) -> None:
    page = site.page(f'<img id="img" src="{site.stack.url(site.files["picture.png"])}">')
    page.wait_for_function("() => document.getElementById('img').complete")
    size = page.evaluate("() => [document.getElementById('img').naturalWidth,"
                         " document.getElementById('img').naturalHeight]")
    assert size == [64, 48]
    assert site.tiers("/picture.png") == ["edge"]
    page.close()


def test_a_video_seeks(site: Site) -> None:
    file = site.files["clip.webm"]
    url = site.stack.url(file)
    answers: list[tuple[int, str | None]] = []
    page = site.context.new_page()
    page.on("response", lambda r: answers.append((r.status, r.headers.get("content-range")))
            if r.url == url else None)
    (site.pages / "video.html").write_text(
        f'<!doctype html><video id="v" src="{url}" preload="metadata" muted></video>')
    page.goto(f"{site.origin}/video.html")
    duration = page.evaluate("""() => new Promise((resolve, reject) => {
        const v = document.getElementById('v');
        v.onerror = () => reject(new Error('video error ' + (v.error && v.error.code)));
        if (v.readyState >= 1) resolve(v.duration);
        else v.onloadedmetadata = () => resolve(v.duration);
    })""")
    assert abs(duration - VIDEO_SECONDS) < 1
    seeked = page.evaluate("""(t) => new Promise((resolve, reject) => {
        const v = document.getElementById('v');
        v.onerror = () => reject(new Error('video error ' + (v.error && v.error.code)));
        v.onseeked = () => resolve(v.currentTime);
        v.currentTime = t;
    })""", VIDEO_SECONDS - 2)
    assert abs(seeked - (VIDEO_SECONDS - 2)) < 0.5
    assert answers and all(status == 206 for status, _ in answers), answers
    starts = [int(cr.split()[1].split("-")[0]) for _, cr in answers if cr]
    assert any(0 < start < file.byte_size for start in starts), answers
    assert set(site.tiers("/clip.webm")) == {"edge"}
    page.close()


def test_an_attachment_saves_under_its_exact_name(site: Site, tmp_path: Path) -> None:
    url = site.stack.url(site.files[ATTACHMENT_NAME], disposition="attachment")
    page = site.page(f'<a id="dl" href="{url}">download</a>')
    with page.expect_download() as info:
        page.click("#dl")
    assert info.value.suggested_filename == ATTACHMENT_NAME
    saved = tmp_path / "saved"
    info.value.save_as(saved)
    assert saved.read_text(encoding="utf-8") == "Bonjour, Zoë!\n"
    page.close()


def test_a_scripts_ranged_fetch_passes_its_preflight(site: Site) -> None:
    page = site.page("<p>a customer's page</p>")
    url = site.stack.url(site.files["data.bin"])
    got = page.evaluate("""async (url) => {
        const r = await fetch(url, {headers: {'Range': 'bytes=10-19', 'If-None-Match': '"x"'}});
        return {status: r.status, range: r.headers.get('content-range'),
                body: Array.from(new Uint8Array(await r.arrayBuffer()))};
    }""", url)
    assert got == {"status": 206, "range": "bytes 10-19/4096", "body": list(range(10, 20))}
    assert site.tiers("/data.bin")[-2:] == ["edge", "edge"]  # the preflight, then the GET
    page.close()


def test_a_revoked_url_fails_in_the_page(site: Site) -> None:
    registry = site.stack.services.registry
    key, _ = registry.create_api_key(site.stack.org.id, name="to-revoke")
    url = site.stack.url(site.files["data.bin"], key=key)
    page = site.page("<p>a customer's page</p>")
    fetch = "async (url) => { const r = await fetch(url, {cache: 'no-store'}); " \
            "return [r.status, await r.text()]; }"
    assert page.evaluate(fetch, url)[0] == 200
    registry.revoke_principal(key.id)
    deadline = time.monotonic() + CACHE_SECONDS + 3
    while True:
        status, body = page.evaluate(fetch, url)
        if status == 403:
            assert "revoked_token" in body
            break
        assert status == 200 and time.monotonic() < deadline, "still served past the cache"
        time.sleep(0.2)  # polling nginx's wall-clock cache
    page.close()
