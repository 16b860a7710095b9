"""Downloads under wrk (issue #5 §2): 4 KiB and 1 MiB files, ``wrk -t2 -c32``, requests/s and
p50/p99 latency, for the service in ``stream`` mode, the service in ``accel`` mode behind
nginx, the naive app under the same gunicorn settings, and nginx ``secure_link`` +
``sendfile`` (the practical limit), all serving the very same files on disk. Each run goes
round every server before the next run starts, so that a noisy moment touches them all.
Also, for context, the cost of one WSGI call in-process (no server, no sockets) of the
service's handler and of the naive app.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from bench import baselines
from bench.common import CpuMeter, FamilyResult, RunConfig, calls_for, log, time_calls
from bench.lab import SIGNING_SECRET, Lab

SERVERS = {
    "stream": "service, stream",
    "accel": "service, accel behind nginx",
    "naive": "naive Flask + send_file",
    "nginx": "nginx secure_link + sendfile",
}
SIZES = ("small", "medium")


def human(size: int) -> str:
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} B"


def run(lab: Lab, config: RunConfig, result: FamilyResult) -> None:
    urls = {(server, label): lab.url(server, label) for label in SIZES for server in SERVERS}
    for (server, label), url in urls.items():
        # One GET must give 200 and the whole file before any load is put on the URL.
        with urllib.request.urlopen(url, timeout=30) as response:
            size = len(response.read())
        if size != lab.size_of(label):
            raise RuntimeError(f"{server}: GET gave {size} of {lab.size_of(label)} bytes")
    if not config.quick:
        for url in urls.values():  # warm-up: connections, caches, the page cache
            config.load(url, seconds=1)
    masters = {"stream": ["stream"], "accel": ["accel", "nginx"], "naive": ["naive"],
               "nginx": ["nginx"]}
    for number in range(config.load_runs):
        for label in SIZES:
            for server, name in SERVERS.items():
                with CpuMeter([lab.pid(m) for m in masters[server]]) as cpu:
                    got = config.load(urls[(server, label)])
                figures = got.as_run()
                figures.update(
                    # CPU per request of the server's processes, and of wrk itself; and how
                    # many of the machine's cores the server kept busy.
                    server_cpu_us=cpu.server / max(got.requests, 1) * 1e6,
                    wrk_cpu_us=cpu.client / max(got.requests, 1) * 1e6,
                    server_cores=cpu.server / got.seconds,
                    # Of the (first) server's workers' CPU, the share of the busiest: 0.5 is
                    # an even spread over two workers, 1.0 one worker doing everything.
                    busiest_worker_share=cpu.busiest_share,
                )
                size = human(lab.size_of(label))
                result.measurement(f"{server}.{label}", f"{name}, {size}", "req/s").add(figures)
                log(f"  run {number + 1}: {server:<6} {size:>7} {got.rps:9.0f} req/s  "
                    f"p50 {figures['p50_ms']:6.2f} ms  p99 {figures['p99_ms']:6.2f} ms  server "
                    f"CPU {figures['server_cpu_us']:6.0f} µs/req ({figures['server_cores']:.2f} "
                    f"cores, busiest worker {figures['busiest_worker_share']:.0%})")
    in_process(lab, config, result)


def caller(app: Callable[..., Iterable[bytes]], url: str) -> Callable[[], int]:
    """A zero-argument call of the WSGI ``app`` for ``url`` that reads the whole body."""
    from werkzeug.test import EnvironBuilder

    parts = urlsplit(url)
    template = EnvironBuilder(path=parts.path, query_string=parts.query,
                              base_url="http://127.0.0.1/").get_environ()

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
        if not status.startswith("200"):
            raise RuntimeError(f"in-process call answered {status}")

    def call() -> int:
        body = app(dict(template), start_response)
        try:
            return sum(len(chunk) for chunk in body)
        finally:
            getattr(body, "close", lambda: None)()

    return call


def service_app(lab: Lab) -> Any:
    """The service's WSGI app, built in this process on the local data set, stream mode."""
    from files_service import create_app
    from files_service.settings import Settings

    env = {k: v for k, v in lab.local.env.items() if k.startswith("FILES_")}
    return create_app(Settings.from_env({**env, "FILES_DELIVERY": "stream"}))


def in_process(lab: Lab, config: RunConfig, result: FamilyResult) -> None:
    """µs per request of the WSGI app alone: what is left when gunicorn, sockets and wrk are
    taken away, for the service's handler and for the naive app."""
    stored = lab.local_file("small")
    apps = {
        "stream": (service_app(lab), "http://127.0.0.1" + stored.url_path),
        "naive": (baselines.naive_app(lab.local.local_root, SIGNING_SECRET),
                  lab.url("naive", "small")),
    }
    for server, (app, url) in apps.items():
        call = caller(app, url)
        if call() != stored.size:
            raise RuntimeError(f"in-process {server} call did not return the whole file")
        number = calls_for(call, config.inproc_seconds)
        key = f"wsgi.{server}.small"
        for _ in range(config.inproc_rounds):
            result.measurement(key, f"{SERVERS[server]}: one WSGI call in-process, 4 KiB",
                               "µs/request").add({"us": time_calls(call, number) * 1e6})
        log(f"  in-process {server}: {result.measurements[key].median('us'):.1f} µs/request")
