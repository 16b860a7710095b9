"""A client that aborts an upload (``POST /api/v1/files``, multipart) over a real socket, under
``files-service serve`` on S3 storage (moto): the upload is well under way (a multipart upload
open in S3, parts in it), then the client goes away, politely (FIN) or not (RST), with or
without a Content-Length, or breaks the chunked framing of its body. Nothing is left: no row
in the registry, no object under the prefix, no multipart upload in the bucket; and the
server goes on serving. (A broken chunk was a 500 with a traceback in the log: gunicorn raises
errors of its own from the body stream, now read as a body that is not there, a 400.)"""

from __future__ import annotations

import http.client
import json
import socket
import struct
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.conftest import BOUNDARY
from tests.faults.served import PREFIX, S3Served, serve_on_s3, wait_until

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
PART = 8 * MiB  # S3Storage's part size: past it, the write becomes a multipart upload
HEAD = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n"
        '{"kind": "aborted"}\r\n'
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
        f"filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()
BLOCK = bytes(range(256)) * 256  # 64 KiB


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Iterator[S3Served]:
    with serve_on_s3(tmp_path_factory.mktemp("upload-abort"), moto_endpoint) as served:
        yield served


def request_head(served: S3Served, *, length: int | None) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"POST /api/v1/files HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\n"
        f"Authorization: Bearer {served.secret}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n{framing}\r\n\r\n"
    ).encode()


def uploaded_parts(served: S3Served) -> int:
    """How many parts the open multipart uploads of the bucket hold."""
    return sum(
        len(served.s3.list_parts(Bucket=served.bucket, Key=upload["Key"],
                                 UploadId=upload["UploadId"]).get("Parts", []))
        for upload in served.multipart_uploads()
    )


def rows(served: S3Served) -> int:
    services = served.server.services()
    try:
        return len(services.registry.list_files(served.org_id, limit=100)[0])
    finally:
        services.close()


def read_response(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    """Status and JSON body of the response on ``sock``."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, json.loads(response.read())


@pytest.mark.parametrize(
    ("framing", "how"),
    [("content-length", "fin"), ("chunked", "rst"), ("content-length", "rst-early"),
     ("chunked", "broken-chunk")],
)
def test_an_aborted_upload_leaves_nothing(served: S3Served, framing: str, how: str):
    size = 64 * MiB
    chunked = framing == "chunked"
    requests_before = served.access_log_lines('"POST /api/v1/files')
    sock = served.connect()
    try:
        sock.sendall(request_head(served, length=None if chunked else len(HEAD) + size
                                  + len(TAIL)))
        sent = 0

        def send(data: bytes) -> None:
            sock.sendall(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)

        send(HEAD)
        # Early: a part's worth is not there yet, so S3 has seen nothing at all. Otherwise:
        # keep sending until S3 holds a multipart upload of ours, with parts in it.
        target = MiB if how == "rst-early" else 3 * PART
        while sent < target:
            send(BLOCK)
            sent += len(BLOCK)
        if how != "rst-early":
            wait_until(lambda: uploaded_parts(served) > 0, "a multipart upload with parts")
            (upload,) = served.multipart_uploads()
            assert upload["Key"].startswith(f"{PREFIX}/{served.org_id}/")
        if how.startswith("rst"):
            # SO_LINGER with a zero timeout: close() sends a reset, not a FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if how == "broken-chunk":
            sock.sendall(b"zz\r\n")  # not a chunk size
            status, document = read_response(sock)
            assert status == 400, document
            assert document["errors"][0]["source"] == {"pointer": ""}
    finally:
        sock.close()

    # The server answers (to nobody) and logs the request once it has cleaned up.
    wait_until(lambda: served.access_log_lines('"POST /api/v1/files') > requests_before,
               "the server to finish the aborted request")
    wait_until(lambda: served.multipart_uploads() == [], "no multipart upload left in S3")
    assert served.objects(served.org_id) == []
    assert rows(served) == 0


def test_a_broken_chunk_in_a_request_document_is_a_400(served: S3Served):
    sock = served.connect()
    try:
        sock.sendall(
            f"POST /api/v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {served.secret}\r\n"
            "Content-Type: application/vnd.api+json\r\nTransfer-Encoding: chunked\r\n\r\n"
            "3\r\n{\"d\r\n-1\r\n".encode()
        )
        status, document = read_response(sock)
    finally:
        sock.close()
    assert status == 400, document
    assert "Traceback" not in served.server.log.read_text(errors="replace")


def test_the_server_still_uploads_after_the_aborts(served: S3Served):
    body = HEAD + b"hello" + TAIL
    sock = served.connect()
    try:
        sock.sendall(request_head(served, length=len(body)) + body)
        status, document = read_response(sock)
    finally:
        sock.close()
    assert status == 201, document
    assert document["data"]["attributes"]["byte-size"] == 5
    assert len(served.objects(served.org_id)) == 1
    assert rows(served) == 1
    assert served.multipart_uploads() == []


def test_only_what_the_tests_made_is_in_the_bucket(served: S3Served):
    # Nothing was written outside the organization's own keys.
    assert all(key.startswith(f"{PREFIX}/{served.org_id}/") for key in served.objects())
