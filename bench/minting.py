"""Minting (issue #5 §1). In-process, per URL: ``Minter.mint`` and ``TokenService.mint``
against raw HMAC-SHA256 over the same bytes, a bare ``URLSafeTimedSerializer.dumps`` of the same
claims and boto3 ``generate_presigned_url``, taking turns within each round so that a slow patch
of the machine hits them all. Over HTTP, ``GET /api/v1/files?filter[id]=<100 ids>`` against one
``GET /api/v1/files/{id}``; in-process, the same batch through the registry and the minter.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import statistics
import time
import timeit
from collections.abc import Callable
from urllib.parse import quote

from itsdangerous import Signer

from bench import baselines
from bench.common import FamilyResult, RunConfig, calls_for, log, timed_rounds
from bench.lab import SIGNING_SECRET, Lab
from tests.servers import s3_client

FILENAME = "quarterly-report-2026-final-version-A.pdf"  # 40 characters, as SPEC §3 supposes
JSON_API = "application/vnd.api+json"


def run(lab: Lab, config: RunConfig, result: FamilyResult) -> None:
    in_process(config, result)
    ids = lab.batch_ids
    in_process_batch(lab, ids, config, result)
    batch_over_http(lab, ids, config, result)


def candidates() -> dict[str, tuple[str, Callable[[], object]]]:
    """Each figure's label and a zero-argument call that mints one URL or token."""
    from files_service.clock import SystemClock
    from files_service.ids import new_id
    from files_service.minting import Minter
    from files_service.registry.models import ApiKey, File
    from files_service.settings import Settings
    from files_service.tokens import SigningKey, TokenService

    settings = Settings(signing_keys=(SigningKey("bench", SIGNING_SECRET.encode()),),
                        download_base_url="https://files.example.com")
    tokens = TokenService(settings.signing_keys, SystemClock())
    minter = Minter(tokens, settings)
    now = time.time()
    org, file_id, key_id = new_id("org"), new_id("file"), new_id("key")
    principal = ApiKey(key_id, org, "bench", "active", 21600, "2025-06-01", now)
    record = File(file_id, org, FILENAME, "application/pdf", 123456, "0" * 64,
                  f"{org}/{file_id}", None, now)
    token = tokens.mint(file_id=file_id, filename=FILENAME, principal_id=key_id, ttl=21600).token
    # The very bytes the token's HMAC covers (payload, NUL, filename), with the key it uses:
    # itsdangerous's "hmac" derivation, as tokens.py sets it.
    message = token.rsplit(".", 1)[0].encode() + b"\0" + FILENAME.encode()
    salt = "files_service.download.current"
    derived = Signer(SIGNING_SECRET.encode(), salt=salt, key_derivation="hmac",
                     digest_method=hashlib.sha256).derive_key()
    floor, oneshot = baselines.raw_hmac(derived), baselines.raw_hmac(derived, oneshot=True)
    claims = {"f": file_id, "p": key_id, "n": FILENAME, "d": "inline"}
    serializer = baselines.bare_serializer(SIGNING_SECRET.encode(), salt)
    serializer_sha1 = baselines.bare_serializer(SIGNING_SECRET.encode(), salt, sha256=False)
    s3 = s3_client(None)
    return {
        "minter_mint": ("Minter.mint (the URL)", lambda: minter.mint(record, principal)),
        "token_mint": ("TokenService.mint (the token)", lambda: tokens.mint(
            file_id=file_id, filename=FILENAME, principal_id=key_id, ttl=21600)),
        "token_verify": ("TokenService.verify (download path)",
                         lambda: tokens.verify(token, filename=FILENAME)),
        "raw_hmac": ("raw HMAC-SHA256, same bytes (hmac.new)", lambda: floor(message)),
        "raw_hmac_oneshot": ("raw HMAC-SHA256, same bytes (hmac.digest)", lambda: oneshot(message)),
        "serializer": ("URLSafeTimedSerializer.dumps, HMAC-SHA256",
                       lambda: serializer.dumps(claims)),
        "serializer_sha1": ("URLSafeTimedSerializer.dumps, its default SHA-1",
                            lambda: serializer_sha1.dumps(claims)),
        "presign": ("boto3 generate_presigned_url",
                    lambda: baselines.presign(s3, "files-bench", record.storage_key, 21600)),
    }


def in_process(config: RunConfig, result: FamilyResult) -> None:
    calls = candidates()
    counts = {name: calls_for(call, config.inproc_seconds) for name, (_, call) in calls.items()}
    for _ in range(config.inproc_rounds):
        for name, (label, call) in calls.items():
            result.measurement(f"inproc.{name}", label, "µs/URL").add(
                {"us": timeit.Timer(call).timeit(counts[name]) / counts[name] * 1e6,
                 "calls": counts[name]})
    for name in calls:
        log(f"  {name:<18} {result.measurements[f'inproc.{name}'].median('us'):8.2f} µs")


def batch_path(ids: list[str]) -> str:
    """filter[id] returns every file it names (up to 100) in one response, unpaged."""
    return "/api/v1/files?filter[id]=" + quote(",".join(ids), safe=",")


def batch_over_http(lab: Lab, ids: list[str], config: RunConfig, result: FamilyResult) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", lab.stream.port, timeout=60)
    headers = {"Authorization": f"Bearer {lab.local.key_secret}", "Accept": JSON_API}

    def get(path: str) -> float:
        began = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path[:40]}… answered HTTP {response.status}: {body[:200]!r}")
        if path.startswith("/api/v1/files?") and len(json.loads(body)["data"]) != len(ids):
            raise RuntimeError("the batch did not return every file it named")
        return time.perf_counter() - began

    try:
        get(batch_path(ids))  # once, checked, before timing
        for _ in range(config.runs):
            single = [get(f"/api/v1/files/{i}") for i in ids[:100]]
            result.measurement("api.single", "GET /api/v1/files/{id} (one file)", "ms").add(
                {"ms": statistics.median(single) * 1e3, "total_100_ms": sum(single) * 1e3})
            batch = [get(batch_path(ids)) for _ in range(2 if config.quick else 10)]
            result.measurement("api.batch", f"GET /api/v1/files?filter[id]=<{len(ids)} ids>",
                               "ms").add({"ms": statistics.median(batch) * 1e3})
    finally:
        conn.close()


def in_process_batch(lab: Lab, ids: list[str], config: RunConfig, result: FamilyResult) -> None:
    """Context: the registry and minter work a batch needs, without HTTP, JSON:API or
    versioning (``Registry.get_files`` + N mints vs ``get_file`` + 1 mint)."""
    services = lab.local.cli.services()
    try:
        key = services.registry.get_principal(lab.local.key_id)
        org = lab.local.org_id
        timed_rounds(result, "inproc.registry_single", "registry.get_file + Minter.mint "
                     "(in-process)", "ms", config,
                     lambda: services.minter.mint(services.registry.get_file(ids[0], org), key))
        timed_rounds(result, "inproc.registry_batch", f"registry.get_files({len(ids)}) + "
                     f"{len(ids)} mints (in-process)", "ms", config,
                     lambda: [services.minter.mint(f, key)
                              for f in services.registry.get_files(org, ids)])
    finally:
        services.close()
