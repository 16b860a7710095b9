"""Real servers on free loopback ports: ``files-service serve`` (gunicorn) with its own
settings, logs captured to a file so tests can read what an operator would see."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
STRONG_KEYS = "e2e:" + "e" * 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen, log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)  # polling for a port to open; no test time depends on it
    raise RuntimeError(f"server did not come up:\n{log.read_text()}")


@dataclass
class Server:
    base: str
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(BIN / "files-service"), *args], env=self.env, capture_output=True, text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"files-service {' '.join(args)} failed:\n{result.stderr}")
        return result

    def cli_json(self, *args: str) -> dict:
        return json.loads(self.cli(*args, "--json").stdout)

    def start(self, workers: int = 1) -> None:
        bind = self.base.removeprefix("http://")
        self.proc = subprocess.Popen(
            [str(BIN / "files-service"), "serve", "--bind", bind, "--workers", str(workers)],
            env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
        )
        wait_until_up(self.base + "/healthz", self.proc, self.log)

    def stop(self) -> str:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def server_env(tmp_path: Path, port: int, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FILES_", "PROMETHEUS"))}
    env.update(
        FILES_DATABASE_URL=f"sqlite:///{tmp_path / 'files.db'}",
        FILES_STORAGE=f"local://{tmp_path / 'objects'}",
        FILES_SIGNING_KEYS=STRONG_KEYS,
        FILES_VAR_DIR=str(tmp_path / "var"),
        FILES_API_BASE_URL=f"http://127.0.0.1:{port}",
        FILES_DOWNLOAD_BASE_URL=f"http://127.0.0.1:{port}",
    )
    env.update(overrides)
    return env


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator:
    made: list[Server] = []

    def make(**overrides: str) -> Server:
        port = free_port()
        server = Server(
            f"http://127.0.0.1:{port}", server_env(tmp_path, port, **overrides),
            tmp_path / f"server-{port}.log",
        )
        server.cli("init")
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()
