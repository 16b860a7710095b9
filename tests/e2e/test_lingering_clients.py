"""``files-service serve`` on its own: a client that keeps its socket open after a
``Connection: close`` answer (``ffmpeg`` seeking in a video does) must not stall the other
clients of the worker. gunicorn's gthread waits up to 2 s for such a client's close, on the
thread that accepts every connection of the worker; ten holders stalled a worker for about
20 s. Loopback only, bounded in count and time."""

from __future__ import annotations

import socket
import urllib.request

import pytest

pytestmark = pytest.mark.e2e

HOLDERS = 10
REQUESTS = 20
# Each normal request must be answered within this; with the stall, the first one waited for
# the holders one after the other (2 s each). Generous, for a loaded machine: not a timing.
ANSWER_WITHIN = 8.0


def ask_to_close(host: str, port: int) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=ANSWER_WITHIN)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: files.test\r\nConnection: close\r\n\r\n")
    return sock


def read_answer(sock: socket.socket) -> bytes:
    """One whole answer, read by its ``Content-Length`` (as a client does), not to the end
    of the stream: the socket stays open."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536) or pytest.fail(f"closed early: {received!r}")
    head, body = received.split(b"\r\n\r\n", 1)
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536) or pytest.fail("closed early")
    assert head.startswith(b"HTTP/1.1 200"), head
    return body


def test_clients_holding_closed_connections_do_not_stall_others(make_server):
    server = make_server()
    demo = server.cli_json("demo")
    server.start(workers=1)  # one worker: every client below shares its accepting thread
    host, port = server.base.removeprefix("http://").split(":")
    holders = [ask_to_close(host, int(port)) for _ in range(HOLDERS)]
    try:
        for sock in holders:
            read_answer(sock)  # and hold on to the socket
        for _ in range(REQUESTS):
            with urllib.request.urlopen(demo["url"], timeout=ANSWER_WITHIN) as response:
                assert response.status == 200
                assert response.read().startswith(b"Hello from files_service!")
    finally:
        for sock in holders:
            sock.close()


def test_an_answer_to_an_unread_body_still_arrives_whole(make_server):
    """The lingering close is still there, only elsewhere: the server half-closes and drains
    what the client sent and the app never read, so the kernel does not reset the connection
    (dropping the answer) before the client has read it (RFC 9112 §9.6)."""
    server = make_server()
    server.start(workers=1)
    host, port = server.base.removeprefix("http://").split(":")
    body = b"x" * 48_000  # under the 64 KiB drain cap; /healthz takes no POST, reads nothing
    for _ in range(5):
        with socket.create_connection((host, int(port)), timeout=ANSWER_WITHIN) as sock:
            sock.sendall(
                b"POST /healthz HTTP/1.1\r\nHost: files.test\r\nConnection: close\r\n"
                b"Content-Type: application/octet-stream\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
            )
            received = b""
            while chunk := sock.recv(65536):  # to the server's FIN, never a reset
                received += chunk
        assert received.startswith(b"HTTP/1.1 405"), received[:100]
        assert received.endswith(b"}"), received[-100:]  # the whole JSON:API error
