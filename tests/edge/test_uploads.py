"""Uploads of any size pass through the front tier to the service as they arrive (SPEC §9):
nginx neither refuses them (no body size limit of its own) nor spools them to its disk first;
with a length or chunked; through the API and through signed upload URLs (``/uploads/``),
whose tokens stay out of nginx's logs."""

from __future__ import annotations

import hashlib
import http.client
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from files_service.upload_urls import mint_upload_url
from tests.edge.conftest import Stack

pytestmark = pytest.mark.e2e

BOUNDARY = "edge-upload-boundary"
CHUNK = 1024 * 1024


def pattern(size: int) -> Iterator[bytes]:
    block = bytes(range(256)) * (CHUNK // 256)
    sent = 0
    while sent < size:
        piece = block[: min(CHUNK, size - sent)]
        sent += len(piece)
        yield piece


def digest(size: int) -> str:
    sha = hashlib.sha256()
    for piece in pattern(size):
        sha.update(piece)
    return sha.hexdigest()


def upload(stack: Stack, size: int, *, chunked: bool) -> tuple[int, dict]:
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        yield from pattern(size)
        yield tail

    port = int(stack.edge.base.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    headers = {
        "Authorization": f"Bearer {stack.secret}",
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Accept": "application/vnd.api+json",
    }
    if not chunked:
        headers["Content-Length"] = str(len(head) + size + len(tail))
    try:
        conn.request("POST", "/api/v1/files", body=body(), headers=headers,
                     encode_chunked=chunked)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@pytest.fixture(scope="module")
def stack(stacks: Callable[..., Stack]) -> Stack:
    return stacks()


def spooled(stack: Stack) -> list[Path]:
    return [p for p in (stack.edge.prefix / "temp").rglob("*") if p.is_file()]


@pytest.mark.parametrize(("size", "chunked"), [(200 * 1024 * 1024, False),
                                               (20 * 1024 * 1024, True)])
def test_a_large_upload_passes_through(stack: Stack, size: int, chunked: bool) -> None:
    status, document = upload(stack, size, chunked=chunked)
    assert status == 201, document
    attributes = document["data"]["attributes"]
    assert attributes["byte-size"] == size
    assert attributes["checksum"]["value"] == digest(size)
    assert not spooled(stack), "nginx wrote the body to its own disk"
    url = attributes["url"]
    stack.remember(url)
    # And it downloads through the edge, its last bytes too.
    port = int(stack.edge.base.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", url.removeprefix(stack.edge.base), headers={"Range": "bytes=-16"})
        response = conn.getresponse()
        assert response.status == 206
        assert response.read() == bytes(range(240, 256))
    finally:
        conn.close()


def put_raw(stack: Stack, path: str, size: int, *, chunked: bool,
            content_type: str = "application/octet-stream") -> tuple[int, dict]:
    """``PUT`` ``size`` bytes of the pattern to ``path`` on the edge, with no credentials."""
    port = int(stack.edge.base.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    headers = {"Content-Type": content_type}
    if not chunked:
        headers["Content-Length"] = str(size)
    try:
        conn.request("PUT", path, body=pattern(size), headers=headers, encode_chunked=chunked)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@pytest.mark.parametrize(("size", "chunked"), [(100 * 1024 * 1024, False),
                                               (20 * 1024 * 1024, True)])
def test_an_upload_url_takes_a_large_upload_through_the_edge(
    stack: Stack, size: int, chunked: bool
) -> None:
    minted = mint_upload_url(stack.services, stack.key, stack.key, filename="through.bin")
    assert minted.url.startswith(f"{stack.edge.base}/uploads/")
    stack.remember(minted.url)
    path = minted.url.removeprefix(stack.edge.base)
    status, document = put_raw(stack, path, size, chunked=chunked)
    assert status == 201, document
    attributes = document["data"]["attributes"]
    assert (attributes["byte-size"], attributes["checksum"]["value"]) == (size, digest(size))
    assert not spooled(stack), "nginx wrote the body to its own disk"
    stack.remember(attributes["url"])
    again, refused = put_raw(stack, path, 16, chunked=False)
    assert again == 409 and refused["errors"][0]["code"] == "upload_url_used"


def test_an_upload_url_refusal_comes_through_the_edge(stack: Stack) -> None:
    minted = mint_upload_url(stack.services, stack.key, stack.key, filename="small.bin",
                             max_bytes=1024)
    stack.remember(minted.url)
    status, document = put_raw(stack, minted.url.removeprefix(stack.edge.base), 4096,
                               chunked=False)
    assert status == 413 and document["errors"][0]["code"] == "upload_too_large"
