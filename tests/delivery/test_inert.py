"""Which file types ``redirect`` mode may send to the storage's own origin (files_service.delivery
.inert): inert ones only; anything a browser may run script from, or read differently from the
service, is not."""

from __future__ import annotations

import pytest

from files_service.delivery import is_inert


@pytest.mark.parametrize(
    "content_type",
    [
        "image/png", "IMAGE/JPEG", "image/webp", "image/x-icon", "audio/mpeg", "video/mp4",
        "font/woff2", "text/plain", "text/plain; charset=utf-8", "text/csv",
        "application/pdf", "application/octet-stream", "application/json", "application/zip",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        " image/gif ; name=x",
    ],
)
def test_inert(content_type: str) -> None:
    assert is_inert(content_type)


@pytest.mark.parametrize(
    "content_type",
    [
        # documents that run script
        "text/html", "TEXT/HTML; charset=utf-8", "application/xhtml+xml", "image/svg+xml",
        "IMAGE/SVG+XML", "text/xml", "application/xml", "text/xsl", "application/xslt+xml",
        "application/rss+xml", "application/vnd.mozilla.xul+xml", "application/mathml+xml",
        "multipart/x-mixed-replace; boundary=x", "message/rfc822",
        # scripts, for a worker or a service worker of the storage's origin
        "text/javascript", "application/javascript", "application/ecmascript",
        # types browsers sniff, into HTML too
        "unknown/unknown", "application/unknown", "*/*", "image/*",
        # what a browser might read as another type than the one checked
        "image/png,text/html", "image/png, text/html", "image/png;x=1,text/html",
        "image", "image/", "/png", "image/png/x", "image /png", "text/html\x00",
        # anything not known to be inert
        "application/x-shockwave-flash", "text/vtt", "foo/bar", "",
    ],
)
def test_not_inert(content_type: str) -> None:
    assert not is_inert(content_type)
