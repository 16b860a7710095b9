"""Uploads in either order of parts and under ``FILES_MAX_UPLOAD_BYTES`` (§5), on local files
and S3, SQLite and PostgreSQL.

The ``metadata`` part may come after ``file`` (``curl -F file=@x -F metadata=…`` and
``requests``' ``files=`` send it there): the file streams to storage, the row is written once
the whole body is read. An upload over the limit is ``413 upload_too_large``: before a byte
is read where the body declares a length that says so, as soon as the file passes the limit
otherwise (a chunked body); the limit counts the file's bytes, not the form around them; and
nothing is left behind, not even an open S3 multipart upload."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import pytest

from files_service.api.upload import MAX_FRAMING_BYTES, READ_SIZE
from tests.api.conftest import BOUNDARY, JSON, STACKS, Part, Stack, error_of, multipart
from tests.api.test_upload import GeneratedBody, post_stream

MiB = 1024 * 1024
LIMIT = 8 * MiB  # over S3's 5 MiB part: a refused upload has a multipart upload to abort
METADATA = {"project": "apollo", "stage": "late"}


def metadata_part(metadata: dict[str, str]) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n"
            f"Content-Type: {JSON}\r\n\r\n").encode() + json.dumps(metadata).encode() + b"\r\n"


def form(size: int, where: str | None, filename: str = "big.bin") -> GeneratedBody:
    """A form of ``size`` bytes of file, with the metadata part ``before`` or ``after`` it (or
    none), made as it is read."""
    file_head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
                 f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                 ).encode()
    head = (metadata_part(METADATA) if where == "before" else b"") + file_head
    tail = b"\r\n" + (metadata_part(METADATA) if where == "after" else b"")
    return GeneratedBody(head, size, tail + f"--{BOUNDARY}--\r\n".encode())


@pytest.fixture(params=STACKS)
def limited(request: pytest.FixtureRequest, make_stack: Callable[..., Stack]) -> Stack:
    """Each backend, with ``FILES_MAX_UPLOAD_BYTES`` at ``LIMIT``."""
    storage_kind, database_kind = request.param
    return make_stack(storage_kind, database_kind, max_upload_bytes=LIMIT)


@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_the_metadata_comes_before_or_after_the_file(stack: Stack, where: str, framing: str):
    objects, rows = stack.objects(), stack.rows()
    body = form(6 * MiB + 3, where)
    response = post_stream(stack.api, body, chunked=framing == "chunked")
    assert response.status_code == 201, response.data
    data = response.get_json(force=True)["data"]
    assert data["attributes"]["metadata"] == METADATA
    assert data["attributes"]["byte-size"] == 6 * MiB + 3
    assert data["attributes"]["checksum"]["value"] == body.digest.hexdigest()
    assert sorted(stack.rows()) == sorted([data["id"], *rows])
    (new,) = set(stack.objects()) - set(objects)
    assert hashlib.sha256(stack.objects()[new]).hexdigest() == body.digest.hexdigest()
    assert stack.leftovers() == []


def test_the_form_curl_and_requests_send(stack: Stack):
    """``curl -F "file=@notes.txt" -F 'metadata={…};type=application/json'``, as built by
    the test client in the order given."""
    body, form_type = multipart([
        Part("file", b"notes\n", "notes.txt", "text/plain"),
        Part("metadata", json.dumps(METADATA).encode(), None, JSON),
    ])
    response = stack.api.post("/api/v1/files", data=body, headers={"Content-Type": form_type})
    assert response.status_code == 201, response.data
    assert response.get_json(force=True)["data"]["attributes"]["metadata"] == METADATA


def test_a_declared_length_over_the_limit_is_refused_before_reading(limited: Stack):
    objects, rows = limited.objects(), limited.rows()
    limited.s3_calls.clear()
    body = form(LIMIT + MAX_FRAMING_BYTES, "after")
    response = post_stream(limited.api, body)
    assert response.status_code == 413, response.data
    error = error_of(response)
    assert error["code"] == "upload_too_large"
    assert error["meta"] == {"max-bytes": LIMIT}
    assert body.position == 0  # not a byte read
    assert limited.s3_calls == []
    assert (limited.objects(), limited.rows(), limited.leftovers()) == (objects, rows, [])


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_file_passing_the_limit_is_refused_as_it_streams(limited: Stack, framing: str):
    """With a declared length too close to the limit to tell, or none at all: refused just
    past the limit, the part of it already in storage discarded."""
    objects, rows = limited.objects(), limited.rows()
    size = LIMIT + 1 if framing == "content-length" else 3 * LIMIT
    body = form(size, "before")
    response = post_stream(limited.api, body, chunked=framing == "chunked")
    assert response.status_code == 413, response.data
    assert error_of(response)["code"] == "upload_too_large"
    assert len(body.head) + LIMIT < body.position <= len(body.head) + LIMIT + 2 * READ_SIZE
    if limited.storage_kind == "s3":
        assert {"CreateMultipartUpload", "AbortMultipartUpload"} <= set(limited.s3_calls)
    assert (limited.objects(), limited.rows(), limited.leftovers()) == (objects, rows, [])


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_file_of_exactly_the_limit_is_taken_whatever_the_form_around_it(
    limited: Stack, where: str
):
    body = form(LIMIT, where)
    response = post_stream(limited.api, body, chunked=True)
    assert response.status_code == 201, response.data
    attributes = response.get_json(force=True)["data"]["attributes"]
    assert (attributes["byte-size"], attributes["metadata"]) == (LIMIT, METADATA)


def test_a_file_over_the_limit_is_refused_with_its_metadata_after_it(limited: Stack):
    objects = limited.objects()
    response = post_stream(limited.api, form(LIMIT + 1, "after"), chunked=True)
    assert response.status_code == 413
    assert error_of(response)["code"] == "upload_too_large"
    assert (limited.objects(), limited.leftovers()) == (objects, [])
