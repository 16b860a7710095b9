"""Fixtures of the fault tests: a download in-process on a ``MemoryStorage`` that fails on
demand; one server of tests/faults/faultapp.py on a loopback port for the whole session; and a
private PostgreSQL server, initdb'd into a temporary directory, started on a free loopback
port, stopped and started at will (the machine's shared server is never touched; PostgreSQL
refuses to run as root, so it runs as the ``postgres`` user where the tests run as root)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from files_service import get_services
from files_service.services import Services
from files_service.storage import MemoryStorage
from tests.conftest import make_world, path_of, sample
from tests.faults.served import serve_faults
from tests.servers import Server, free_port

BIG = bytes(range(256)) * 4096  # 1 MiB: several storage chunks


@dataclass
class InProcess:
    """The app on a ``MemoryStorage`` holding ``BIG``, and the URL of it."""

    client: FlaskClient
    services: Services
    storage: MemoryStorage
    url: str

    def downloads(self, outcome: str) -> float:
        return sample(self.services, "files_downloads_total", outcome=outcome)


@pytest.fixture
def in_process(make_app: Callable[..., Flask]) -> InProcess:
    storage = MemoryStorage()
    app = make_app(storage=storage)
    services = get_services(app)
    world = make_world(services, content=BIG)
    url = path_of(services.minter.mint(world.file, world.key).url)
    return InProcess(app.test_client(), services, storage, url)


@dataclass
class Faulty:
    """A faultapp server on local storage, and the URL of a file for each case (see
    tests.faults.served.serve_faults)."""

    server: Server
    urls: dict[str, str]


@pytest.fixture(scope="session")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faulty]:
    with serve_faults(tmp_path_factory.mktemp("faults")) as (server, urls):
        yield Faulty(server, urls)


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


@dataclass
class PrivatePostgres:
    bin: Path
    data: Path
    port: int
    user: str | None  # run the server as this user (None: as ourselves)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-w", "-t", "30", "-l", str(self.data / "log"),
            "-o", f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data}", "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "30", "-m", "immediate", "stop")


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    bin_dir = _pg_bin()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
    user = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run a server as")
        user = "postgres"
    # Not under pytest's tmp_path: that tree is private to root, and the server's user must
    # reach its data directory.
    root = Path(tempfile.mkdtemp(prefix="files-pg-"))
    try:
        root.chmod(0o755)
        if user:
            shutil.chown(root, user)
        server = PrivatePostgres(bin_dir, root / "data", free_port(), user)
        server._run(
            "initdb", "-D", str(server.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        server.start()
        try:
            yield server
        finally:
            try:
                server.stop()
            except subprocess.CalledProcessError:
                pass  # already stopped by the test
    finally:
        shutil.rmtree(root, ignore_errors=True)
