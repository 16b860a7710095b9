"""Uploads through signed upload URLs (§5) in a real browser: Debian's Chromium, headless,
driven by Playwright as in ``test_browser.py``, from a page on another origin (a second
loopback port), so that CORS is real:

- ``fetch()`` ``PUT``s a file built in the page (a preflight first: its type is not
  CORS-safelisted), reads the ``201``, the exposed ``Location`` and the file's document, then
  downloads the file through the download URL the document carries, byte for byte;
- a plain HTML form with no script ``POST``s a file chosen in its file input; the browser
  shows the document, whose download URL gives back the very bytes;
- a second use of the URL fails in the page, and its script reads ``upload_url_used``.

Skipped, saying why, only where no Chromium can be found."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from files_service.registry.models import ApiKey
from files_service.services import Services
from files_service.upload_urls import mint_upload_url
from tests.browser import Browser, open_browser
from tests.servers import Server, new_server

pytestmark = pytest.mark.e2e

SIZE = 3 * 1024 * 1024 + 17  # a few reads of the service's, and not a round number


def content() -> bytes:
    """What the page uploads: every byte value, in a pattern the page can make too."""
    return bytes((i * 7 + i // 256) % 256 for i in range(SIZE))


PAGE_CONTENT = f"""() => {{
    const bytes = new Uint8Array({SIZE});
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + Math.floor(i / 256)) % 256;
    return bytes;
}}"""


@dataclass
class Site(Browser):
    """The service, a page origin elsewhere, and Chromium."""

    server: Server
    services: Services
    key: ApiKey

    def upload_url(self, filename: str, **kwargs: Any) -> str:
        return mint_upload_url(self.services, self.key, self.key, filename=filename,
                               **kwargs).url


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("browser-uploads")
    server = new_server(tmp)
    services = server.services()
    org = services.registry.create_organization("Browser")
    key, _ = services.registry.create_api_key(org.id, name="browser", api_version="2025-06-01")
    server.start(workers=2)

    try:
        with open_browser(tmp) as browser:
            yield Site(**vars(browser), server=server, services=services, key=key)
    finally:
        services.close()
        server.stop()


def fetched(url: str) -> bytes:
    """The bytes behind a download URL, fetched outside the browser."""
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()  # type: ignore[no-any-return]


PUT = """async ([url, make]) => {
    const bytes = (new Function('return ' + make))()();
    const r = await fetch(url, {method: 'PUT', headers: {'Content-Type': 'image/png'},
                                body: new Blob([bytes])});
    const document = await r.json();
    const result = {status: r.status, location: r.headers.get('location'), document};
    if (r.status === 201) {
        const d = await fetch(document.data.attributes.url);
        const got = new Uint8Array(await d.arrayBuffer());
        result.downloaded = got.length === bytes.length && got.every((b, i) => b === bytes[i]);
        result.downloadStatus = d.status;
    }
    return result;
}"""


def test_fetch_puts_a_file_from_another_origin(site: Site):
    url = site.upload_url("picture.png", content_type="image/*", metadata={"from": "fetch"})
    page = site.page("<p>a customer's page</p>")
    assert page.evaluate("location.origin") == site.origin != site.server.base
    result = page.evaluate(PUT, [url, PAGE_CONTENT])
    assert result["status"] == 201, result
    data = result["document"]["data"]
    assert result["location"] == f"{site.server.base}/api/v1/files/{data['id']}"
    assert data["attributes"]["byte-size"] == SIZE
    assert data["attributes"]["content-type"] == "image/png"
    assert data["attributes"]["metadata"] == {"from": "fetch"}
    # The page downloaded what it uploaded, through the URL the answer minted; so does this.
    assert result["downloadStatus"] == 200 and result["downloaded"] is True
    assert fetched(data["attributes"]["url"]) == content()
    # The URL works once: a second PUT fails in the page, which can read why.
    again = page.evaluate(PUT, [url, PAGE_CONTENT])
    assert again["status"] == 409
    assert again["document"]["errors"][0]["code"] == "upload_url_used"
    page.close()


def test_a_plain_html_form_posts_a_file(site: Site, tmp_path: Path):
    chosen = tmp_path / "chosen on disk.bin"
    chosen.write_bytes(content())
    url = site.upload_url("report.pdf")
    page = site.page(
        f'<form method="post" enctype="multipart/form-data" action="{url}">'
        '<input type="file" name="file" id="file"><button id="go">Upload</button></form>'
    )
    page.set_input_files("#file", str(chosen))
    with page.expect_navigation():
        page.click("#go")
    # Chromium shows a JSON answer as text in a <pre>.
    document = json.loads(page.evaluate("document.body.innerText"))
    data = document["data"]
    assert data["type"] == "file"
    assert data["attributes"]["filename"] == "report.pdf"  # the URL's name, not the disk's
    assert data["attributes"]["byte-size"] == SIZE
    assert fetched(data["attributes"]["url"]) == content()
    page.close()
