"""What an attacker can make the server write or say, under real gunicorn on a real socket:
the access log cannot be forged with control characters in a path, a token in a path is
redacted however the path is spelled, and every status line carries the standard reason
phrase (RFC 9110 §15), API and download paths alike."""

from __future__ import annotations

import re
import socket
from urllib.parse import quote, urlsplit

import pytest

pytestmark = pytest.mark.e2e


def raw_request(base: str, target: str, headers: dict[str, str] | None = None,
                body: bytes = b"") -> tuple[str, bytes]:
    """Send ``GET``/``POST`` ``target`` exactly as written (no client normalizes it) and give
    back the status line as received and the whole response."""
    parts = urlsplit(base)
    method = "POST" if body else "GET"
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received.split(b"\r\n", 1)[0].decode("latin-1"), received


# Each path holds a line break (or another character a terminal or a log viewer acts on)
# followed by a made-up access line.
FORGED = '127.0.0.6 "GET /forged HTTP/1.1" 200 0 0.000001s'
FORGING_PATHS = [
    "/x%0a" + quote(FORGED),
    "/x%0d" + quote(FORGED),
    "/x%0d%0a" + quote(FORGED),
    "/x%1b%5b2K%1b%5b1G" + quote(FORGED),  # erase the line, back to column 1
    "/x%e2%80%a8" + quote(FORGED),  # U+2028 LINE SEPARATOR
    "/x%e2%80%a9" + quote(FORGED),  # U+2029 PARAGRAPH SEPARATOR
    "/x%c2%85" + quote(FORGED),  # U+0085 NEXT LINE
    "/x%0b%0c" + quote(FORGED),  # vertical tab, form feed
    "/x%e2%80%ae" + quote(FORGED),  # U+202E RIGHT-TO-LEFT OVERRIDE
    "/api/v1/files/x%0a" + quote(FORGED),
    "/x" + quote('" 200 0 0.000001s'),  # closes the quotes: forges the fields after them
]
# An access line: address "method path protocol" status bytes seconds.
ACCESS_LINE = re.compile(r'127\.0\.0\.1 "[A-Z]+ /[^"]* HTTP/1\.1" (\d{3}) \d+ \d+\.\d{6}s')
# What no line of the log may hold: any of these splits a line or rewrites it on a terminal.
LINE_BREAKERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def demo_server(make_server):  # type: ignore[no-untyped-def]
    """A started server with the demo file; its demo payload and a legacy URL of that file."""
    server = make_server()
    demo = server.cli_json("demo")
    demo["legacy"] = server.cli_json(
        "mint", demo["file"], "--key", demo["api-key"], "--version", "2022-09-01"
    )["url"]
    server.start(workers=1)
    return server, demo


def test_a_path_cannot_forge_an_access_log_line(make_server):
    server, _ = demo_server(make_server)
    for path in FORGING_PATHS:
        raw_request(server.base, path)
    log = server.stop()

    lines = log.splitlines()
    # No made-up line, whatever character came before it, and every request is one line.
    assert not [line for line in lines if line.startswith("127.0.0.6")], log
    forging = [line for line in lines if line.startswith("127.0.0.1 ") and "/healthz" not in line]
    assert len(forging) == len(FORGING_PATHS), log
    for line in forging:
        match = ACCESS_LINE.fullmatch(line)
        assert match and match.group(1) != "200", line  # what the server answered
    assert not LINE_BREAKERS.search(log), [line for line in lines if LINE_BREAKERS.search(line)]
    # The line keeps what was sent, escaped, so an operator can still read it.
    assert r'/x\n127.0.0.6 \x22GET /forged' in log
    assert r"/x\u2028127.0.0.6" in log
    assert r"/x\x1b[2K" in log
    assert r'/x\x22 200 0 0.000001s HTTP/1.1" 403' in log


