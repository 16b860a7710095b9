"""A bounded load test of mixed minting and downloading against ``files-service serve`` with
2 gunicorn workers: zero errors, flat memory, latency percentiles recorded.

``make load`` runs it for 60 s and writes ``var/load-results.json``; the test suite runs the
same thing for about 10 s (tests/load/test_load.py)."""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from tests import wrk
from tests.servers import RssSampler

LUA = Path(__file__).with_name("mixed.lua")


@dataclass
class LoadResult:
    seconds: int
    requests: int
    requests_per_second: float
    errors: int  # non-2xx/3xx responses plus socket errors
    latency_ms: dict[str, float]
    rss_mib_start: float
    rss_mib_end: float
    rss_mib_peak: float


def run_load(
    base: str, master_pid: int, plan: list[str], secret: str, seconds: int, workdir: Path,
    connections: int = 16,
) -> tuple[LoadResult, str]:
    """Drive ``plan`` (lines "GET path" / "API path") at the server for ``seconds``, sampling
    the workers' memory every 100 ms: the figures, and wrk's report."""
    plan_file = workdir / "plan.txt"
    plan_file.write_text("\n".join([f"KEY {secret}", *plan]) + "\n")
    with RssSampler(master_pid, interval=0.1) as rss:
        got = wrk.run(base, seconds=seconds, connections=connections, script=LUA,
                      script_args=[str(plan_file)])
    latency = {k: round(v, 3) for k, v in got.latency_ms.items()}
    mib = [round(sum(sample.values()) / 2**20, 1) for sample in (rss.first, rss.last)]
    return LoadResult(seconds, got.requests, got.rps, got.errors, latency, *mib,
                      round(rss.peak_total / 2**20, 1)), got.report


def warm_up(base: str, plan: list[str], secret: str, rounds: int = 2) -> None:
    """Touch every request of the plan once or twice so caches and imports settle before
    memory is measured."""
    for _ in range(rounds):
        for line in plan:
            kind, path = line.split(" ", 1)
            headers = {"Authorization": f"Bearer {secret}"} if kind == "API" else {}
            request = urllib.request.Request(base + path, headers=headers)
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()


def save(result: LoadResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    path.write_text(json.dumps({"at": at, **asdict(result)}, indent=2) + "\n")
