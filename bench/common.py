"""What every benchmark family shares: the settings of a run, measurements, wrk runs, timing
in-process, and the CPU the servers' processes spend (read from ``/proc``: Linux only, as the
service's production target is)."""

from __future__ import annotations

import datetime as dt
import http.client
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import timeit
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests import wrk
from tests.servers import cpu_seconds, worker_pids

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
KIB, MIB, GIB = 1024, 1024**2, 1024**3


@dataclass(frozen=True)
class RunConfig:
    """How big and how long: the full run (``make bench``) or ``--quick`` (a smoke run)."""

    quick: bool = False
    runs: int = 3  # each figure is the median of this many runs (big streams, uploads, the API)
    # wrk figures: more, shorter runs. The noise of a shared machine comes in bursts of ten
    # seconds or so; more pairs of figure and baseline make a sturdier median than longer ones.
    load_runs: int = 5
    wrk_seconds: int = 3
    wrk_threads: int = 2
    wrk_connections: int = 32
    small_size: int = 4 * KIB
    medium_size: int = 1 * MIB
    big_size: int = 1 * GIB
    s3_big_size: int = 1 * GIB
    slow_clients: int = 4
    slow_rate: int = 1_000_000  # bytes/s per slow client ("1 MB/s")
    inproc_seconds: float = 0.2  # one round of an in-process figure
    inproc_rounds: int = 5  # in-process figures: the median of this many rounds
    batch_size: int = 100
    profile: bool = False
    profile_seconds: int = 10

    def load(self, url: str, seconds: int | None = None) -> wrk.WrkResult:
        """One wrk run of this configuration against ``url``; refused where any answer was
        not 2xx/3xx: it would be measuring the speed of an error page."""
        got = wrk.run(url, seconds=seconds or self.wrk_seconds, threads=self.wrk_threads,
                      connections=self.wrk_connections)
        if got.non_2xx:
            raise wrk.WrkError(f"{got.non_2xx} of {got.requests} answers were not 2xx/3xx: "
                               "the URL is refused, not served (an expired token? see its log)")
        return got


# --quick: a smoke run.
SMOKE: dict[str, Any] = dict(quick=True, runs=1, load_runs=1, wrk_seconds=1, medium_size=64 * KIB,
             big_size=8 * MIB, s3_big_size=8 * MIB, inproc_seconds=0.02, inproc_rounds=1,
             batch_size=10, profile_seconds=2)


@dataclass
class Measurement:
    """One figure: its raw runs (each a dict of metric -> number) and their medians."""

    label: str
    unit: str  # of the main metric
    runs: list[dict[str, float]] = field(default_factory=list)

    def add(self, run: dict[str, float]) -> None:
        self.runs.append(dict(run))

    def median(self, metric: str) -> float:
        values = [r[metric] for r in self.runs if metric in r]
        return float(statistics.median(values)) if values else float("nan")

    def to_json(self) -> dict[str, Any]:
        metrics = sorted({m for r in self.runs for m in r})
        return {"label": self.label, "unit": self.unit, "runs": self.runs,
                "median": {m: self.median(m) for m in metrics}}


@dataclass
class FamilyResult:
    """What one benchmark family measured, in one run."""

    name: str
    measurements: dict[str, Measurement] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def measurement(self, key: str, label: str, unit: str) -> Measurement:
        return self.measurements.setdefault(key, Measurement(label, unit))

    def to_json(self) -> dict[str, Any]:
        return {
            "run_at": dt.datetime.fromtimestamp(self.started, dt.UTC).isoformat(timespec="seconds"),
            "elapsed_s": round(time.time() - self.started, 1),
            "measurements": {k: m.to_json() for k, m in self.measurements.items()},
            "notes": self.notes,
        }


def calls_for(call: Callable[[], object], seconds: float) -> int:
    """How many calls of ``call`` take about ``seconds`` (at least 10): timed in growing
    batches until one batch lasts a tenth of that."""
    number = 1
    while (took := timeit.Timer(call).timeit(number)) < seconds / 10 and number < 1 << 20:
        number *= 4
    return max(10, int(seconds * number / max(took, 1e-9)))


def timed_rounds(result: FamilyResult, key: str, label: str, unit: str, config: RunConfig,
                 call: Callable[[], object], seconds: float = 0.0) -> None:
    """The figure ``key``: ``config.inproc_rounds`` rounds of ``call``, each about
    ``seconds`` (``config.inproc_seconds``) long, in ms per call (``unit`` "ms") or µs, with
    the garbage collector off as timeit does."""
    number = calls_for(call, seconds or config.inproc_seconds)
    metric, scale = ("ms", 1e3) if unit == "ms" else ("us", 1e6)
    for _ in range(config.inproc_rounds):
        result.measurement(key, label, unit).add(
            {metric: timeit.Timer(call).timeit(number) / number * scale})


