"""A storage brown-out (S3 frozen: a moto server of the test's own, stopped with SIGSTOP, so
that it accepts connections and never answers) must not take the rest of the service down:

- a download waits no longer than the documented timeouts (a timed-out call is not retried);
- at most ``FILES_S3_MAX_WAITING`` threads of a worker wait on S3; the others get
  ``503 storage_unavailable`` with ``Retry-After`` at once;
- ``/healthz`` and minting (``GET /api/v1/files/{id}``) never touch storage and still answer;
- ``/readyz`` answers ``503`` within its own short timeout.

"While the frozen downloads still wait" is the yardstick: every other answer must come before
the first of them gives up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from files_service.storage.s3 import DEFAULT_MAX_WAITING, PROBE_TIMEOUT
from tests.faults.served import S3Served, serve_on_s3, wait_until
from tests.servers import free_port, spawn, stop_process, wait_for_port

READ_TIMEOUT = 6.0  # what the server under test is given; PROBE_TIMEOUT is much shorter


@pytest.fixture
def own_moto(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """A moto S3 server in a process of its own, which the test may freeze and thaw."""
    port = free_port()
    log = tmp_path / "moto.log"
    proc = spawn([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], log)
    try:
        wait_for_port(port, proc, log)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        stop_process(proc)


@contextmanager
def frozen(proc: subprocess.Popen) -> Iterator[None]:
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(proc.pid, signal.SIGCONT)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def mint(served: S3Served, file_id: str) -> str:
    status, _, body = get(f"{served.server.base}/api/v1/files/{file_id}",
                          {"Authorization": f"Bearer {served.secret}"})
    assert status == 200, body
    url: str = json.loads(body)["data"]["attributes"]["url"]
    parts = urlsplit(url)
    return f"{served.server.base}{parts.path}?{parts.query}"


@pytest.fixture
def served(tmp_path: Path, own_moto: tuple[str, subprocess.Popen]) -> Iterator[S3Served]:
    endpoint, _ = own_moto
    with serve_on_s3(tmp_path, endpoint, FILES_S3_CONNECT_TIMEOUT="2",
                     FILES_S3_READ_TIMEOUT=str(READ_TIMEOUT)) as served:
        yield served


def upload(served: S3Served, tmp_path: Path) -> str:
    path = tmp_path / "report.txt"
    path.write_bytes(b"quarterly figures\n" * 100)
    return str(served.server.cli_json("upload", str(path), "--org", served.org_id)["id"])


def test_a_frozen_s3_costs_one_timeout_and_spares_the_rest(served, own_moto, tmp_path):
    _, moto = own_moto
    file_id = upload(served, tmp_path)
    url = mint(served, file_id)
    assert get(url)[0] == 200  # a pooled connection to S3, which the freeze will hang
    base = served.server.base
    count = 20
    with frozen(moto), ThreadPoolExecutor(count + 4) as pool:
        started = time.monotonic()
        downloads: list[Future] = [pool.submit(get, url) for _ in range(count)]

        # Wait for the waiting threads to be taken: the others are refused at once.
        def refused() -> list[Future]:
            return [f for f in downloads if f.done()]
        wait_until(lambda: len(refused()) == count - DEFAULT_MAX_WAITING,
                   "the downloads beyond the waiting bound to be refused", seconds=READ_TIMEOUT)
        for future in refused():
            status, headers, body = future.result()
            assert status == 503, body
            assert headers["Retry-After"]
            assert json.loads(body)["errors"][0]["code"] == "storage_unavailable"
        # The process is up, and minting needs no storage.
        assert get(f"{base}/healthz")[0] == 200
        assert mint(served, file_id).startswith(base)
        probed = time.monotonic()
        ready_status, _, ready_body = get(f"{base}/readyz")
        probe_took = time.monotonic() - probed
        assert ready_status == 503
        assert json.loads(ready_body)["checks"]["storage"] == "unavailable"
        # All of that while the frozen downloads still wait on S3.
        still_waiting = [f for f in downloads if not f.done()]
        assert len(still_waiting) == DEFAULT_MAX_WAITING
        waits = []
        for future in still_waiting:
            status, headers, body = future.result()
            waits.append(time.monotonic() - started)
            assert status == 503, body
            assert headers["Retry-After"]
    # One read timeout each (plus the connect), never a second one for a retry.
    assert max(waits) < 2 * READ_TIMEOUT
    assert probe_took < READ_TIMEOUT
    assert probe_took >= PROBE_TIMEOUT * 0.9  # it did wait on the frozen S3, for its own timeout
    # Thawed, the same worker serves the file again.
    wait_until(lambda: get(url)[0] == 200, "the download to work again", seconds=30)
