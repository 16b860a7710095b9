"""The front tier (issue #11): downloads through the nginx ``files-service edge-config``
writes (njs checks the token, the service's lookup is cached, nginx sends the bytes), against
nginx ``secure_link`` serving the same files in the same run: 4 KiB and 1 MiB under wrk; the
cold cost (``FILES_REGISTRY_CACHE_SECONDS=0``, reported, no target); 4 KiB while the slow-client
load of tests/edge/test_slow_clients.py holds on, against the same without it; 1 GiB from S3
(moto) against boto3 reading the same object directly.
"""

from __future__ import annotations

from bench import baselines
from bench.common import FamilyResult, RunConfig, log, read_and_discard, wrk_rounds
from bench.lab import S3_BUCKET, Lab
from tests.edge.test_slow_clients import HOLDERS, IDLE, SLOW_READERS, slow_load
from tests.servers import s3_client

SERVERS = {
    "edge": "front tier (edge-config), lookup cached",
    "nginx": "nginx secure_link + sendfile",
}
SIZES = ("small", "medium")


def run(lab: Lab, config: RunConfig, result: FamilyResult) -> None:
    urls = {(server, label): lab.url(server, label) for label in SIZES for server in SERVERS}
    urls[("edge_cold", "small")] = lab.url("edge_cold", "small")
    labels = {**SERVERS, "edge_cold": "front tier, the service asked on every request"}
    wrk_rounds(lab, config, result, urls, labels)
    slow_clients(lab, config, result)
    s3_stream(lab, config, result)


def slow_clients(lab: Lab, config: RunConfig, result: FamilyResult) -> None:
    """4 KiB through the edge without and with the slow clients holding on, in pairs."""
    small = lab.url("edge", "small")
    big = lab.url("edge", "big").removeprefix(lab.edge.base)
    for number in range(config.load_runs):
        unloaded = config.load(small)
        with slow_load(lab.edge.base, small.removeprefix(lab.edge.base), big):
            loaded = config.load(small)
        result.measurement("edge.unloaded", "front tier, 4 KiB, no slow clients",
                           "req/s").add(unloaded.as_run())
        result.measurement(
            "edge.loaded", f"front tier, 4 KiB, {IDLE} idle, {HOLDERS} holding and "
            f"{SLOW_READERS} slow clients", "req/s").add(loaded.as_run())
        log(f"  run {number + 1}: edge 4 KiB {unloaded.rps:9.0f} req/s alone, "
            f"{loaded.rps:9.0f} with the slow clients")


def s3_stream(lab: Lab, config: RunConfig, result: FamilyResult) -> None:
    """The big S3 object through the edge and read directly with boto3, in pairs."""
    stored = lab.s3_file("big")
    url = lab.edge_s3.base + stored.url_path
    moto = s3_client(lab.moto.base)
    if read_and_discard(url)[0] != 200:  # the lookup cached, moto warmed up
        raise RuntimeError("warm-up GET through the edge failed")
    for number in range(config.runs):
        size, direct = baselines.read_object(moto, S3_BUCKET, stored.storage_key)
        result.measurement("s3.direct", "S3 (moto), boto3 GetObject (direct read)",
                           "MB/s").add({"mb_s": size / direct / 1e6, "seconds": direct})
        status, got, edged = read_and_discard(url)
        if status != 200 or got != stored.size:
            raise RuntimeError(f"through the edge: HTTP {status}, {got} of {stored.size} bytes")
        result.measurement("s3.edge", "S3 (moto), through the front tier", "MB/s").add(
            {"mb_s": got / edged / 1e6, "seconds": edged})
        log(f"  run {number + 1}: S3 {size / direct / 1e6:.0f} MB/s direct, "
            f"{got / edged / 1e6:.0f} MB/s through the edge")
