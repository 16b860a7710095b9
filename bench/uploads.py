"""Signed upload URLs (issue #12).

Big uploads: 1 GiB through an upload URL (``PUT`` the raw bytes to ``/uploads/{token}``, no
API key) against the same through ``POST /api/v1/files`` (a multipart form with an API key),
on the stream server with local storage; each generated on the fly and sent in 1 MiB pieces
with a ``Content-Length``, the two taking turns in each run; throughput and the worker's RSS
growth. Each file is deleted again.

Minting over HTTP, on one keep-alive connection each: ``POST /api/v1/upload-urls`` (a
filename, a type rule, no metadata) against ``GET /api/v1/files/{id}`` (which mints the
file's download URL), in alternating rounds.
"""

from __future__ import annotations

import http.client
import json
import secrets
import statistics
import time
from collections.abc import Callable

from bench.common import GIB, MIB, FamilyResult, RunConfig, log
from bench.lab import Lab
from tests.servers import RssSampler, Server

JSON_API = "application/vnd.api+json"
MINT_ROUNDS = 5


def run(lab: Lab, config: RunConfig, result: FamilyResult) -> None:
    server, secret = lab.stream, lab.local.key_secret
    size = config.big_size
    for number in range(config.runs):
        order = ("api", "url") if number % 2 == 0 else ("url", "api")
        for kind in order:
            with RssSampler(server.pid) as rss:
                file_id, seconds = (upload_api if kind == "api" else upload_url)(
                    server, secret, size)
            label = ("PUT to an upload URL" if kind == "url" else "POST /api/v1/files")
            shown = "1 GiB" if size == GIB else f"{size // MIB} MiB"
            result.measurement(f"upload.{kind}", f"{shown} local, {label}", "MB/s").add({
                "mb_s": size / seconds / 1e6, "seconds": seconds,
                "rss_growth_mib": rss.growth / MIB,
                "worker_cpu_s_per_gib": rss.cpu / (size / 2**30)})
            send(server, "DELETE", f"/api/v1/files/{file_id}", secret)
            log(f"  run {number + 1}: upload.{kind} {size / seconds / 1e6:.0f} MB/s, "
                f"RSS +{rss.growth / MIB:.1f} MiB")
    minting(server, secret, lab.local_file("small").id, config, result)


def send(server: Server, method: str, path: str, secret: str | None = None, *,
         content_type: str = "", head: bytes = b"", size: int = 0, tail: bytes = b"",
         conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes, float]:
    """One request with ``head``, ``size`` zero bytes and ``tail`` as its body, streamed in
    1 MiB pieces: its status, body and seconds. On ``conn`` where given (kept alive)."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    piece = bytes(MIB)
    began = time.perf_counter()
    try:
        conn.putrequest(method, path)
        if secret is not None:
            conn.putheader("Authorization", f"Bearer {secret}")
        conn.putheader("Accept", JSON_API)
        if content_type:
            conn.putheader("Content-Type", content_type)
            conn.putheader("Content-Length", str(len(head) + size + len(tail)))
        conn.endheaders()
        conn.send(head)
        for offset in range(0, size, MIB):
            conn.send(piece if size - offset >= MIB else piece[: size - offset])
        conn.send(tail)
        response = conn.getresponse()
        body = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path[:40]}…: HTTP {response.status}: {body[:200]!r}")
        return response.status, body, time.perf_counter() - began
    finally:
        if own:
            conn.close()


def mint_document(filename: str) -> bytes:
    return json.dumps({"data": {"type": "upload-url", "attributes": {
        "filename": filename, "content-type": "application/*"}}}).encode()


def upload_api(server: Server, secret: str, size: int) -> tuple[str, float]:
    """``POST /api/v1/files`` of ``size`` zero bytes as the multipart part ``file``."""
    boundary = "bench-" + secrets.token_hex(12)
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            "filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    _, body, seconds = send(server, "POST", "/api/v1/files", secret,
                            content_type=f"multipart/form-data; boundary={boundary}",
                            head=head, size=size, tail=f"\r\n--{boundary}--\r\n".encode())
    return json.loads(body)["data"]["id"], seconds


def upload_url(server: Server, secret: str, size: int) -> tuple[str, float]:
    """Mint an upload URL, then ``PUT`` ``size`` zero bytes to it with no API key (only the
    ``PUT`` is timed, as only the upload is in the other figure)."""
    document = mint_document("big.bin")
    _, body, _ = send(server, "POST", "/api/v1/upload-urls", secret, content_type=JSON_API,
                      head=document)
    url = json.loads(body)["data"]["attributes"]["url"]
    path = "/uploads/" + url.rsplit("/uploads/", 1)[1]
    _, body, seconds = send(server, "PUT", path, content_type="application/octet-stream",
                            size=size)
    return json.loads(body)["data"]["id"], seconds


def minting(server: Server, secret: str, file_id: str, config: RunConfig,
            result: FamilyResult) -> None:
    """Milliseconds per request of minting an upload URL and of minting a download URL, on
    a keep-alive connection each, in alternating rounds."""
    requests = 20 if config.quick else 200
    document = mint_document("quarterly-report-2026-final-version-A.pdf")
    calls: dict[str, Callable[[http.client.HTTPConnection], tuple[int, bytes, float]]] = {
        "mint.upload_url": lambda conn: send(server, "POST", "/api/v1/upload-urls", secret,
                                             content_type=JSON_API, head=document, conn=conn),
        "mint.download_url": lambda conn: send(server, "GET", f"/api/v1/files/{file_id}",
                                               secret, conn=conn),
    }
    labels = {"mint.upload_url": "POST /api/v1/upload-urls",
              "mint.download_url": "GET /api/v1/files/{id} (mints its download URL)"}
    for _ in range(1 if config.quick else MINT_ROUNDS):
        for key, call in calls.items():
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            try:
                for _ in range(5):  # warm the connection and the worker
                    call(conn)
                times = [call(conn)[2] for _ in range(requests)]
            finally:
                conn.close()
            result.measurement(key, labels[key], "ms").add({"ms": statistics.median(times) * 1000})
    log("  minting: " + ", ".join(
        f"{key} {result.measurements[key].median('ms'):.2f} ms" for key in calls))
