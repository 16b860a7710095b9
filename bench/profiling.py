"""``--profile``: where the time of a 4 KiB download goes. py-spy on the gunicorn workers
while wrk loads the 4 KiB stream URL (and while the S3 stream workers serve the big object),
summarised by area in two views: ``gil`` (threads holding the GIL: the Python CPU that caps a
worker) and ``wall`` (every thread not idle: also lock waits and system calls); pyinstrument of
the WSGI app in-process; the handler's parts timed alone; the peak allocations of an upload's
storage write. py-spy reads other processes' memory: it needs root or ``ptrace`` rights.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import MIB, ROOT, FamilyResult, RunConfig, log, read_and_discard, timed_rounds
from bench.downloads import caller, service_app
from bench.lab import S3_BUCKET, Lab
from bench.minting import JSON_API, batch_path
from tests.servers import BIN, Server, s3_client

# Areas of a worker's stacks, each matched by substrings of its frames (inclusive: a sample
# counts in every area one of whose frames it contains). Indented names are parts of the one
# above them.
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("gunicorn: parse the request", (
        "gunicorn/http/message.py", "gunicorn/http/parser.py", "gunicorn/http/unreader.py")),
    ("WSGI app call (DownloadDispatcher → DownloadApp)", ("DownloadDispatcher.__call__",)),
    ("  token verify", ("TokenService.verify",)),
    ("  registry cache (principal, file)", ("RegistryCache.",)),
    ("  storage open", ("LocalStorage.open", "S3Storage.open")),
    ("    of which os.path.realpath (key checks)", ("realpath (<frozen posixpath>",)),
    ("  delivery headers (ranges/conditions, disposition, caching, http_date)", (
        "files_service/delivery/", "http_date (werkzeug/http.py")),
    ("  metrics (prometheus_client)", ("prometheus_client/",)),
    ("gunicorn: send headers and body", (
        "Response.write (gunicorn", "Response.send_headers", "Response.sendfile",
        "Response.close (gunicorn")),
    ("  body iteration (storage reads)", ("CountingBody.__iter__",)),
    ("close the body (close the file)", ("CountingBody.close",)),
    ("access log (gunicorn Logger.access + redaction)", ("Logger.access (gunicorn",)),
    ("  of which waiting for the log handler's lock", ("Handler.acquire (logging",)),
    ("thread-pool hand-off (concurrent.futures, gthread queue)", (
        "PollableMethodQueue", "Future.set_result", "concurrent/futures/thread.py:81")),
    ("gthread main loop (poll, accept, keep-alive)", (
        "ThreadWorker.wait_for_and_dispatch_events", "ThreadWorker.accept",
        "ThreadWorker.murder_keepalived", "ThreadWorker.on_client_socket_readable")),
)


def summarise(raw: Path) -> dict[str, Any]:
    """Shares of the workers' samples by area, and the top frames by self time."""
    total = 0
    areas: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        # A worker's stacks start with the master's process frame, then its own.
        if sum(f.startswith("process ") for f in frames) < 2:
            continue
        frames = [f for f in frames if not f.startswith("process ")]
        n = int(count)
        total += n
        own[frames[-1] if frames else "<no Python frame>"] += n
        joined = ";".join(frames)
        for name, needles in AREAS:
            if any(needle in joined for needle in needles):
                areas[name] += n
    share = (lambda n: round(n / total, 4)) if total else (lambda n: 0.0)
    return {
        "samples": total,
        "areas": [[name, share(areas[name])] for name, _ in AREAS],
        "top_self": [[frame, share(n)] for frame, n in own.most_common(15)],
    }


