"""What every benchmark family shares: the settings of a run, statistics, measurements,
processes on loopback ports, and worker RSS sampling (read from ``/proc``: Linux only, as the
service's production target is)."""

from __future__ import annotations

import datetime as dt
import http.client
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
VENV_BIN = Path(sys.executable).parent
KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


@dataclass(frozen=True)
class RunConfig:
    """How big and how long: the full run (``make bench``) or ``--quick`` (a smoke run)."""

    quick: bool
    runs: int  # each figure is the median of this many runs (big streams, uploads, the API)
    # wrk figures: more, shorter runs. The noise of a shared machine comes in bursts of ten
    # seconds or so; more pairs of figure and baseline make a sturdier median than longer ones.
    load_runs: int
    wrk_seconds: int
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

    @classmethod
    def full(cls, *, profile: bool = False) -> RunConfig:
        return cls(quick=False, runs=3, load_runs=5, wrk_seconds=3, profile=profile)

    @classmethod
    def smoke(cls, *, profile: bool = False) -> RunConfig:
        return cls(
            quick=True, runs=1, load_runs=1, wrk_seconds=1, medium_size=64 * KIB, big_size=8 * MIB,
            s3_big_size=8 * MIB, inproc_seconds=0.02, inproc_rounds=1, batch_size=10,
            profile=profile,
            profile_seconds=2,
        )


# -- statistics and measurements ---------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


@dataclass
class Measurement:
    """One figure: its raw runs (each a dict of metric -> number) and their medians."""

    label: str
    unit: str  # of the main metric
    runs: list[dict[str, float]] = field(default_factory=list)
    note: str = ""

    def add(self, run: Mapping[str, float]) -> None:
        self.runs.append(dict(run))

    def median(self, metric: str) -> float:
        return median([r[metric] for r in self.runs if metric in r])

    def to_json(self) -> dict[str, Any]:
        metrics = sorted({m for r in self.runs for m in r})
        return {
            "label": self.label, "unit": self.unit, "note": self.note, "runs": self.runs,
            "median": {m: self.median(m) for m in metrics},
        }


@dataclass
class FamilyResult:
    """What one benchmark family measured, in one run."""

    name: str
    measurements: dict[str, Measurement] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)  # figure -> why not measured
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    elapsed_s: float = 0.0

    def measurement(self, key: str, label: str, unit: str, note: str = "") -> Measurement:
        if key not in self.measurements:
            self.measurements[key] = Measurement(label, unit, note=note)
        return self.measurements[key]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_at": dt.datetime.fromtimestamp(self.started, dt.UTC).isoformat(timespec="seconds"),
            "elapsed_s": round(self.elapsed_s, 1),
            "measurements": {k: m.to_json() for k, m in self.measurements.items()},
            "unavailable": self.unavailable,
            "notes": self.notes,
        }


def calls_for(call: Callable[[], object], seconds: float) -> int:
    """How many calls of ``call`` take about ``seconds`` (at least 10): timed in growing
    batches until one batch lasts a tenth of that."""
    number = 1
    while True:
        began = time.perf_counter()
        for _ in range(number):
            call()
        took = time.perf_counter() - began
        if took >= seconds / 10 or number >= 1 << 20:
            return max(10, int(seconds * number / max(took, 1e-9)))
        number *= 4


def time_calls(call: Callable[[], object], number: int) -> float:
    """Seconds per call over ``number`` calls, with the garbage collector off as timeit does."""
    import timeit

    return timeit.Timer(call).timeit(number) / number


