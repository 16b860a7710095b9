"""Mixed minting and downloading on 2 gunicorn workers: zero errors and flat memory.

About 10 s in ``make test``; ``make load`` runs the same for 60 s and keeps the figures in
``var/load-results.json`` (docs/operations.md quotes them)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from files_service.files import store_file
from tests.conftest import path_of
from tests.load.run import run_load, save, warm_up
from tests.wrk import WRK

pytestmark = pytest.mark.e2e

SECONDS = int(os.environ.get("FILES_TEST_LOAD_SECONDS", "10"))
OUT = os.environ.get("FILES_TEST_LOAD_OUT")
FILES = 20
# Allowed growth of the two workers' resident memory over the run, after a warm-up: room for
# allocator noise, far below a per-request leak (a 1 KiB leak is ~20 MiB over 20,000 requests).
FLAT_MIB = 16


@pytest.mark.skipif(WRK is None, reason="wrk is not installed (.ci/run installs it)")
def test_mixed_minting_and_downloading(make_server, tmp_path: Path):
    server = make_server()
    services = server.services()
    org = services.registry.create_organization("Load")
    key, secret = services.registry.create_api_key(org.id, name="load")
    files = [
        store_file(services, org.id, iter([os.urandom(4096)]), filename=f"doc-{i}.bin",
                   content_type="application/octet-stream")
        for i in range(FILES)
    ]
    plan: list[str] = []
    for file in files:
        url = path_of(services.minter.mint(file, key).url)
        plan += [f"GET {url}"] * 3 + [f"API /api/v1/files/{file.id}"]
    batch = ",".join(f.id for f in files[:10])
    plan.append(f"API /api/v1/files?filter[id]={batch}")
    services.close()

    server.start(workers=2)
    warm_up(server.base, plan, secret)
    result, report = run_load(server.base, server.pid, plan, secret, SECONDS, tmp_path)
    if OUT:
        save(result, Path(OUT))
    print(  # shown with -s: the figures docs/operations.md quotes
        f"\n{result.requests} requests in {SECONDS}s, {result.requests_per_second:.0f}/s, "
        f"errors {result.errors}, latency {result.latency_ms}, RSS MiB {result.rss_mib_start}"
        f" -> {result.rss_mib_end} (peak {result.rss_mib_peak})"
    )
    assert result.requests > SECONDS * 50, report
    assert result.errors == 0, report
    assert result.rss_mib_end - result.rss_mib_start < FLAT_MIB
    log = server.stop()
    assert secret not in log