def test_a_token_in_a_path_is_redacted_however_the_path_is_spelled(make_server):
    server, demo = demo_server(make_server)
    token = demo["legacy"].split("/api/v1/files/")[1].split("/")[0]
    current_token = demo["url"].split("access_token=")[1]
    double_encoded = token.replace(".", "%252E").replace("_", "%255F")
    spellings = [
        f"/api/v1//files/{token}/welcome.txt",
        f"//api/v1/files/{token}/welcome.txt",
        f"/api//v1/files/{token}/welcome.txt",
        f"/API/v1/files/{token}/welcome.txt",
        f"/Api/V1/Files/{token}/welcome.txt",
        f"/api/v1/files/{token.replace('.', '%2E')}/welcome.txt",
        f"/%61pi/v1/files/{token}/welcome.txt",
        f"/api/v1/files/{double_encoded}/welcome.txt",
        f"/%2561pi/v1/files/{double_encoded}/welcome.txt",
        f"/api/v2/files/{token}/welcome.txt",
        f"/files/{token}/welcome.txt",
        f"/{token}",
        f"/{current_token}/welcome.txt",
        f"/welcome.txt/{current_token.replace('.', '%252e')}",
    ]
    for path in spellings:
        raw_request(server.base, path, {"Authorization": f"Bearer {demo['secret']}"})
    log = server.stop()

    for secret in (token, current_token, demo["secret"]):
        assert secret not in log
        assert secret[-16:] not in log
    lines = [line for line in log.splitlines() if line.startswith("127.0.0.1 ")]
    assert sum("[redacted]" in line for line in lines) == len(spellings), log


def test_status_lines_carry_the_standard_reason_phrases(make_server):
    server, demo = demo_server(make_server)
    auth = {"Authorization": f"Bearer {demo['secret']}"}
    upload = (
        b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\n"
        b"hello\r\n--b--\r\n"
    )
    seen = {
        "api, no key": raw_request(server.base, "/api/v1/files")[0],
        "api, bad parameter": raw_request(server.base, "/api/v1/files?page[size]=1000", auth)[0],
        "api, unknown path": raw_request(server.base, "/api/v1/nothing", auth)[0],
        "api, created": raw_request(
            server.base, "/api/v1/files",
            {**auth, "Content-Type": "multipart/form-data; boundary=b"}, upload,
        )[0],
        "download, bad token": raw_request(server.base, "/welcome.txt?access_token=nope")[0],
        "download, legacy without key": raw_request(server.base, urlsplit(demo["legacy"]).path)[0],
        "download, ok": raw_request(server.base, urlsplit(demo["url"]).path + "?"
                                    + urlsplit(demo["url"]).query)[0],
        "health": raw_request(server.base, "/healthz")[0],
    }
    server.stop()
    assert seen == {
        "api, no key": "HTTP/1.1 401 Unauthorized",
        "api, bad parameter": "HTTP/1.1 400 Bad Request",
        "api, unknown path": "HTTP/1.1 404 Not Found",
        "api, created": "HTTP/1.1 201 Created",
        "download, bad token": "HTTP/1.1 403 Forbidden",
        "download, legacy without key": "HTTP/1.1 401 Unauthorized",
        "download, ok": "HTTP/1.1 200 OK",
        "health": "HTTP/1.1 200 OK",
    }


def test_an_upload_token_is_redacted_from_the_access_log(make_server):
    """``/uploads/{token}``: the token is a bearer secret like a download token, redacted
    whatever the answer (created, used, refused) and however the path is spelled."""
    server, demo = demo_server(make_server)
    minted = server.cli_json("upload-url", "--key", demo["api-key"], "--filename", "a.txt")
    token = urlsplit(minted["url"]).path.rsplit("/", 1)[1]
    form = {"Content-Type": "multipart/form-data; boundary=b"}
    body = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\n"
            b"hello\r\n--b--\r\n")
    statuses = [
        raw_request(server.base, f"/uploads/{token}", form, body)[0],
        raw_request(server.base, f"/uploads/{token}", form, body)[0],
        raw_request(server.base, f"//uploads/{token}", form, body)[0],
        raw_request(server.base, f"/uploads/{token}")[0],
        raw_request(server.base, f"/uploads/{token[:-3]}abc", form, body)[0],
        raw_request(server.base, f"/Uploads/{token.replace('.', '%2E')}")[0],
    ]
    log = server.stop()
    assert statuses[:2] == ["HTTP/1.1 201 Created", "HTTP/1.1 409 Conflict"]
    assert statuses[3] == "HTTP/1.1 405 Method Not Allowed"
    assert statuses[4] == "HTTP/1.1 403 Forbidden"
    signature = token.rsplit(".", 1)[1]
    assert token not in log and signature not in log and signature[:16] not in log
    lines = [line for line in log.splitlines()
             if line.startswith("127.0.0.1 ") and "/healthz" not in line]
    assert len(lines) == len(statuses), log
    assert all("/[redacted]" in line for line in lines), log
