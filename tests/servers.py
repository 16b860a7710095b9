"""Real servers on free loopback ports, for the tests and for the benchmarks alike.

``files-service serve`` (or a WSGI app wrapping the service, under the service's own gunicorn
settings) with its log in a file, nginx running the configurations of docs/delivery.md, and
what a test or a benchmark reads of them from ``/proc``. bench/ imports this module as
``tests.servers``: one set of helpers, so that the benchmarks run the very servers, settings
and nginx configurations the end-to-end tests prove. No pytest here, and nothing that is not
in requirements-dev.txt.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from files_service.clock import Clock
    from files_service.services import Services
    from files_service.storage import Storage

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STRONG_KEYS = "e2e:" + "e" * 40
DELIVERY_DOC = REPO / "docs" / "delivery.md"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
)
# What a server needs to reach a moto server as S3 (and nothing of a developer's own AWS set-up).
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def s3_client(endpoint: str | None) -> Any:
    """A boto3 client of an S3 endpoint (a moto server) with the dummy credentials of
    ``AWS_ENV``, path-style, reading no environment."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        region_name=AWS_ENV["AWS_DEFAULT_REGION"],
    )
    return session.client("s3", endpoint_url=endpoint, config=Config(
        s3={"addressing_style": "path"}, signature_version="s3v4"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without any ``FILES_``, ``PROMETHEUS`` or ``AWS_`` setting
    of the developer's, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FILES_", "PROMETHEUS", "AWS_"))}
    env.update(overrides)
    return env


def spawn(argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None
          ) -> subprocess.Popen[bytes]:
    """``argv`` in the background from the repository, its output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            list(argv), env=None if env is None else dict(env), cwd=REPO, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """Stop a server: politely (its own workers with it), then for good after 20 s."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _fail(proc: subprocess.Popen[bytes], log: Path, why: str) -> RuntimeError:
    stop_process(proc)
    return RuntimeError(f"{why}:\n{log.read_text(errors='replace')[-4000:]}")


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, seconds: float = 30
                  ) -> None:
    """Until something accepts connections on the loopback ``port``; else stop ``proc`` and
    fail with its log."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise _fail(proc, log, "the process exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)  # polling for a port to open; no test time depends on it
    raise _fail(proc, log, f"nothing listens on port {port}")


def wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float = 30
                  ) -> None:
    """Until ``url`` answers, whatever the status; else stop ``proc`` and fail with its log."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise _fail(proc, log, "the server exited early")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError as answered:
            answered.close()
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)  # polling for a port to open; no test time depends on it
    raise _fail(proc, log, "the server did not come up")


# -- the service -------------------------------------------------------------------------------


@dataclass
class Server:
    """``files-service serve`` on ``base``, its settings in ``env``, its output in ``log``."""

    base: str
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    @property
    def pid(self) -> int:
        """The process ID of the running server (gunicorn's master)."""
        assert self.proc is not None, f"{self.base} is not running"
        return self.proc.pid

    def cli(self, *args: str, check: bool = True, timeout: float = 120
            ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(BIN / "files-service"), *args], env=self.env, capture_output=True, text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"files-service {' '.join(args)} failed:\n{result.stderr}")
        return result

    def cli_json(self, *args: str, timeout: float = 120) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.cli(*args, "--json", timeout=timeout).stdout)
        return document

    def start(self, workers: int = 1, *, wsgi: str | None = None,
              options: Sequence[str] = ()) -> None:
        """``files-service serve``; or, with ``wsgi`` (``module:attribute``), gunicorn with the
        service's own gunicorn settings, changed by ``options``, on that app."""
        if wsgi is None:
            argv = [str(BIN / "files-service"), "serve", "--bind", self.base[7:],
                    "--workers", str(workers)]
        else:
            argv = [sys.executable, "-m", "gunicorn", "-c", "python:files_service.gunicorn_conf",
                    *options, "--bind", self.base[7:], "--workers", str(workers), wsgi]
        self.proc = spawn(argv, self.log, self.env)
        wait_until_up(self.base + "/healthz", self.proc, self.log)

    def services(self, *, clock: Clock | None = None, storage: Storage | None = None
                 ) -> Services:
        """The service's parts in this process, on the server's database and storage."""
        from files_service.services import build_services
        from files_service.settings import Settings

        settings = Settings.from_env({k: v for k, v in self.env.items() if k.startswith("FILES_")})
        return build_services(settings, clock=clock, storage=storage)

    def stop(self) -> str:
        """Stop it; what it logged."""
        stop_process(self.proc)
        self.proc = None
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def server_env(root: Path, port: int, **overrides: str) -> dict[str, str]:
    """Settings of a server on ``port`` with everything of its own under ``root``."""
    defaults = {
        "FILES_DATABASE_URL": f"sqlite:///{root / 'files.db'}",
        "FILES_STORAGE": f"local://{root / 'objects'}",
        "FILES_SIGNING_KEYS": STRONG_KEYS,
        "FILES_VAR_DIR": str(root / "var"),
        "FILES_API_BASE_URL": f"http://127.0.0.1:{port}",
        "FILES_DOWNLOAD_BASE_URL": f"http://127.0.0.1:{port}",
        "PYTHONPATH": str(REPO),
    }
    return clean_env(**{**defaults, **overrides})


