"""Uploads are streamed (§5): memory stays flat whatever the size, nothing is spooled, and an
upload that fails part-way leaves no row and no object."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from files_service.services import Services
from tests.api.conftest import BOUNDARY, ApiClient, Part, error_of, multipart
from tests.conftest import World

MiB = 1024 * 1024


class GeneratedBody(io.RawIOBase):
    """A multipart body made on the fly, never held whole: a head, ``size`` bytes of file
    content, a tail. ``fail_at``: raise ``OSError`` (a reset connection) once that many bytes
    were read; ``stop_at``: end early (a client that went away)."""

    def __init__(self, head: bytes, size: int, tail: bytes, *, fail_at: int | None = None,
                 stop_at: int | None = None) -> None:
        self.head, self.size, self.tail = head, size, tail
        self.length = len(head) + size + len(tail)
        self.position = 0
        self.fail_at = fail_at
        self.stop_at = stop_at
        self.digest = hashlib.sha256()
        self.block = bytes(range(256)) * 256  # 64 KiB

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.fail_at is not None and self.position >= self.fail_at:
            raise ConnectionResetError("connection reset by peer")
        end = self.length if self.stop_at is None else min(self.length, self.stop_at)
        want = min(len(buffer), end - self.position)
        if want <= 0:
            return 0
        chunk = self._bytes(self.position, want)
        buffer[: len(chunk)] = chunk
        self.position += len(chunk)
        return len(chunk)

    def _bytes(self, start: int, count: int) -> bytes:
        head_end = len(self.head)
        content_end = head_end + self.size
        if start < head_end:
            return self.head[start:start + count]
        if start < content_end:
            offset = start - head_end
            count = min(count, content_end - start, len(self.block) - offset % len(self.block))
            chunk = self.block[offset % len(self.block):offset % len(self.block) + count]
            self.digest.update(chunk)
            return chunk
        return self.tail[start - content_end:start - content_end + count]


def body_parts(filename: str = "big.bin", metadata: bytes | None = None) -> tuple[bytes, bytes]:
    head = b""
    if metadata is not None:
        head += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n"
                 .encode() + metadata + b"\r\n")
    head += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
             f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    return head, tail


def post_stream(api: ApiClient, body: GeneratedBody, *, length: int | None = None,
                chunked: bool = False):  # type: ignore[no-untyped-def]
    # CONTENT_TYPE too: the test client would otherwise put a boundary of its own there.
    environ: dict[str, Any] = {
        "wsgi.input": body, "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}"
    }
    if chunked:
        environ["wsgi.input_terminated"] = True
    else:
        environ["CONTENT_LENGTH"] = str(body.length if length is None else length)
    return api.post("/api/v1/files", environ_overrides=environ)


def stored_objects(services: Services) -> list[Path]:
    root = Path(services.storage.url.removeprefix("local://"))
    return [p for p in root.rglob("*") if p.is_file()]


def file_count(services: Services, world: World) -> int:
    return len(services.registry.list_files(world.org.id, limit=100)[0])


def test_a_large_upload_streams_in_bounded_memory(api: ApiClient, services: Services,
                                                  world: World):
    size = 20 * MiB
    head, tail = body_parts(metadata=b'{"kind": "big"}')
    body = GeneratedBody(head, size, tail)
    tracemalloc.start()
    try:
        response = post_stream(api, body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 201, response.data
    attributes = response.get_json(force=True)["data"]["attributes"]
    assert attributes["byte-size"] == size
    assert attributes["checksum"]["value"] == body.digest.hexdigest()
    assert attributes["metadata"] == {"kind": "big"}
    assert peak < MiB, f"peak {peak} bytes for a {size}-byte upload"


def test_a_chunked_upload_without_content_length(api: ApiClient):
    head, tail = body_parts()
    body = GeneratedBody(head, 3 * MiB + 17, tail)
    response = post_stream(api, body, chunked=True)
    assert response.status_code == 201, response.data
    assert response.get_json(force=True)["data"]["attributes"]["byte-size"] == 3 * MiB + 17


@pytest.mark.parametrize("how", ["reset", "short"])
def test_an_aborted_upload_leaves_no_row_and_no_object(api: ApiClient, services: Services,
                                                       world: World, how: str):
    head, tail = body_parts()
    before = stored_objects(services)
    if how == "reset":
        body = GeneratedBody(head, 4 * MiB, tail, fail_at=2 * MiB)
    else:
        body = GeneratedBody(head, 4 * MiB, tail, stop_at=2 * MiB)
    response = post_stream(api, body)
    assert response.status_code == 400
    assert error_of(response)["source"] == {"pointer": ""}
    assert stored_objects(services) == before  # temporary file gone too
    assert file_count(services, world) == 1


def test_a_truncated_body_without_length_is_refused(api: ApiClient, services: Services,
                                                    world: World):
    head, _ = body_parts()
    before = stored_objects(services)
    response = post_stream(api, GeneratedBody(head, MiB, b""), chunked=True)
    assert response.status_code == 400
    assert stored_objects(services) == before
    assert file_count(services, world) == 1


@pytest.mark.parametrize(
    ("parts", "status", "pointer"),
    [
        ([Part("file", b"content", "a.txt", "text/plain"), Part("metadata", b"[1]")], 400,
         "/metadata"),
        ([Part("file", b"content", "a.txt", "text/plain"),
          Part("metadata", b'{"k": "' + b"v" * 17000 + b'"}')], 400, "/metadata"),
        ([Part("file", b"content", "a.txt", "text/plain"),
          Part("metadata", b'{"k": "' + b"v" * 70000 + b'"}')], 413, "/metadata"),
        ([Part("metadata", b"{}"), Part("file", b"content", "a.txt", "text/plain"),
          Part("metadata", b"{}")], 400, "/metadata"),
        ([Part("file", b"content", "a.txt", "text/plain"), Part("metadata", b"{}"),
          Part("file", b"again", "b.txt", "text/plain")], 400, "/file"),
        ([Part("file", b"content", "a.txt", "text/plain"), Part("colour", b"red")], 400,
         "/colour"),
    ],
)
def test_a_bad_part_after_the_file_leaves_nothing(
    api: ApiClient, services: Services, world: World, parts, status, pointer
):
    """The file is in storage by the time these are read: it is removed again."""
    body, form_type = multipart(parts)
    before = stored_objects(services)
    response = api.post("/api/v1/files", data=body, headers={"Content-Type": form_type})
    assert response.status_code == status, response.data
    assert error_of(response)["source"] == {"pointer": pointer}
    assert stored_objects(services) == before
    assert file_count(services, world) == 1


@pytest.mark.parametrize(
    ("parts", "status", "pointer"),
    [
        ([Part("metadata", b"{}")], 400, "/file"),
        ([], 400, "/file"),
        ([Part("file", b"x")], 400, "/file/filename"),
        ([Part("file", b"x", "")], 400, "/file/filename"),
        ([Part("colour", b"red"), Part("file", b"x", "a.txt")], 400, "/colour"),
        ([Part("file", b"x", "a.txt"), Part("file", b"y", "b.txt")], 400, "/file"),
        ([Part("metadata", b"[1]"), Part("file", b"x", "a.txt")], 400, "/metadata"),
        ([Part("metadata", b"{nope"), Part("file", b"x", "a.txt")], 400, "/metadata"),
        ([Part("metadata", b"{}"), Part("metadata", b"{}"), Part("file", b"x", "a.txt")], 400,
         "/metadata"),
        ([Part("metadata", b'{"k": "' + b"v" * 70000 + b'"}'), Part("file", b"x", "a.txt")],
         413, "/metadata"),
        ([Part("metadata", b'{"k": "' + b"v" * 17000 + b'"}'), Part("file", b"x", "a.txt")],
         400, "/metadata"),
        ([Part("file", b"x", "a.txt", "not a type")], 400, "/file/content-type"),
    ],
)
def test_form_errors_point_at_the_part(api: ApiClient, services: Services, world: World,
                                       parts, status, pointer):
    body, form_type = multipart(parts)
    before = stored_objects(services)
    response = api.post("/api/v1/files", data=body, headers={"Content-Type": form_type})
    assert response.status_code == status, response.data
    assert error_of(response)["source"] == {"pointer": pointer}
    assert stored_objects(services) == before
    assert file_count(services, world) == 1


def test_a_malformed_multipart_body(api: ApiClient):
    response = api.post("/api/v1/files", data=b"this is not multipart",
                        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    assert response.status_code == 400
    assert error_of(response)["source"] == {"pointer": ""}


def test_a_multipart_type_without_boundary(api: ApiClient):
    response = api.post("/api/v1/files", data=b"--x--",
                        headers={"Content-Type": "multipart/form-data"})
    assert response.status_code == 400
    assert error_of(response)["source"] == {"header": "Content-Type"}


def test_an_endless_preamble_is_refused(api: ApiClient):
    body = GeneratedBody(b"", 4 * MiB, b"")  # no boundary ever
    response = post_stream(api, body)
    assert response.status_code == 413


def test_too_many_parts(api: ApiClient):
    parts = [Part("metadata", b"{}")] + [Part(f"p{n}", b"x") for n in range(10)]
    body, form_type = multipart(parts)
    response = api.post("/api/v1/files", data=body, headers={"Content-Type": form_type})
    assert response.status_code == 400  # the first unknown part is refused at once
    assert error_of(response)["source"] == {"pointer": "/p0"}


def test_an_empty_file_is_a_file(api: ApiClient):
    response = api.upload(b"", "empty.txt")
    assert response.status_code == 201
    attributes = response.get_json(force=True)["data"]["attributes"]
    assert attributes["byte-size"] == 0
    assert attributes["checksum"]["value"] == hashlib.sha256(b"").hexdigest()


def test_an_rfc5987_filename(api: ApiClient):
    body = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename*=UTF-8''na%C3%AFve.txt\r\n\r\nx\r\n--{BOUNDARY}--\r\n").encode()
    response = api.post("/api/v1/files", data=body,
                        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    assert response.status_code == 201, response.data
    assert response.get_json(force=True)["data"]["attributes"]["filename"] == "naïve.txt"


def test_a_generic_part_type_gives_way_to_the_name(api: ApiClient):
    response = api.upload(b"{}", "data.json", content_type="application/octet-stream")
    assert response.get_json(force=True)["data"]["attributes"]["content-type"] == (
        "application/json")
    unknown = api.upload(b"?", "blob.zzz", content_type="application/octet-stream")
    assert unknown.get_json(force=True)["data"]["attributes"]["content-type"] == (
        "application/octet-stream")
    chosen = api.upload(b"{}", "data.json", content_type="text/plain; charset=utf-8")
    assert chosen.get_json(force=True)["data"]["attributes"]["content-type"] == (
        "text/plain; charset=utf-8")
