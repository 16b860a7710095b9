"""wrk (Debian's package) as the load generator of the load test and the benchmarks: one
bounded run against a loopback URL, its ``--latency`` report read into figures."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

WRK = shutil.which("wrk")
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_LATENCY = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", re.M)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


class WrkError(RuntimeError):
    pass


@dataclass(frozen=True)
class WrkResult:
    rps: float
    latency_ms: dict[str, float]  # p50, p75, p90, p99
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    report: str = field(repr=False, default="")

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors

    def as_run(self) -> dict[str, float]:
        """The figures of one run, flat, as the benchmarks record them."""
        flat = {k: float(v) for k, v in asdict(self).items()
                if isinstance(v, int | float)}
        return {**flat, **{f"{p}_ms": v for p, v in self.latency_ms.items()}}


def parse(report: str) -> WrkResult:
    """The figures of a ``wrk --latency`` report."""
    rps, total = _RPS.search(report), _TOTAL.search(report)
    latency = {f"p{m[1]}": float(m[2]) * _UNITS[m[3]] for m in _LATENCY.finditer(report)}
    if rps is None or total is None or not {"p50", "p99"} <= set(latency):
        raise WrkError(f"cannot read wrk's report:\n{report}")
    non_2xx, sockets = _NON_2XX.search(report), _SOCKET.search(report)
    return WrkResult(
        rps=float(rps[1]), latency_ms=latency, requests=int(total[1]),
        seconds=float(total[2]) * _UNITS[total[3]] / 1e3,
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(map(int, sockets.groups())) if sockets else 0, report=report,
    )


def run(url: str, *, seconds: int, threads: int = 2, connections: int = 32,
        script: Path | None = None, script_args: Sequence[str] = ()) -> WrkResult:
    """``wrk -t… -c… -d…s --latency url``, with a Lua ``script`` and its arguments if given;
    loopback only, bounded in time."""
    if WRK is None:
        raise WrkError("wrk is not installed (Debian package wrk)")
    if not url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise WrkError(f"wrk is only ever pointed at loopback, not {url!r}")
    argv = [WRK, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
            "--latency"]
    if script is not None:
        argv += ["-s", str(script)]
    argv += [url, *(["--", *script_args] if script_args else [])]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise WrkError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    return parse(done.stdout)
