"""Slow clients (issue #5, targets): 4 KiB downloads under wrk, unloaded and while four clients
each pull the big file at 1 MB/s, in stream mode and in accel mode.

The slow clients hold their connections open for the measurement window only (wrk's duration
plus a second to settle), not for the whole file: 1 GiB at 1 MB/s would take 17 minutes each.
What matters is that each holds a server connection that is mid-response and blocked on a slow
reader for the whole window, which a window shows as well as the whole file would. Each client
is a plain socket with a small receive buffer, reading at 1 MB/s with a token bucket, so the
server's send blocks as it would for a real slow client.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from bench import wrk
from bench.common import FamilyResult, RunConfig, log
from bench.lab import Lab

MODES = {"stream": "service, stream", "accel": "service, accel behind nginx"}
RECV_BUFFER = 64 * 1024
READ_SIZE = 16 * 1024


@dataclass
class SlowClient:
    """One client reading ``url`` at ``rate`` bytes/s until told to stop or ``deadline``."""

    url: str
    rate: int
    deadline: float
    received: int = 0
    status_line: str = ""
    seconds: float = 0.0
    error: str = ""

    def run(self, stop: threading.Event, started: threading.Event) -> None:
        parts = urlsplit(self.url)
        began = time.monotonic()
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # A small receive buffer, set before connecting: the window the server may fill
            # stays small, so the server really waits on this reader.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
            sock.settimeout(10)
            sock.connect((parts.hostname or "127.0.0.1", parts.port or 80))
            target = f"{parts.path}?{parts.query}" if parts.query else parts.path
            sock.sendall(
                f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n"
                .encode()
            )
            with sock:
                while not stop.is_set() and time.monotonic() < self.deadline:
                    chunk = sock.recv(READ_SIZE)
                    if not chunk:
                        break
                    if not self.status_line:
                        self.status_line = chunk.split(b"\r\n", 1)[0].decode("latin-1")
                        started.set()
                    self.received += len(chunk)
                    # Token bucket: never ahead of rate * elapsed.
                    ahead = self.received / self.rate - (time.monotonic() - began)
                    if ahead > 0:
                        stop.wait(ahead)
        except OSError as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            started.set()
            self.seconds = time.monotonic() - began


class SlowClients:
    """``count`` slow clients in threads, for a bounded window."""

    def __init__(self, url: str, count: int, rate: int, window: float) -> None:
        deadline = time.monotonic() + window
        self.clients = [SlowClient(url, rate, deadline) for _ in range(count)]
        self.stop = threading.Event()
        self.started = [threading.Event() for _ in self.clients]
        self.threads = [
            threading.Thread(
                target=c.run, args=(self.stop, s), name=f"slow-client-{i}", daemon=True
            )
            for i, (c, s) in enumerate(zip(self.clients, self.started, strict=True))
        ]

    def __enter__(self) -> SlowClients:
        for thread in self.threads:
            thread.start()
        for started in self.started:
            started.wait(10)
        bad = [c for c in self.clients if not c.status_line.endswith("200 OK") or c.error]
        if bad:
            self.__exit__()
            why = bad[0].status_line or bad[0].error
            raise RuntimeError(f"a slow client was not served: {why}")
        time.sleep(0.5)  # let each connection settle into its blocked send
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(15)

    def rates(self) -> list[float]:
        return [c.received / c.seconds if c.seconds else 0.0 for c in self.clients]


def run(lab: Lab, config: RunConfig, result: FamilyResult) -> None:
    big = lab.local_file("big")
    window = config.wrk_seconds + 2.0  # settling (0.5 s) and wrk, with a margin
    for mode, name in MODES.items():
        small_url = lab.url(mode, "small")
        big_url = lab.url(mode, "big")
        for number in range(config.load_runs):
            unloaded = wrk.run(
                small_url, seconds=config.wrk_seconds, threads=config.wrk_threads,
                connections=config.wrk_connections,
            )
            result.measurement(f"{mode}.unloaded", f"{name}, 4 KiB, no slow clients", "req/s").add(
                unloaded.as_run()
            )
            with SlowClients(big_url, config.slow_clients, config.slow_rate, window) as slow:
                loaded = wrk.run(
                    small_url, seconds=config.wrk_seconds, threads=config.wrk_threads,
                    connections=config.wrk_connections,
                )
            rates = slow.rates()
            run_figures = loaded.as_run()
            run_figures.update(
                slow_clients=float(len(rates)),
                slow_min_bytes_s=min(rates),
                slow_bytes_total=float(sum(c.received for c in slow.clients)),
            )
            result.measurement(
                f"{mode}.loaded",
                f"{name}, 4 KiB, {config.slow_clients} clients pulling {big.name} at "
                f"{config.slow_rate / 1e6:g} MB/s",
                "req/s",
            ).add(run_figures)
            log(f"  run {number + 1}: {mode:<6} unloaded {unloaded.rps:8.0f} req/s, "
                f"loaded {loaded.rps:8.0f} req/s; slow clients at "
                f"{min(rates) / 1e6:.2f}-{max(rates) / 1e6:.2f} MB/s")