def machine_info() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "nginx": _version(["nginx", "-v"]),
        "wrk": _version(["wrk", "-v"]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    lines = (done.stdout + done.stderr).strip().splitlines()
    # "nginx version: nginx/1.22.1", "wrk debian/4.1.0-3+b2 [epoll] Copyright …"
    words = lines[0].replace("nginx version: ", "").split() if lines else []
    return " ".join(words[:2]) if words else "unknown"


# -- the time budget ---------------------------------------------------------------------------


class Budget:
    """The planned seconds of each phase, printed at the start, and what each really took."""

    def __init__(self, planned: Mapping[str, float], limit: float) -> None:
        self.planned = dict(planned)
        self.limit = limit
        self.spent: dict[str, float] = {}
        self.start = time.monotonic()

    def announce(self) -> None:
        total = sum(self.planned.values())
        log(f"time budget: {total:.0f} s planned (limit {self.limit:.0f} s)")
        for name, seconds in self.planned.items():
            log(f"  {name:<14} {seconds:6.0f} s")

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        log(f"== {name} (planned {self.planned.get(name, 0):.0f} s, "
            f"{self.elapsed():.0f} s elapsed)")
        try:
            yield
        finally:
            self.spent[name] = self.spent.get(name, 0.0) + time.monotonic() - began
            log(f"== {name} took {self.spent[name]:.1f} s")

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def summary(self) -> dict[str, Any]:
        return {
            "limit_s": self.limit,
            "planned_s": self.planned,
            "spent_s": {k: round(v, 1) for k, v in self.spent.items()},
            "total_s": round(self.elapsed(), 1),
        }


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- processes and HTTP ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(
    url: str, headers: Mapping[str, str] | None = None, timeout: float = 30
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@dataclass
class Process:
    """A server the harness started: a subprocess with its log file, stopped at the end."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    cwd: Path = ROOT
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, cwd=self.cwd, stdout=log_file,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} is not running"
        return self.proc.pid

    def wait_http(self, url: str, seconds: float = 30) -> None:
        """Until ``url`` answers (any status); else stop the process and fail with its log."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"{self.name} exited early:\n{self.tail()}")
            try:
                http_get(url, timeout=1)
                return
            except (urllib.error.URLError, OSError, http.client.HTTPException):
                time.sleep(0.1)  # waiting for a port to open
        self.stop()
        raise RuntimeError(f"{self.name} did not come up in {seconds:.0f} s:\n{self.tail()}")

    def stop(self, grace: float = 20) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; only this process (and so the
        children it stops itself: gunicorn's workers, nginx's)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (gunicorn's workers, nginx's), from ``/proc``."""
    found: list[int] = []
    task_dir = Path(f"/proc/{pid}/task")
    try:
        tasks = list(task_dir.iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return sorted(set(found))


def rss_bytes(pid: int) -> int | None:
    """Resident set size of ``pid`` (``VmRSS``), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * KIB
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds ``pid`` has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime and stime are fields 14 and 15 of stat(5); fields[0] here is field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used by the workers of some masters (gunicorn's, nginx's) and by this
    process's finished children (wrk) over a ``with`` block."""

    def __init__(self, masters: Sequence[int]) -> None:
        self.pids = [pid for master in masters for pid in children(master)]
        # The workers of the first master: is the load spread over them, or not?
        self.first = set(children(masters[0])) if masters else set()
        self.server = 0.0
        self.client = 0.0
        self.busiest_share = 0.0

    def __enter__(self) -> CpuMeter:
        self._start = {pid: cpu_seconds(pid) for pid in self.pids}
        self._children = _children_cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        used = {pid: cpu_seconds(pid) - start for pid, start in self._start.items()}
        self.server = sum(used.values())
        self.client = _children_cpu() - self._children
        first = [used[pid] for pid in self.first if pid in used]
        self.busiest_share = max(first) / sum(first) if first and sum(first) else 0.0


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class RssSampler:
    """Samples the RSS of every worker of a master every ``interval`` seconds in a thread.

    ``growth`` is the largest rise of any one worker over its RSS when sampling began: the
    memory one request cost the worker that served it. ``cpu`` is the CPU seconds all the
    workers used meanwhile."""

    def __init__(self, master_pid: int, interval: float = 0.05) -> None:
        self.master_pid = master_pid
        self.interval = interval
        self.baseline: dict[int, int] = {}
        self.peak: dict[int, int] = {}
        self._cpu_start: dict[int, float] = {}
        self.cpu = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        for pid in children(self.master_pid):
            rss = rss_bytes(pid)
            if rss is not None:
                self.baseline[pid] = self.peak[pid] = rss
                self._cpu_start[pid] = cpu_seconds(pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.cpu = sum(cpu_seconds(p) - start for p, start in self._cpu_start.items())

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        for pid in self.baseline:
            rss = rss_bytes(pid)
            if rss is not None and rss > self.peak[pid]:
                self.peak[pid] = rss

    @property
    def growth(self) -> int:
        return max((self.peak[p] - self.baseline[p] for p in self.baseline), default=0)

    @property
    def baseline_max(self) -> int:
        return max(self.baseline.values(), default=0)


def read_and_discard(url: str, timeout: float = 300) -> tuple[int, int, float]:
    """GET ``url`` and throw the body away as fast as Python can read it: (status, bytes,
    seconds). One preallocated buffer, so the client itself allocates nothing per chunk."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    buffer = memoryview(bytearray(MIB))
    began = time.perf_counter()
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request("GET", target)
        response = conn.getresponse()
        total = 0
        while True:
            n = response.readinto(buffer)
            if not n:
                break
            total += n
        return response.status, total, time.perf_counter() - began
    finally:
        conn.close()


def run_checked(
    argv: Sequence[str], env: Mapping[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        list(argv), env=dict(env), capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} … failed ({done.returncode}):\n{done.stderr}")
    return done