def new_server(root: Path, **overrides: str) -> Server:
    """A server on a free port with its schema made (``files-service init``), not started."""
    port = free_port()
    server = Server(f"http://127.0.0.1:{port}", server_env(root, port, **overrides),
                    root / f"server-{port}.log")
    server.cli("init")
    return server


# -- nginx ---------------------------------------------------------------------------------------


def delivery_doc_config(name: str) -> str:
    """The nginx configuration block marked ``<!-- nginx-config: NAME -->`` in
    docs/delivery.md: the tests and the benchmarks run what the documentation says."""
    text = DELIVERY_DOC.read_text()
    marker = f"<!-- nginx-config: {name} -->"
    assert marker in text, f"{marker} is missing from {DELIVERY_DOC}"
    return text.split(marker, 1)[1].split("```nginx\n", 1)[1].split("```", 1)[0]


def documented_server(name: str, port: int, replacements: Mapping[str, str]) -> str:
    """The docs/delivery.md block ``name`` listening on ``127.0.0.1:port``, its example
    addresses and paths replaced (each must be there)."""
    block = delivery_doc_config(name).replace("listen 80;", f"listen 127.0.0.1:{port};")
    for example, actual in replacements.items():
        assert example in block, f"{example!r} is not in the {name} configuration"
        block = block.replace(example, actual)
    return block


@dataclass
class Nginx:
    base: str  # of the first port
    prefix: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


def start_nginx(prefix: Path, servers: str, ports: Sequence[int], *, workers: str = "1",
                access_log: bool = True) -> Nginx:
    """Debian's nginx in the foreground with everything of its own under ``prefix`` (and
    docs/delivery.md's ``snippets/files-headers.conf``), serving the ``http``-level text
    ``servers``; back once each of ``ports`` accepts connections."""
    assert NGINX is not None, "nginx is not installed (Debian package nginx)"
    temp = prefix / "temp"
    temp.mkdir(parents=True)
    (prefix / "snippets").mkdir()
    (prefix / "snippets" / "files-headers.conf").write_text(delivery_doc_config("files-headers"))
    (prefix / "nginx.conf").write_text(f"""
# As root, nginx would run its workers as nobody, who cannot read private temporary folders.
{"user root;" if os.geteuid() == 0 else ""}
worker_processes {workers};
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {f"{prefix}/access.log" if access_log else "off"};
    default_type application/octet-stream;
    client_body_temp_path {temp}/client;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
{servers}
}}
""")
    log = prefix / "stderr.log"
    proc = spawn([NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                  "-e", str(prefix / "error.log"), "-g", f"daemon off; pid {prefix}/nginx.pid;"],
                 log)
    for port in ports:
        wait_for_port(port, proc, log)
    return Nginx(f"http://127.0.0.1:{ports[0]}", prefix, proc)


# -- the front tier (files-service edge-config) -------------------------------------------------

