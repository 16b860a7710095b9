"""No token reaches the front tier's logs (SPEC §3, §9): the access log leaves out query
strings and blanks out tokens in paths (legacy and upload URLs carry them there), and nginx's
error log holds only nginx's own life, since every line nginx writes about a request quotes
the request line. Driven here by every kind of request that carries a token, good and bad,
including those nginx itself refuses and those made while the service is down.

(Every stack of these tests checks its logs the same way when it stops.)"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from tests.edge.conftest import TOKEN, Stack
from tests.edge.test_parity import send

pytestmark = pytest.mark.e2e


def raw(stack: Stack, data: bytes) -> bytes:
    parts = urlsplit(stack.edge.base)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_no_token_in_any_log(stacks: Callable[..., Stack]) -> None:
    stack = stacks()
    file = stack.store("logged.txt", b"hello")
    url = stack.url(file)
    target = url.removeprefix(stack.edge.base)
    token = urlsplit(url).query.removeprefix("access_token=")
    legacy = stack.services.minter.mint(file, stack.key, style="legacy").url
    stack.remember(legacy)
    legacy_path = urlsplit(legacy).path
    auth = (("Authorization", f"Bearer {stack.secret}"),)

    assert send(stack.edge.base, "GET", target, ())[0] == 200
    assert send(stack.edge.base, "GET", target + "x", ())[0] == 403  # tampered
    assert send(stack.edge.base, "GET", "/other.txt?access_token=" + token, ())[0] == 403
    assert send(stack.edge.base, "GET", legacy_path, auth)[0] == 200
    assert send(stack.edge.base, "GET", legacy_path, ())[0] == 401
    assert send(stack.edge.base, "GET", f"/uploads/{token}", ())[0] == 405  # PUT or POST
    assert send(stack.edge.base, "PUT", f"/uploads/{token}", ())[0] == 403  # a download's
    assert send(stack.edge.base, "GET", f"/x/{token}/y", ())[0] in (403, 404)
    # ...encoded twice, so that once decoded by nginx it is still no token's shape.
    twice = token.replace("_", "%255F").replace(".", "%252E")
    assert send(stack.edge.base, "GET", f"/x/{twice}/y", ())[0] in (403, 404)
    # A token in a path, percent-encoded, and a query that nginx itself refuses.
    legacy_token = legacy_path.split("/")[4]
    encoded = "/api/v1/files/" + legacy_token.replace(".", "%2E") + "/logged.txt"
    assert send(stack.edge.base, "GET", encoded, auth)[0] == 200
    # ...a legacy path in other letters (no download, but its token is one all the same).
    assert send(stack.edge.base, "GET", f"/API/v1/Files/{legacy_token}/x", auth)[0] == 404
    assert raw(stack, f"GET {target} HTTP/1.1\r\nHost: x\r\nBad\x01Header: y\r\n\r\n"
               .encode()).startswith(b"HTTP/1.1 400")
    assert raw(stack, f"GET {target} HTTP/1.1\r\n\r\n".encode()).startswith(b"HTTP/1.1 400")
    assert raw(stack, f"TRACE {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode()) \
        .startswith(b"HTTP/1.1 405")
    # An API key in a header, and requests while the service is down.
    stack.server.stop()
    fresh = stack.url(stack.store("fresh.txt", b"x"))
    assert send(stack.edge.base, "GET", fresh.removeprefix(stack.edge.base), ())[0] == 503
    assert send(stack.edge.base, "GET", legacy_path, auth)[0] == 503
    stack.edge.stop()

    logs = stack.edge.logs()
    access = (stack.edge.prefix / "logs" / "access.log").read_text()
    assert "GET /logged.txt HTTP/1.1" in access  # the access log is there...
    assert "/api/v1/files/[redacted]/logged.txt" in access
    assert "/uploads/[redacted]" in access
    # The key id of a token that verified (docs/tokens.md: when the old key is idle), the
    # ring's own name for it, and "-" for any other.
    lines = access.splitlines()
    good = [line for line in lines if '"GET /logged.txt HTTP/1.1" 200 ' in line]
    assert good and all(" tier=edge note=- kid=e2e lookup=" in line for line in good)
    refused = [line for line in lines if '"GET /other.txt HTTP/1.1" 403 ' in line]
    assert refused and all(" kid=- " in line for line in refused)
    assert "start worker process" in (stack.edge.prefix / "logs" / "error.log").read_text()
    for secret in (*stack.tokens, stack.secret):  # ...and no secret is in any log
        assert secret not in logs
        assert secret[-12:] not in logs
        # nor the longest run of a signature, however the characters around it are spelt
        assert max(re.split(r"[._-]", secret.rsplit(".", 1)[-1]), key=len) not in logs
    assert not TOKEN.search(logs)
    assert not re.search(r"access_token|fsk_|Bearer", logs, re.IGNORECASE)
