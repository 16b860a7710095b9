"""A real browser for the tests: Debian's Chromium, headless, driven by Playwright (with the
system Chromium as its executable; Playwright never downloads a browser here), and a page
origin of its own (a second loopback port), so that CORS and Cross-Origin-Resource-Policy
are real.

    with open_browser(tmp) as browser:      # skips, saying why, where no Chromium is found
        page = browser.page('<img src="...">')
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = next(
    (path for path in (os.environ.get("FILES_TEST_CHROMIUM"), shutil.which("chromium"),
                       "/usr/bin/chromium", shutil.which("chromium-browser"))
     if path and os.access(path, os.X_OK)),
    None,
)
# The network is closed: without these Chromium tries outbound connections of its own.
CHROMIUM_FLAGS = [
    "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps",
    "--no-default-browser-check", "--mute-audio",
]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Browser:
    """Chromium (a persistent Playwright context) and the origin its pages come from."""

    origin: str
    pages: Path
    context: Any

    def page(self, html: str) -> Any:
        """A new tab showing ``html``, served from the other origin."""
        name = f"page-{time.monotonic_ns()}.html"
        (self.pages / name).write_text(f"<!doctype html><meta charset=utf-8>{html}")
        page = self.context.new_page()
        page.goto(f"{self.origin}/{name}")
        return page


@contextmanager
def open_browser(tmp: Path, **launch: Any) -> Iterator[Browser]:
    """Chromium with its profile under ``tmp`` (``launch``: Playwright's options, such as
    ``accept_downloads``) and a static server of ``tmp/pages`` on a free loopback port;
    the test skips where no Chromium is found."""
    if CHROMIUM is None:
        pytest.skip("no Chromium found (Debian package chromium; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    pages = tmp / "pages"
    pages.mkdir()
    origin_server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(pages)))
    thread = threading.Thread(target=origin_server.serve_forever, daemon=True)
    thread.start()
    args = [*CHROMIUM_FLAGS]
    if os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(tmp / "profile"), executable_path=CHROMIUM, headless=True, args=args,
                **launch,
            )
            try:
                yield Browser(f"http://127.0.0.1:{origin_server.server_address[1]}", pages,
                              context)
            finally:
                context.close()
    finally:
        origin_server.shutdown()
        origin_server.server_close()
        thread.join(timeout=10)
