"""Minting (issue #5 §1).

In-process, per URL: ``Minter.mint`` (the URL the API and the CLI return) and
``TokenService.mint`` (the token alone) against raw HMAC-SHA256 over the same bytes, a bare
``URLSafeTimedSerializer.dumps`` of the same claims, and boto3 ``generate_presigned_url``. The
candidates take turns within each round, so that a slow patch of the machine hits them all.

Over HTTP: ``GET /api/v1/files?filter[id]=<100 ids>`` against one ``GET /api/v1/files/{id}``,
on one keep-alive connection to the stream server; recorded as not available while the API
answers neither. In-process, the same batch through the registry and the minter, for context.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from itsdangerous import Signer

from bench.baselines import presign, signing
from bench.common import FamilyResult, RunConfig, calls_for, log, median, time_calls
from bench.lab import Lab
from bench.servers import SIGNING_SECRET

FILENAME = "quarterly-report-2026-final-version-A.pdf"  # 40 characters, as SPEC §3 supposes
JSON_API = "application/vnd.api+json"


def run(lab: Lab, config: RunConfig, result: FamilyResult) -> None:
    in_process(config, result)
    batch_over_http(lab, config, result)


# -- in-process ----------------------------------------------------------------------------------


def candidates() -> dict[str, tuple[str, Callable[[], object]]]:
    """Each figure's label and a zero-argument call that mints one URL or token."""
    from files_service.clock import SystemClock
    from files_service.ids import new_id
    from files_service.minting import Minter
    from files_service.registry.models import ApiKey, File
    from files_service.settings import Settings, SigningKey
    from files_service.tokens import TokenService

    key = SigningKey("bench", SIGNING_SECRET.encode())
    settings = Settings(signing_keys=(key,), download_base_url="https://files.example.com")
    tokens = TokenService(settings.signing_keys, SystemClock())
    minter = Minter(tokens, settings)
    now = time.time()
    org, file_id, key_id = new_id("org"), new_id("file"), new_id("key")
    principal = ApiKey(key_id, org, "bench", "active", 21600, "2025-06-01", now)
    record = File(
        file_id, org, FILENAME, "application/pdf", 123456, "0" * 64, f"{org}/{file_id}", None,
        now,
    )
    minted = tokens.mint(file_id=file_id, filename=FILENAME, principal_id=key_id, ttl=21600)
    # The very bytes the token's HMAC covers: payload, NUL, filename.
    message = minted.token.rsplit(".", 1)[0].encode() + b"\0" + FILENAME.encode()
    salt = "files_service.download.current"
    # The key the token's HMAC uses: itsdangerous's "hmac" derivation, as tokens.py sets it.
    derived = Signer(
        SIGNING_SECRET.encode(), salt=salt, key_derivation="hmac", digest_method=hashlib.sha256
    ).derive_key()
    floor = signing.raw_hmac(derived)
    oneshot = signing.raw_hmac_oneshot(derived)
    claims = signing.payload(file_id, key_id, FILENAME, "inline")
    serializer = signing.bare_serializer(SIGNING_SECRET.encode(), salt)
    serializer_sha1 = signing.bare_serializer(SIGNING_SECRET.encode(), salt, sha256=False)
    s3 = presign.presign_client()
    token = minted.token

    def verify() -> object:
        return tokens.verify(token, filename=FILENAME)

    return {
        "minter_mint": ("Minter.mint (the URL)", lambda: minter.mint(record, principal)),
        "token_mint": (
            "TokenService.mint (the token)",
            lambda: tokens.mint(file_id=file_id, filename=FILENAME, principal_id=key_id, ttl=21600),
        ),
        "token_verify": ("TokenService.verify (download path)", verify),
        "raw_hmac": ("raw HMAC-SHA256, same bytes (hmac.new)", lambda: floor(message)),
        "raw_hmac_oneshot": ("raw HMAC-SHA256, same bytes (hmac.digest)", lambda: oneshot(message)),
        "serializer": (
            "URLSafeTimedSerializer.dumps, HMAC-SHA256", lambda: serializer.dumps(claims)
        ),
        "serializer_sha1": (
            "URLSafeTimedSerializer.dumps, its default SHA-1", lambda: serializer_sha1.dumps(claims)
        ),
        "presign": (
            "boto3 generate_presigned_url",
            lambda: presign.presign(s3, "files-bench", record.storage_key, 21600),
        ),
    }


