"""Downloads under wrk (issue #5 §2): 4 KiB and 1 MiB files, ``wrk -t2 -c32``, requests/s and
p50/p99 latency, for

- the service in ``stream`` mode (gunicorn, 2 workers),
- the service in ``accel`` mode behind nginx,
- the naive Flask + ``send_file`` baseline under the same gunicorn settings,
- nginx ``secure_link`` + ``sendfile`` (the practical limit),

all serving the very same files on disk. Each run goes round every server before the next run
starts, so that a noisy moment touches them all. Also, for context, the cost of one WSGI call
in-process (no server, no sockets) of the service's handler and of the naive app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from bench import wrk
from bench.common import (
    CpuMeter,
    FamilyResult,
    RunConfig,
    calls_for,
    http_get,
    log,
    time_calls,
)
from bench.lab import Lab

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


def check(lab: Lab, url: str, size: int, server: str) -> None:
    """One GET must give 200 and the whole file before any load is put on the URL."""
    status, _, body = http_get(url)
    if status != 200 or len(body) != size:
        raise RuntimeError(
            f"{server}: GET answered {status} with {len(body)} of {size} bytes; "
            f"log: {lab.server_log(server)}"
        )


def run(lab: Lab, config: RunConfig, result: FamilyResult) -> None:
    urls = {(server, label): lab.url(server, label) for label in SIZES for server in SERVERS}
    for (server, label), url in urls.items():
        check(lab, url, lab.size_of(label), server)
    result.notes.append(f"The accel front's nginx configuration: {lab.nginx.accel_source}.")
    if not config.quick:
        for url in urls.values():  # warm-up: connections, caches, the page cache
            wrk.run(url, seconds=1, threads=config.wrk_threads, connections=config.wrk_connections)
    masters = {
        "stream": [lab.stream.process.pid],
        "accel": [lab.accel_backend.process.pid, lab.nginx.process.pid],
        "naive": [lab.naive.process.pid],
        "nginx": [lab.nginx.process.pid],
    }
    for number in range(config.load_runs):
        for label in SIZES:
            for server, name in SERVERS.items():
                with CpuMeter(masters[server]) as cpu:
                    got = wrk.run(
                        urls[(server, label)], seconds=config.wrk_seconds,
                        threads=config.wrk_threads, connections=config.wrk_connections,
                    )
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
                result.measurement(
                    f"{server}.{label}", f"{name}, {human(lab.size_of(label))}", "req/s"
                ).add(figures)
                log(f"  run {number + 1}: {server:<6} {human(lab.size_of(label)):>7} "
                    f"{got.rps:9.0f} req/s  p50 {got.p50_ms:6.2f} ms  p99 {got.p99_ms:6.2f} ms"
                    f"  server CPU {figures['server_cpu_us']:6.0f} µs/req "
                    f"({figures['server_cores']:.2f} cores, busiest worker "
                    f"{figures['busiest_worker_share']:.0%})")
    in_process(lab, config, result)


# -- one WSGI call, in-process -------------------------------------------------------------------


def _caller(app: Callable[..., Iterable[bytes]], url: str) -> Callable[[], int]:
    from werkzeug.test import EnvironBuilder

    parts = urlsplit(url)
    template = EnvironBuilder(
        path=parts.path, query_string=parts.query, base_url="http://127.0.0.1/"
    ).get_environ()

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
        if not status.startswith("200"):
            raise RuntimeError(f"in-process call answered {status}")

    def call() -> int:
        body = app(dict(template), start_response)
        total = 0
        try:
            for chunk in body:
                total += len(chunk)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        return total

    return call


def service_app(lab: Lab) -> Callable[..., Iterable[bytes]]:
    """The service's WSGI app, built in this process on the local data set, stream mode."""
    from files_service import create_app
    from files_service.settings import Settings

    env = lab.local.env
    env["FILES_DELIVERY"] = "stream"
    app: Callable[..., Iterable[bytes]] = create_app(Settings.from_env(env))
    return app


def in_process(lab: Lab, config: RunConfig, result: FamilyResult) -> None:
    """µs per request of the WSGI app alone: what is left when gunicorn, sockets and wrk are
    taken away, for the service's handler and for the naive app."""
    from bench.baselines import naive_flask
    from bench.servers import SIGNING_SECRET

    local_root = lab.local.local_root
    assert local_root is not None
    stored = lab.local_file("small")
    apps = {
        "stream": (service_app(lab), "http://127.0.0.1" + stored.url_path),
        "naive": (
            naive_flask.create_app(str(local_root), SIGNING_SECRET),
            lab.url("naive", "small"),
        ),
    }
    for server, (app, url) in apps.items():
        call = _caller(app, url)
        if call() != stored.size:
            raise RuntimeError(f"in-process {server} call did not return the whole file")
        number = calls_for(call, config.inproc_seconds)
        for _ in range(config.inproc_rounds):
            result.measurement(
                f"wsgi.{server}.small", f"{SERVERS[server]}: one WSGI call in-process, 4 KiB",
                "µs/request",
            ).add({"us": time_calls(call, number) * 1e6})
        log(f"  in-process {server}: {result.measurements[f'wsgi.{server}.small'].median('us'):.1f}"
            " µs/request")