# Debian's libnginx-mod-http-js, which the generated configuration loads.
JS_MODULE = Path("/usr/lib/nginx/modules/ngx_http_js_module.so")


def edge_config(env: dict[str, str], out: Path, *args: str
                ) -> subprocess.CompletedProcess[str]:
    """``files-service edge-config --out OUT ARGS`` with the service's environment."""
    return subprocess.run(
        [str(BIN / "files-service"), "edge-config", "--out", str(out), *args],
        env=env, capture_output=True, text=True, timeout=120, cwd=REPO,
    )


@dataclass
class Edge:
    """One nginx running a generated configuration."""

    prefix: Path
    base: str
    internal: str
    proc: subprocess.Popen[bytes] | None = None

    def logs(self) -> str:
        """Everything nginx wrote under its prefix: logs and its own stderr."""
        parts = []
        for path in [*sorted((self.prefix / "logs").glob("*")), self.prefix / "stderr.log"]:
            if path.is_file():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def access_lines(self) -> list[str]:
        path = self.prefix / "logs" / "access.log"
        return path.read_text(errors="replace").splitlines() if path.exists() else []

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


def start_edge(prefix: Path, env: dict[str, str], *args: str) -> Edge:
    """``files-service edge-config`` into ``prefix`` (a public and an internal listener on
    free loopback ports, ``args`` on top) and Debian's nginx on it, in the foreground."""
    port, internal = free_port(), free_port()
    result = edge_config(
        env, prefix, "--listen", f"127.0.0.1:{port}", "--internal", f"127.0.0.1:{internal}",
        *args,
    )
    assert result.returncode == 0, result.stderr
    # As root, nginx would run its workers as nobody, who cannot read private temporary
    # folders (an operator gives nginx a user of their own).
    directives = "daemon off;" + (" user root;" if os.geteuid() == 0 else "")
    log = prefix / "stderr.log"
    assert NGINX is not None, "the front tier needs Debian's nginx"
    proc = spawn([NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", directives],
                 log)
    edge = Edge(prefix, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{internal}", proc)
    try:
        wait_for_port(port, proc, log)
        wait_for_port(internal, proc, log)
    except RuntimeError:
        edge.stop()
        raise
    return edge


# -- what a server's processes hold (Linux /proc) ----------------------------------------------


def worker_pids(master: int) -> list[int]:
    """The children of ``master``: gunicorn's workers, nginx's."""
    found: set[int] = set()
    try:
        tasks = list(Path(f"/proc/{master}/task").iterdir())
    except OSError:
        return []
    for task in tasks:
        try:
            found.update(int(pid) for pid in (task / "children").read_text().split())
        except OSError:
            continue
    return sorted(found)


def rss_bytes(pid: int) -> int | None:
    """The resident set size of ``pid`` (``VmRSS``), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds ``pid`` has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime and stime are fields 14 and 15 of stat(5); fields[0] here is field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RssSampler:
    """The RSS of every worker of ``master``, sampled every ``interval`` seconds in a thread
    over a ``with`` block: at the start (``first``), at the end (``last``), the peak of each
    worker and of their sum; and the CPU seconds the workers used meanwhile (``cpu``)."""

    def __init__(self, master: int, interval: float = 0.05) -> None:
        self.workers = worker_pids(master)
        self.interval = interval
        self.cpu = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _rss(self) -> dict[int, int]:
        return {pid: rss_bytes(pid) or 0 for pid in self.workers}

    def __enter__(self) -> RssSampler:
        self.first = self.last = self._rss()
        self.peak, self.peak_total = dict(self.first), sum(self.first.values())
        self._cpu = {pid: cpu_seconds(pid) for pid in self.workers}
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.cpu = sum(cpu_seconds(pid) - used for pid, used in self._cpu.items())

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        self.last = self._rss()
        self.peak = {pid: max(self.peak[pid], rss) for pid, rss in self.last.items()}
        self.peak_total = max(self.peak_total, sum(self.last.values()))

    @property
    def growth(self) -> int:
        """The largest rise of any one worker over its RSS at the start: the memory a request
        cost the worker that served it."""
        return max((self.peak[pid] - self.first[pid] for pid in self.workers), default=0)