def run(lab: Lab, config: RunConfig, result: FamilyResult, out_dir: Path) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}

    def keep(kind: str, path: Path) -> None:
        """A profile written, listed in results.json relative to the repository (so that the
        results say nothing of the machine they were made on)."""
        resolved = path.resolve()
        files[kind] = str(resolved.relative_to(ROOT) if resolved.is_relative_to(ROOT)
                          else path.name)

    def spy(server: Server, stem: str, sessions: list[tuple[str, str]], seconds: int,
            load: Callable[[threading.Event], Any]) -> tuple[dict[str, Any], Any]:
        """py-spy ``sessions`` (view, format) of ``server``'s workers, one after the other,
        while ``load(stop)`` runs in a thread: the raw views summarised, what ``load`` gave."""
        stop = threading.Event()
        loaded: dict[str, Any] = {}
        summary: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: loaded.update(result=load(stop)))
        thread.start()
        try:
            time.sleep(1)
            for view, fmt in sessions:
                out = out_dir / f"{stem}.{view}.{'svg' if fmt == 'flamegraph' else 'txt'}"
                done = subprocess.run(
                    [str(BIN / "py-spy"), "record", "--subprocesses", "--nonblocking", "-p",
                     str(server.pid), "-d", str(seconds), "-r", "100", "-f", fmt, "-o",
                     str(out), *(["--gil"] if view == "gil" else [])],
                    capture_output=True, text=True, timeout=seconds + 60)
                if done.returncode != 0 or not out.exists():
                    result.notes.append(f"py-spy ({stem}, {view}, {fmt}) failed: "
                                        f"{done.stderr.strip()[-300:]}")
                    continue
                keep(f"py-spy {stem} {view} {fmt}", out)
                if fmt == "raw":
                    summary[view] = summarise(out)
        finally:
            stop.set()
            thread.join()
        return summary, loaded.get("result")

    # The 4 KiB stream path under wrk: two raw views and the flamegraph.
    url, seconds = lab.url("stream", "small"), config.profile_seconds
    sessions = [("gil", "raw"), ("wall", "raw"), ("gil", "flamegraph")]
    py_spy, loaded = spy(lab.stream, "stream-4k", sessions, seconds, lambda stop: config.load(
        url, seconds=len(sessions) * (seconds + 2) + 2))
    if loaded is not None:
        py_spy["rps_under_profiler"] = loaded.rps
    # The S3 stream workers while the big object is downloaded again and again (the
    # big-s3-throughput path).
    s3_url = lab.s3_stream.base + lab.s3_file("big").url_path

    def downloads(stop: threading.Event) -> None:
        deadline = time.monotonic() + seconds + 30
        while not stop.is_set() and time.monotonic() < deadline:
            read_and_discard(s3_url)

    s3_stream, _ = spy(lab.s3_stream, "s3-stream", sessions[:2], max(3, seconds // 2),
                       downloads)

    def pyinstrument(stem: str, call: Callable[[], object]) -> None:
        from pyinstrument import Profiler

        call()
        profiler, calls = Profiler(interval=0.0001), 0
        deadline = time.monotonic() + (3 if not config.quick else 0.5)
        profiler.start()
        while time.monotonic() < deadline:
            call()
            calls += 1
        profiler.stop()
        html, text = out_dir / f"{stem}.pyinstrument.html", out_dir / f"{stem}.pyinstrument.txt"
        html.write_text(profiler.output_html())
        text.write_text(profiler.output_text(unicode=True, color=False))
        keep(f"pyinstrument {stem} html", html)
        keep(f"pyinstrument {stem} text", text)
        log(f"  pyinstrument: {calls} calls of {stem} profiled -> {text}")

    in_process(lab, config, result, pyinstrument)
    write_memory(lab, config, result)
    return {"files": files, "py_spy": py_spy, "s3_stream": s3_stream}


def in_process(lab: Lab, config: RunConfig, result: FamilyResult,
               pyinstrument: Callable[[str, Callable[[], object]], None]) -> None:
    """pyinstrument over many in-process calls of the service's WSGI app (a 4 KiB stream
    download, one API retrieval and the batch of the API), which are timed too; and each part
    of the 4 KiB stream path timed alone (µs per call)."""
    from werkzeug.http import http_date

    from files_service import get_services
    from files_service.delivery import cache_control, content_disposition, evaluate

    app: Any = service_app(lab)
    stored = lab.local_file("small")
    whole = caller(app, "http://127.0.0.1" + stored.url_path)
    pyinstrument("download-4k", whole)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {lab.local.key_secret}", "Accept": JSON_API}
    ids = lab.batch_ids
    for stem, path in {"api-batch": batch_path(ids), "api-single": f"/api/v1/files/{ids[0]}"
                       }.items():

        def get(path: str = path) -> int:
            response = client.get(path, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"in-process GET {path[:40]} answered {response.status}")
            return len(response.data)

        pyinstrument(stem, get)
        timed_rounds(result, f"part.{stem}", f"{stem}: one request, in-process (Flask test "
                     "client)", "µs", config, get, config.inproc_seconds * 2)

    services = get_services(app)
    token = stored.url_path.split("access_token=", 1)[1]
    file = services.cache.file(stored.id)
    assert file is not None

    def storage_roundtrip() -> int:
        stream = services.storage.open(file.storage_key, 0, None)
        try:
            return sum(len(c) for c in stream)
        finally:
            stream.close()

    def delivery_headers() -> object:
        evaluate(method="GET", size=file.byte_size, etag=f'"{file.checksum}"',
                 last_modified=file.created_at, range_header=None, if_range=None,
                 if_none_match=None, if_modified_since=None)
        content_disposition(file.filename, "inline")
        cache_control(int(time.time()) + 3600, time.time(), mode="private")
        return http_date(int(file.created_at))

    key_path = str(lab.local.local_root) + "/" + file.storage_key
    def count_download() -> None:
        services.metrics.downloads.labels("ok").inc()
        services.metrics.bytes_sent.inc(4096)

    parts: dict[str, tuple[str, Callable[[], object]]] = {
        "whole": ("the whole WSGI call (4 KiB, stream)", whole),
        "verify": ("TokenService.verify",
                   lambda: services.tokens.verify(token, filename=stored.name)),
        "cache": ("RegistryCache.principal + .file (hits)",
                  lambda: (services.cache.principal(lab.local.key_id),
                           services.cache.file(stored.id))),
        "storage": ("LocalStorage.open + read 4 KiB + close", storage_roundtrip),
        "realpath": ("of which os.path.realpath of the key", lambda: os.path.realpath(key_path)),
        "headers": ("evaluate + content_disposition + cache_control + http_date",
                    delivery_headers),
        "metrics": ("two prometheus counter increments", count_download),
    }
    for name, (label, call) in parts.items():
        timed_rounds(result, f"part.{name}", label, "µs", config, call)


def write_memory(lab: Lab, config: RunConfig, result: FamilyResult) -> None:
    """Peak Python allocations (tracemalloc) of each storage's ``write`` of a 64 MiB upload
    fed in the upload decoder's 64 KiB pieces: what the worker's RSS growth is made of."""
    import tracemalloc

    from files_service.storage import LocalStorage, S3Storage

    size, piece = (64 * MIB if not config.quick else 16 * MIB), bytes(64 * 1024)
    for name, storage in (
        ("local", LocalStorage(lab.workdir / "write-memory")),
        ("s3", S3Storage(S3_BUCKET, "write-memory", client=s3_client(lab.moto.base))),
    ):
        storage.write("warm", iter([piece] * 16))
        tracemalloc.start()
        try:
            storage.write("probe", iter([piece] * (size // len(piece))))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        storage.delete("probe")
        storage.delete("warm")
        result.measurement(
            f"write.{name}", f"{type(storage).__name__}.write of {size // MIB} MiB: peak "
            "Python allocations (tracemalloc)", "MiB",
        ).add({"peak_mib": peak / MIB})
