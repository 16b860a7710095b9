"""Big streams (issue #5 §3): a 1 GiB object, local and S3. Downloads read and discarded as
fast as Python reads, against the direct read (nginx ``sendfile``; boto3 ``GetObject`` from the
same moto server), with the serving workers' RSS growth and CPU (from ``/proc``); uploads
(``POST /api/v1/files``, multipart, streamed with a ``Content-Length``), each deleted again.
"""

from __future__ import annotations

import http.client
import json
import secrets
import time
from collections.abc import Iterable
from contextlib import nullcontext
from itertools import chain

from bench import baselines
from bench.common import MIB, FamilyResult, RunConfig, log, read_and_discard
from bench.lab import S3_BUCKET, Lab
from tests.servers import RssSampler, Server, s3_client

JSON_API = "application/vnd.api+json"


def run(lab: Lab, config: RunConfig, result: FamilyResult) -> None:
    local, s3 = lab.local_file("big"), lab.s3_file("big")
    downloads = {  # key: label, URL, size, the server whose workers are watched
        "local.nginx": ("local, nginx secure_link (direct read)", lab.url("nginx", "big"),
                        local.size, None),
        "local.stream": ("local, service stream", lab.url("stream", "big"), local.size,
                         lab.stream),
        "s3.stream": ("S3 (moto), service stream", lab.s3_stream.base + s3.url_path, s3.size,
                      lab.s3_stream),
    }
    moto = s3_client(lab.moto.base)
    for key in ("local.stream", "s3.stream"):  # objects and workers warmed up
        if read_and_discard(downloads[key][1])[0] != 200:
            raise RuntimeError(f"warm-up GET failed: {key}")
    for number in range(config.runs):
        download(result, "local.nginx", *downloads["local.nginx"])
        download(result, "local.stream", *downloads["local.stream"])
        size, seconds = baselines.read_object(moto, S3_BUCKET, s3.storage_key)
        if size != s3.size:
            raise RuntimeError(f"boto3 read {size} of {s3.size} bytes")
        result.measurement("s3.direct", "S3 (moto), boto3 GetObject (direct read)", "MB/s").add(
            {"mb_s": size / seconds / 1e6, "seconds": seconds})
        download(result, "s3.stream", *downloads["s3.stream"])
        log(f"  run {number + 1}: " + ", ".join(
            f"{k} {result.measurements[k].runs[-1]['mb_s']:.0f} MB/s"
            for k in ("local.nginx", "local.stream", "s3.direct", "s3.stream")))
    for key, label, server, secret, size in (
        ("upload.local", "local", lab.stream, lab.local.key_secret, config.big_size),
        ("upload.s3", "S3 (moto)", lab.s3_stream, lab.s3.key_secret, config.s3_big_size),
    ):
        for number in range(config.runs):
            with RssSampler(server.pid) as rss:
                file_id, seconds = upload(server, secret, size, f"upload-{number}.bin")
            result.measurement(key, f"{label}, POST /api/v1/files", "MB/s").add({
                "mb_s": size / seconds / 1e6, "seconds": seconds, "rss_growth_mib":
                rss.growth / MIB, "worker_cpu_s_per_gib": rss.cpu / (size / 2**30)})
            request(server, secret, "DELETE", f"/api/v1/files/{file_id}")
            log(f"  run {number + 1}: {key} {size / seconds / 1e6:.0f} MB/s, "
                f"RSS +{rss.growth / MIB:.1f} MiB")
    if config.big_size != config.s3_big_size:
        result.notes.append(f"S3 objects are {config.s3_big_size // MIB} MiB, "
                            f"local ones {config.big_size // MIB} MiB.")


def download(result: FamilyResult, key: str, label: str, url: str, size: int,
             server: Server | None = None) -> None:
    """One download of ``url``; with ``server``, its workers' RSS and CPU watched."""
    with RssSampler(server.pid) if server else nullcontext() as rss:
        status, got, seconds = read_and_discard(url)
    figures = {"rss_growth_mib": rss.growth / MIB,
               "worker_cpu_s_per_gib": rss.cpu / (got / 2**30)} if rss else {}
    if status != 200 or got != size:
        raise RuntimeError(f"{label}: HTTP {status}, {got} of {size} bytes")
    result.measurement(key, label, "MB/s").add(
        {"mb_s": got / seconds / 1e6, "seconds": seconds, **figures})


def request(server: Server, secret: str, method: str, path: str, body: Iterable[bytes] = (),
            headers: dict[str, str] | None = None) -> tuple[bytes, float]:
    """One API request, its ``body`` streamed as it comes: the answer's body and the seconds
    taken."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    began = time.perf_counter()
    try:
        conn.request(method, path, body=iter(body), headers={
            "Authorization": f"Bearer {secret}", "Accept": JSON_API, **(headers or {})})
        response = conn.getresponse()
        answer = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {response.status}: {answer[:200]!r}")
        return answer, time.perf_counter() - began
    finally:
        conn.close()


def upload(server: Server, secret: str, size: int, filename: str) -> tuple[str, float]:
    """``POST /api/v1/files`` of ``size`` zero bytes as multipart part ``file``, sent in 1 MiB
    pieces (the client never holds more) with a ``Content-Length``: the new file's id and the
    seconds the upload took."""
    boundary = "bench-" + secrets.token_hex(12)
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    piece = bytes(MIB)
    body = chain([head], (piece[: size - offset] for offset in range(0, size, MIB)), [tail])
    answer, seconds = request(server, secret, "POST", "/api/v1/files", body, {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + size + len(tail))})
    return json.loads(answer)["data"]["id"], seconds
