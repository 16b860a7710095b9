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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bench.common import FamilyResult, RunConfig, log
from bench.lab import Lab

MODES = {"stream": "service, stream", "accel": "service, accel behind nginx"}
RECV_BUFFER = 64 * 1024


@dataclass
class SlowClient:
    """One client reading ``url`` at ``rate`` bytes/s until told to stop or ``deadline``."""

    url: str
    rate: int
    deadline: float
    started: threading.Event = field(default_factory=threading.Event)  # its first bytes came
    received: int = 0
    status_line: str = ""
    seconds: float = 0.0
    error: str = ""

    def run(self, stop: threading.Event) -> None:
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
                while not stop.is_set() and time.monotonic() < self.deadline:
                    chunk = sock.recv(16 * 1024)
                    if not chunk:
                        break
                    if not self.status_line:
                        self.status_line = chunk.split(b"\r\n", 1)[0].decode("latin-1")
                        self.started.set()
                    self.received += len(chunk)
                    # Token bucket: never ahead of rate * elapsed.
                    ahead = self.received / self.rate - (time.monotonic() - began)
                    if ahead > 0:
                        stop.wait(ahead)
        except OSError as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.started.set()
            self.seconds = time.monotonic() - began


@contextmanager
def slow_clients(url: str, count: int, rate: int, window: float) -> Iterator[list[SlowClient]]:
    """``count`` slow clients in threads, each served and settled into its blocked send
    before the block runs, for a bounded ``window``."""
    deadline = time.monotonic() + window
    clients = [SlowClient(url, rate, deadline) for _ in range(count)]
    stop = threading.Event()
    threads = [threading.Thread(target=c.run, args=(stop,), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    try:
        for client in clients:
            client.started.wait(10)
        for client in clients:
            if not client.status_line.endswith("200 OK") or client.error:
                why = client.status_line or client.error
                raise RuntimeError(f"a slow client was not served: {why}")
        time.sleep(0.5)  # let each connection settle into its blocked send
        yield clients
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)


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
