"""Request bodies have limits (issue #6): every endpoint of the API that takes a JSON document
answers ``413`` past ``MAX_DOCUMENT_BYTES``, with or without a ``Content-Length``, without
reading much past the limit; a multipart upload's parts other than the file (metadata, part
headers, preamble, epilogue) are limited the same way. The file itself is not: it streams."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from files_service.api.negotiation import MAX_DOCUMENT_BYTES
from files_service.api.upload import MAX_FIELD_BYTES, MAX_OVERHEAD_BYTES
from files_service.services import Services
from tests.api.conftest import BOUNDARY, JSON_API, ApiClient, error_of
from tests.conftest import World

MiB = 1024 * 1024
FORM = f"multipart/form-data; boundary={BOUNDARY}"


class CountingBody(io.RawIOBase):
    """``size`` bytes made on the fly (``head``, then filler, then ``tail``), counting what the
    server reads of them."""

    def __init__(self, head: bytes, size: int, tail: bytes = b"", filler: bytes = b" ") -> None:
        self.head, self.tail, self.filler = head, tail, filler
        self.length = len(head) + size + len(tail)
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self.length - self.read_bytes)
        if want <= 0:
            return 0
        chunk = bytearray()
        position = self.read_bytes
        while len(chunk) < want:
            if position < len(self.head):
                piece = self.head[position:position + want - len(chunk)]
            elif position >= self.length - len(self.tail):
                start = position - (self.length - len(self.tail))
                piece = self.tail[start:start + want - len(chunk)]
            else:
                end = min(self.length - len(self.tail), position + want - len(chunk))
                piece = self.filler * (end - position)
            chunk += piece
            position += len(piece)
        buffer[:want] = chunk
        self.read_bytes += want
        return want


def send(api: ApiClient, path: str, method: str, body: CountingBody, content_type: str, *,
         chunked: bool) -> Any:
    environ: dict[str, Any] = {"wsgi.input": body, "CONTENT_TYPE": content_type}
    if chunked:
        environ["wsgi.input_terminated"] = True  # what gunicorn says of a chunked body
    else:
        environ["CONTENT_LENGTH"] = str(body.length)
    return api.request(method, path, environ_overrides=environ)


def body_endpoints(app: Flask) -> list[tuple[str, str]]:
    """Every (method, path) of the API that takes a request body, ids filled in."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH"}):
            found.append((method, re.sub(r"<[^>]+>", "file_" + "0" * 22, rule.rule)))
    return found


def stored_objects(services: Services) -> list[Path]:
    root = Path(services.storage.url.removeprefix("local://"))
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_the_api_has_body_endpoints_to_check(app):
    assert ("POST", "/api/v1/files") in body_endpoints(app)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_every_json_body_endpoint_refuses_a_document_past_the_limit(
    app, api, services, world, chunked
):
    before = stored_objects(services)
    for method, path in body_endpoints(app):
        head = b'{"data": {"type": "file", "attributes": {"filename": "'
        body = CountingBody(head, 4 * MiB, b'"}}}', filler=b"a")
        response = send(api, path, method, body, JSON_API, chunked=chunked)
        assert response.status_code == 413, (method, path, response.data)
        assert error_of(response)["code"] == "payload_too_large"
        # Refused at the limit: with a length, before reading a byte; without, just past it.
        assert body.read_bytes <= (MAX_DOCUMENT_BYTES + 1 if chunked else 0), body.read_bytes
    assert stored_objects(services) == before


def test_a_document_at_the_limit_is_read(api, world):
    head = (b'{"data": {"type": "file", "attributes": {"filename": "a.txt", "storage-key": "'
            + f"imports/{world.org.id}/".encode())
    tail = b'"}}}'
    body = CountingBody(head, MAX_DOCUMENT_BYTES - len(head) - len(tail), tail, filler=b"k")
    response = send(api, "/api/v1/files", "POST", body, JSON_API, chunked=True)
    # Read and judged on its merits (no such object), not refused for its size.
    assert response.status_code == 400, response.data
    assert body.read_bytes == MAX_DOCUMENT_BYTES


def part(name: str, extra_headers: bytes = b"", filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return (f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode() + extra_headers
            + b"\r\n")


CLOSE = f"\r\n--{BOUNDARY}--\r\n".encode()


@pytest.mark.parametrize(
    ("case", "head", "size", "tail", "pointer"),
    [
        ("metadata part", part("metadata") + b'{"k": "', 8 * MiB, b'"}\r\n', "/metadata"),
        ("file part headers", part("file", b"X-Padding: ", filename="a.txt"), 8 * MiB,
         b"\r\n\r\nx" + CLOSE, ""),
        ("metadata part headers", part("metadata", b"X-Padding: "), 8 * MiB, b"\r\n\r\n{}", ""),
        ("preamble", b"", 8 * MiB, b"\r\n" + part("file", filename="a.txt") + b"x" + CLOSE, ""),
        ("epilogue", part("file", filename="a.txt") + b"content" + CLOSE, 8 * MiB, b"", ""),
    ],
)
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_the_parts_of_a_form_other_than_the_file_are_limited(
    api, services, world: World, case, head, size, tail, pointer, chunked
):
    before = stored_objects(services)
    body = CountingBody(head, size, tail, filler=b"p")
    response = send(api, "/api/v1/files", "POST", body, FORM, chunked=chunked)
    assert response.status_code == 413, (case, response.data)
    error = error_of(response)
    assert error["code"] == "payload_too_large" and error["source"] == {"pointer": pointer}
    # Refused near the limit, not after reading all 8 MiB.
    limit = max(MAX_FIELD_BYTES, MAX_OVERHEAD_BYTES)
    assert body.read_bytes <= len(head) + 3 * limit, (case, body.read_bytes)
    assert stored_objects(services) == before
    assert len(services.registry.list_files(world.org.id, limit=10)[0]) == 1


def test_the_file_itself_has_no_limit(api):
    body = CountingBody(part("metadata") + b"{}\r\n" + part("file", filename="big.bin"),
                        3 * MiB, CLOSE, filler=b"f")
    response = send(api, "/api/v1/files", "POST", body, FORM, chunked=True)
    assert response.status_code == 201, response.data
    assert response.get_json(force=True)["data"]["attributes"]["byte-size"] == 3 * MiB


class BrokenFraming(io.RawIOBase):
    """A body whose reading fails the way gunicorn's does on a malformed chunk: with an
    exception of the server's own, not an ``OSError``."""

    def __init__(self, head: bytes) -> None:
        self.head = head

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.head:
            size = min(len(buffer), len(self.head))
            buffer[:size], self.head = self.head[:size], self.head[size:]
            return size
        raise InvalidChunkSize(b"zz")


class InvalidChunkSize(Exception):
    """Stands in for ``gunicorn.http.errors.InvalidChunkSize``."""


@pytest.mark.parametrize("content_type", [JSON_API, FORM])
def test_a_body_the_server_cannot_read_is_a_400(api, services, world, content_type):
    # It was a 500 with a traceback in the log (seen under gunicorn: tests/faults/).
    before = stored_objects(services)
    head = part("file", filename="a.txt") + b"x" * 100 if content_type == FORM else b""
    response = api.request("POST", "/api/v1/files", environ_overrides={
        "wsgi.input": BrokenFraming(head), "CONTENT_TYPE": content_type,
        "wsgi.input_terminated": True,
    })
    assert response.status_code == 400, response.data
    assert error_of(response)["source"] == {"pointer": ""}
    assert stored_objects(services) == before