def in_process(config: RunConfig, result: FamilyResult) -> None:
    calls = candidates()
    counts = {name: calls_for(call, config.inproc_seconds) for name, (_, call) in calls.items()}
    for _ in range(config.inproc_rounds):
        for name, (label, call) in calls.items():
            result.measurement(f"inproc.{name}", label, "µs/URL").add(
                {"us": time_calls(call, counts[name]) * 1e6, "calls": counts[name]}
            )
    for name in calls:
        log(f"  {name:<18} {result.measurements[f'inproc.{name}'].median('us'):8.2f} µs")


# -- the batch over HTTP -----------------------------------------------------------------------


class _Api:
    """One keep-alive connection to the API with the data set's key."""

    def __init__(self, base: str, secret: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        self.headers = {"Authorization": f"Bearer {secret}", "Accept": JSON_API}

    def get(self, path: str) -> tuple[int, bytes, float]:
        began = time.perf_counter()
        self.conn.request("GET", path, headers=self.headers)
        response = self.conn.getresponse()
        body = response.read()
        return response.status, body, time.perf_counter() - began

    def close(self) -> None:
        self.conn.close()


def batch_path(ids: list[str]) -> str:
    """filter[id] returns every file it names (up to 100) in one response, unpaged."""
    return "/api/v1/files?filter[id]=" + quote(",".join(ids), safe=",")


def batch_over_http(lab: Lab, config: RunConfig, result: FamilyResult) -> None:
    ids = lab.batch_ids()
    in_process_batch(lab, ids, config, result)
    api = _Api(lab.stream.base, lab.local.key_secret)
    try:
        status, body, _ = api.get(f"/api/v1/files/{ids[0]}")
        if status != 200:
            why = _unavailable("GET /api/v1/files/{id}", status, body)
            result.unavailable["api.single"] = result.unavailable["api.batch"] = why
            log(f"  {why}")
            return
        path = batch_path(ids)
        status, body, _ = api.get(path)
        returned = _count(body) if status == 200 else 0
        if status != 200 or returned != len(ids):
            why = _unavailable("GET /api/v1/files?filter[id]=…", status, body, returned, len(ids))
            result.unavailable["api.batch"] = why
            log(f"  {why}")
        singles_per_run = min(len(ids), 100)
        batches_per_run = 10 if not config.quick else 2
        for _ in range(config.runs):
            single = [api.get(f"/api/v1/files/{i}")[2] for i in ids[:singles_per_run]]
            result.measurement("api.single", "GET /api/v1/files/{id} (one file)", "ms").add(
                {"ms": median(single) * 1e3, "total_100_ms": sum(single) * 1e3}
            )
            if "api.batch" not in result.unavailable:
                batch = [api.get(path)[2] for _ in range(batches_per_run)]
                result.measurement(
                    "api.batch", f"GET /api/v1/files?filter[id]=<{len(ids)} ids>", "ms"
                ).add({"ms": median(batch) * 1e3})
    finally:
        api.close()


def in_process_batch(lab: Lab, ids: list[str], config: RunConfig, result: FamilyResult) -> None:
    """Context while the API is missing: the registry and minter work a batch needs, without
    HTTP, JSON:API or versioning (``Registry.get_files`` + N mints vs ``get_file`` + 1 mint)."""
    from files_service.services import build_services
    from files_service.settings import Settings

    services = build_services(Settings.from_env(lab.local.env))
    try:
        key = services.registry.get_principal(lab.local.key_id)
        org = lab.local.org_id

        def one() -> object:
            return services.minter.mint(services.registry.get_file(ids[0], org), key)

        def many() -> object:
            return [services.minter.mint(f, key) for f in services.registry.get_files(org, ids)]

        for name, label, call in (
            ("inproc.registry_single", "registry.get_file + Minter.mint (in-process)", one),
            ("inproc.registry_batch", f"registry.get_files({len(ids)}) + {len(ids)} mints "
             "(in-process)", many),
        ):
            number = calls_for(call, config.inproc_seconds)
            for _ in range(config.inproc_rounds):
                result.measurement(name, label, "ms").add({"ms": time_calls(call, number) * 1e3})
    finally:
        services.close()


def _count(body: bytes) -> int:
    try:
        data: Any = json.loads(body).get("data")
    except (ValueError, AttributeError):
        return 0
    return len(data) if isinstance(data, list) else 0


def _unavailable(
    what: str, status: int, body: bytes, got: int | None = None, wanted: int | None = None
) -> str:
    if status in (404, 405):
        return f"not available yet: {what} answers HTTP {status} (the API is not in the code yet)"
    if got is not None and status == 200:
        return f"{what} returned {got} of {wanted} files"
    snippet = body[:200].decode("utf-8", "replace").replace("\n", " ")
    return f"{what} answered HTTP {status}: {snippet}"
