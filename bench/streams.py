"""Big streams (issue #5 §3): a 1 GiB object, local and S3.

Downloads: a client reads and discards the body as fast as Python reads (one preallocated
buffer); throughput against the direct read (nginx sendfile for local storage, boto3
``GetObject`` from the same moto server for S3), and the serving worker's peak RSS growth
(sampled every 50 ms from ``/proc`` for every worker of the gunicorn master).

Uploads: ``POST /api/v1/files`` (SPEC §5: ``Authorization: Bearer``, multipart part ``file``)
of 1 GiB generated on the fly and sent in 1 MiB pieces with a ``Content-Length`` (what browsers
and ``curl -F`` send); throughput and worker RSS growth. Recorded as not available while the
endpoint answers 404/405.
"""

from __future__ import annotations

import http.client
import json
import secrets
import time
from typing import Any

from bench.common import MIB, FamilyResult, RssSampler, RunConfig, log, read_and_discard
from bench.lab import S3_BUCKET, Lab
from bench.servers import Dataset, Gunicorn

JSON_API = "application/vnd.api+json"


def run(lab: Lab, config: RunConfig, result: FamilyResult) -> None:
    local = lab.local_file("big")
    s3 = lab.s3_file("big")
    nginx_url = lab.url("nginx", "big")
    stream_url = lab.url("stream", "big")
    s3_url = lab.s3_stream.base + s3.url_path
    moto_client = lab.moto.client()
    s3_key = s3.storage_key  # relative to the prefix; the bench's S3 storage has none
    _warm(stream_url, s3_url)
    for number in range(config.runs):
        _download(result, "local.nginx", "local, nginx secure_link (direct read)", nginx_url,
                  local.size, None)
        _download(result, "local.stream", "local, service stream", stream_url, local.size,
                  lab.stream)
        size, seconds = _boto3_read(moto_client, s3_key)
        if size != s3.size:
            raise RuntimeError(f"boto3 read {size} of {s3.size} bytes")
        result.measurement("s3.direct", "S3 (moto), boto3 GetObject (direct read)", "MB/s").add(
            {"mb_s": size / seconds / 1e6, "seconds": seconds}
        )
        _download(result, "s3.stream", "S3 (moto), service stream", s3_url, s3.size,
                  lab.s3_stream)
        log(f"  run {number + 1}: " + ", ".join(
            f"{k} {result.measurements[k].runs[-1]['mb_s']:.0f} MB/s"
            for k in ("local.nginx", "local.stream", "s3.direct", "s3.stream")
        ))
    for key, server, dataset, size in (
        ("upload.local", lab.stream, lab.local, config.big_size),
        ("upload.s3", lab.s3_stream, lab.s3, config.s3_big_size),
    ):
        uploads(result, key, server, dataset, size, config.runs)
    if config.big_size != config.s3_big_size:
        result.notes.append(
            f"S3 objects are {config.s3_big_size // MIB} MiB, "
            f"local ones {config.big_size // MIB} MiB."
        )


def _boto3_read(client: Any, key: str) -> tuple[int, float]:
    from bench.baselines.boto3_direct import read_object

    return read_object(client, S3_BUCKET, key)


def _warm(*urls: str) -> None:
    """Fault the objects into the page cache and moto's buffers, and the workers' code in."""
    for url in urls:
        status, _, _ = read_and_discard(url)
        if status != 200:
            raise RuntimeError(f"warm-up GET answered {status}: {url.split('?')[0]}")


def _download(
    result: FamilyResult, key: str, label: str, url: str, size: int, server: Gunicorn | None
) -> None:
    if server is None:
        status, got, seconds = read_and_discard(url)
        rss = None
    else:
        with RssSampler(server.process.pid) as rss:
            status, got, seconds = read_and_discard(url)
    if status != 200 or got != size:
        raise RuntimeError(f"{label}: HTTP {status}, {got} of {size} bytes")
    figures = {"mb_s": got / seconds / 1e6, "seconds": seconds}
    if rss is not None:
        figures["rss_growth_mib"] = rss.growth / MIB
        figures["worker_cpu_s_per_gib"] = rss.cpu / (got / 2**30)
    result.measurement(key, label, "MB/s").add(figures)


# -- uploads ---------------------------------------------------------------------------------


def _upload(base: str, secret: str, size: int, filename: str) -> tuple[int, bytes, float]:
    """POST a multipart body of ``size`` zero bytes (part ``file``), streamed: the client
    never holds more than 1 MiB of it."""
    boundary = "bench-" + secrets.token_hex(12)
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\""
        f"\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=600)
    piece = bytes(MIB)
    began = time.perf_counter()
    try:
        conn.putrequest("POST", "/api/v1/files")
        for name, value in (
            ("Authorization", f"Bearer {secret}"),
            ("Accept", JSON_API),
            ("Content-Type", f"multipart/form-data; boundary={boundary}"),
            ("Content-Length", str(len(head) + size + len(tail))),
        ):
            conn.putheader(name, value)
        conn.endheaders()
        try:
            conn.send(head)
            remaining = size
            while remaining:
                n = min(remaining, MIB)
                conn.send(piece if n == MIB else piece[:n])
                remaining -= n
            conn.send(tail)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early (a refusal): read what it said
        response = conn.getresponse()
        body = response.read()
        return response.status, body, time.perf_counter() - began
    finally:
        conn.close()


def _delete(base: str, secret: str, body: bytes) -> None:
    """Remove an uploaded file again (moto keeps objects in memory)."""
    try:
        file_id = json.loads(body)["data"]["id"]
    except (ValueError, KeyError, TypeError):
        return
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.request("DELETE", f"/api/v1/files/{file_id}",
                     headers={"Authorization": f"Bearer {secret}", "Accept": JSON_API})
        conn.getresponse().read()
    finally:
        conn.close()


def uploads(
    result: FamilyResult, key: str, server: Gunicorn, dataset: Dataset, size: int, runs: int
) -> None:
    secret = dataset.key_secret
    status, body, _ = _upload(server.base, secret, 16, "probe.bin")
    if status != 201:
        why = (
            f"not available yet: POST /api/v1/files answers HTTP {status}"
            if status in (404, 405)
            else f"POST /api/v1/files answered HTTP {status}: "
                 f"{body[:200].decode('utf-8', 'replace')}"
        )
        result.unavailable[key] = why
        log(f"  {key}: {why}")
        return
    _delete(server.base, secret, body)
    label = f"{'local' if key.endswith('local') else 'S3 (moto)'}, POST /api/v1/files"
    for number in range(runs):
        with RssSampler(server.process.pid) as rss:
            status, body, seconds = _upload(server.base, secret, size, f"upload-{number}.bin")
        if status != 201:
            raise RuntimeError(f"{label}: HTTP {status}: {body[:200]!r}")
        result.measurement(key, label, "MB/s").add({
            "mb_s": size / seconds / 1e6, "seconds": seconds, "rss_growth_mib": rss.growth / MIB,
            "worker_cpu_s_per_gib": rss.cpu / (size / 2**30),
        })
        _delete(server.base, secret, body)
        log(f"  run {number + 1}: {key} {size / seconds / 1e6:.0f} MB/s, "
            f"RSS +{rss.growth / MIB:.1f} MiB")
