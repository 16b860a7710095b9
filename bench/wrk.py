"""wrk as the load generator: ``wrk -t2 -c32 -d<N>s --latency URL``, its report parsed into
requests/s and the p50/p99 latencies. A run that saw any non-2xx/3xx answer is refused: it would
be measuring the speed of an error page."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import asdict, dataclass

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_SIZE = {"B": 1 / 2**20, "KB": 1 / 2**10, "MB": 1.0, "GB": 2**10, "TB": 2**20}
_LATENCY = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_TRANSFER = re.compile(r"^Transfer/sec:\s+([\d.]+)(B|KB|MB|GB|TB)", re.M)
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", re.M)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


class WrkError(RuntimeError):
    pass


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    seconds: float
    transfer_mib_s: float
    non_2xx: int
    socket_errors: int

    def as_run(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def available() -> bool:
    return shutil.which("wrk") is not None


def parse(text: str) -> WrkResult:
    """The figures of a ``wrk --latency`` report."""
    rps = _RPS.search(text)
    total = _TOTAL.search(text)
    latencies = {
        m.group(1): float(m.group(2)) * _UNITS[m.group(3)] for m in _LATENCY.finditer(text)
    }
    if rps is None or total is None or "50" not in latencies or "99" not in latencies:
        raise WrkError(f"cannot read wrk's report:\n{text}")
    transfer = _TRANSFER.search(text)
    non_2xx = _NON_2XX.search(text)
    sockets = _SOCKET.search(text)
    return WrkResult(
        rps=float(rps.group(1)),
        p50_ms=latencies["50"],
        p99_ms=latencies["99"],
        requests=int(total.group(1)),
        seconds=float(total.group(2)) * _UNITS[total.group(3)] / 1e3,
        transfer_mib_s=float(transfer.group(1)) * _SIZE[transfer.group(2)] if transfer else 0.0,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in sockets.groups()) if sockets else 0,
    )


def run(url: str, *, seconds: int, threads: int = 2, connections: int = 32) -> WrkResult:
    """One bounded wrk run against ``url`` (loopback only)."""
    if not url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise WrkError(f"wrk is only ever pointed at loopback, not {url!r}")
    argv = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
        "--latency", url,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    if done.returncode != 0:
        raise WrkError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    result = parse(done.stdout)
    if result.non_2xx:
        raise WrkError(
            f"{result.non_2xx} of {result.requests} answers were not 2xx/3xx: the URL is "
            f"refused, not served (an expired token? see the server's log)"
        )
    return result