def machine_info() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), "")

    def version(argv: list[str]) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        # "nginx version: nginx/1.22.1", "wrk debian/4.1.0-3+b2 [epoll] Copyright …"
        return " ".join((done.stdout + done.stderr).replace("nginx version: ", "").split()[:2])

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "nginx": version(["nginx", "-v"]),
        "wrk": version(["wrk", "-v"]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def cpu_used(masters: Sequence[int]) -> Iterator[dict[str, float]]:
    """CPU seconds spent over the block: ``server``, by the workers of ``masters`` (gunicorn's,
    nginx's); ``client``, by this process's finished children (wrk); and ``busiest_share``,
    the busiest worker's share of the first master's workers' CPU (0.5: an even spread over
    two workers; 1.0: one worker doing everything)."""
    workers = [worker_pids(master) for master in masters]

    def now() -> tuple[float, dict[int, float]]:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime, {
            pid: cpu_seconds(pid) for pids in workers for pid in pids}

    found: dict[str, float] = {}
    client, start = now()
    yield found
    client_end, end = now()
    used = {pid: end[pid] - start[pid] for pid in start}
    first = [used[pid] for pid in workers[0]] if workers else []
    found.update(server=sum(used.values()), client=client_end - client,
                 busiest_share=max(first) / sum(first) if sum(first) else 0.0)


def read_and_discard(url: str, timeout: float = 300) -> tuple[int, int, float]:
    """GET ``url`` and throw the body away as fast as Python can read it: (status, bytes,
    seconds). One preallocated buffer, so the client itself allocates nothing per chunk."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    buffer = memoryview(bytearray(MIB))
    began = time.perf_counter()
    try:
        conn.request("GET", f"{parts.path}?{parts.query}" if parts.query else parts.path)
        response = conn.getresponse()
        total = 0
        while n := response.readinto(buffer):
            total += n
        return response.status, total, time.perf_counter() - began
    finally:
        conn.close()


def wrk_rounds(lab: Any, config: RunConfig, result: FamilyResult,
               urls: dict[tuple[str, str], str], labels: dict[str, str],
               masters: dict[str, list[str]] | None = None) -> None:
    """The figures ``SERVER.LABEL`` of ``urls`` under wrk: ``config.load_runs`` runs, each
    going round every URL before the next starts, so that a noisy moment touches them all.
    Each URL must first give 200 and the whole file, and (but in a quick run) has 1 s of wrk
    to warm up. With ``masters`` (of each server, the lab's names of the processes serving
    it), the CPU they and wrk spent per request."""
    for (server, label), url in urls.items():
        with urllib.request.urlopen(url, timeout=30) as response:
            size = len(response.read())
        if size != lab.size_of(label):
            raise RuntimeError(f"{server}: GET gave {size} of {lab.size_of(label)} bytes")
    for url in urls.values() if not config.quick else ():
        config.load(url, seconds=1)  # warm-up: connections, caches, the page cache
    for number in range(config.load_runs):
        for (server, label), url in urls.items():
            with cpu_used([lab.pid(m) for m in (masters or {}).get(server, [])]) as cpu:
                got = config.load(url)
            figures: dict[str, Any] = got.as_run()
            if masters:  # CPU per request of the server and of wrk, the server's cores busy
                requests = max(got.requests, 1)
                figures.update(server_cpu_us=cpu["server"] / requests * 1e6,
                               wrk_cpu_us=cpu["client"] / requests * 1e6,
                               server_cores=cpu["server"] / got.seconds,
                               busiest_worker_share=cpu["busiest_share"])
            shown = human(lab.size_of(label))
            result.measurement(f"{server}.{label}", f"{labels[server]}, {shown}", "req/s").add(
                figures)
            log(f"  run {number + 1}: {server:<9} {shown:>7} {got.rps:9.0f} req/s  "
                f"p50 {figures['p50_ms']:6.2f} ms  p99 {figures['p99_ms']:6.2f} ms" + (
                    f"  server CPU {figures['server_cpu_us']:6.0f} µs/req "
                    f"({figures['server_cores']:.2f} cores, busiest worker "
                    f"{figures['busiest_worker_share']:.0%})" if masters else ""))


def human(size: int) -> str:
    for unit, factor in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} B"
