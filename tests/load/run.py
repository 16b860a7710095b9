"""A bounded load test of mixed minting and downloading against ``files-service serve`` with
2 gunicorn workers: zero errors, flat memory, latency percentiles recorded.

``make load`` runs it for 60 s and writes ``var/load-results.json``; the test suite runs the
same thing for about 10 s (tests/load/test_load.py)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

LUA = Path(__file__).with_name("mixed.lua")
WRK = shutil.which("wrk")
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


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
    raw: str = field(repr=False, default="")

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("raw")
        return data


def worker_pids(master: int) -> list[int]:
    """The gunicorn workers: the children of the master process."""
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


def parse_wrk(output: str) -> tuple[int, float, int, dict[str, float]]:
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(match.group(1))
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        errors += sum(int(g) for g in match.groups())
    latency = {}
    for pct, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M):
        latency[f"p{pct}"] = round(float(value) * _UNITS[unit], 3)
    return requests, rate, errors, latency


def run_load(
    base: str, master_pid: int, plan: list[str], secret: str, seconds: int, workdir: Path,
    connections: int = 16,
) -> LoadResult:
    """Drive ``plan`` (lines "GET path" / "API path") at the server for ``seconds``, sampling
    the workers' memory every 100 ms."""
    if WRK is None:
        raise RuntimeError("wrk is not installed")
    plan_file = workdir / "plan.txt"
    plan_file.write_text("\n".join([f"KEY {secret}", *plan]) + "\n")
    pids = worker_pids(master_pid)
    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.1):
            samples.append(rss_mib(pids))

    start = rss_mib(pids)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out = subprocess.run(
            [WRK, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s",
             "-s", str(LUA), base, "--", str(plan_file)],
            capture_output=True, text=True, timeout=seconds + 60, check=True,
        ).stdout
    finally:
        stop.set()
        sampler.join()
    end = rss_mib(pids)
    requests, rate, errors, latency = parse_wrk(out)
    return LoadResult(seconds, requests, rate, errors, latency, round(start, 1), round(end, 1),
                      round(max(samples or [end]), 1), out)


def warm_up(base: str, plan: list[str], secret: str, rounds: int = 2) -> None:
    """Touch every request of the plan once or twice so caches and imports settle before
    memory is measured."""
    import urllib.request

    for _ in range(rounds):
        for line in plan:
            kind, path = line.split(" ", 1)
            headers = {"Authorization": f"Bearer {secret}"} if kind == "API" else {}
            request = urllib.request.Request(base + path, headers=headers)
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()


def timestamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def save(result: LoadResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"at": timestamp(), **result.as_json()}, indent=2) + "\n")
