"""Downloads under wrk (issue #5 §2): 4 KiB and 1 MiB files, requests/s and latency, for the
service in ``stream`` mode, in ``accel`` mode behind nginx, the naive app and nginx
``secure_link`` (the practical limit), all serving the very same files on disk; and, for
context, one WSGI call in-process of the service's handler and of the naive app.
docs/benchmarks.md says how each is measured.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from bench import baselines
from bench.common import FamilyResult, RunConfig, log, timed_rounds, wrk_rounds
from bench.lab import SIGNING_SECRET, Lab

SERVERS = {
    "stream": "service, stream",
    "accel": "service, accel behind nginx",
    "naive": "naive Flask + send_file",
    "nginx": "nginx secure_link + sendfile",
}
SIZES = ("small", "medium")


def run(lab: Lab, config: RunConfig, result: FamilyResult) -> None:
    urls = {(server, label): lab.url(server, label) for label in SIZES for server in SERVERS}
    masters = {"stream": ["stream"], "accel": ["accel", "nginx"], "naive": ["naive"],
               "nginx": ["nginx"]}
    wrk_rounds(lab, config, result, urls, SERVERS, masters)
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

    env = {k: v for k, v in lab.local.env().items() if k.startswith("FILES_")}
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
        key = f"wsgi.{server}.small"
        timed_rounds(result, key, f"{SERVERS[server]}: one WSGI call in-process, 4 KiB",
                     "µs/request", config, call)
        log(f"  in-process {server}: {result.measurements[key].median('us'):.1f} µs/request")
