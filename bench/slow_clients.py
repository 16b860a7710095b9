"""Slow clients (issue #5, targets): 4 KiB downloads under wrk, unloaded and while four clients
each pull the big file at 1 MB/s, in stream mode and in accel mode. Each slow client is a plain
socket with a small receive buffer read through a token bucket, so the server's send really
waits on it, held for the measurement window only (docs/benchmarks.md says why that is enough).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from bench.common import FamilyResult, RunConfig, log
from bench.lab import Lab

MODES = {"stream": "service, stream", "accel": "service, accel behind nginx"}
RECV_BUFFER = 64 * 1024


class SlowClient(threading.Thread):
    """One client reading ``url`` at ``rate`` bytes/s until ``stop`` is set or ``deadline``."""

    def __init__(self, url: str, rate: int, deadline: float, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.rate, self.deadline, self.stop = url, rate, deadline, stop
        self.served = threading.Event()  # its first bytes came (or it failed)
        self.received, self.seconds, self.status_line, self.error = 0, 0.0, "", ""

    def run(self) -> None:
        parts = urlsplit(self.url)
        began = time.monotonic()
        try:
            with socket.socket() as sock:
                # A small receive buffer, set before connecting: the window the server may
                # fill stays small, so the server really waits on this reader.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
                sock.settimeout(10)
                sock.connect((parts.hostname or "127.0.0.1", parts.port or 80))
                sock.sendall(f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}"
                             "\r\nConnection: close\r\n\r\n".encode())
                while not self.stop.is_set() and time.monotonic() < self.deadline:
                    chunk = sock.recv(16 * 1024)
                    if not chunk:
                        break
                    if not self.status_line:
                        self.status_line = chunk.split(b"\r\n", 1)[0].decode("latin-1")
                        self.served.set()
                    self.received += len(chunk)
                    # Token bucket: never ahead of rate * elapsed.
                    ahead = self.received / self.rate - (time.monotonic() - began)
                    if ahead > 0:
                        self.stop.wait(ahead)
        except OSError as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.served.set()
            self.seconds = time.monotonic() - began


@contextmanager
def slow_clients(url: str, count: int, rate: int, window: float) -> Iterator[list[SlowClient]]:
    """``count`` slow clients in threads, each served and settled into its blocked send
    before the block runs, for a bounded ``window``."""
    stop = threading.Event()
    clients = [SlowClient(url, rate, time.monotonic() + window, stop) for _ in range(count)]
    for client in clients:
        client.start()
    try:
        for client in clients:
            client.served.wait(10)
            if not client.status_line.endswith("200 OK") or client.error:
                raise RuntimeError(f"a slow client was not served: "
                                   f"{client.status_line or client.error}")
        time.sleep(0.5)  # let each connection settle into its blocked send
        yield clients
    finally:
        stop.set()
        for client in clients:
            client.join(15)


def run(lab: Lab, config: RunConfig, result: FamilyResult) -> None:
    big = lab.local_file("big")
    window = config.wrk_seconds + 2.0  # settling (0.5 s) and wrk, with a margin
    for mode, name in MODES.items():
        small_url, big_url = lab.url(mode, "small"), lab.url(mode, "big")
        for number in range(config.load_runs):
            unloaded = config.load(small_url)
            result.measurement(f"{mode}.unloaded", f"{name}, 4 KiB, no slow clients", "req/s"
                               ).add(unloaded.as_run())
            with slow_clients(big_url, config.slow_clients, config.slow_rate, window) as slow:
                loaded = config.load(small_url)
            rates = [c.received / c.seconds if c.seconds else 0.0 for c in slow]
            result.measurement(
                f"{mode}.loaded", f"{name}, 4 KiB, {config.slow_clients} clients pulling "
                f"{big.name} at {config.slow_rate / 1e6:g} MB/s", "req/s",
            ).add({**loaded.as_run(), "slow_clients": float(len(rates)),
                   "slow_min_bytes_s": min(rates),
                   "slow_bytes_total": float(sum(c.received for c in slow))})
            log(f"  run {number + 1}: {mode:<6} unloaded {unloaded.rps:8.0f} req/s, loaded "
                f"{loaded.rps:8.0f} req/s; slow clients at {min(rates) / 1e6:.2f}-"
                f"{max(rates) / 1e6:.2f} MB/s")
