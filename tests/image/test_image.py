"""The image as an operator runs it (§8): it builds from a base named at build time, carries
no development state, runs as a non-root user with the workers it is told, answers /readyz and
a real download on the machine's PostgreSQL, and stops in one line on a bad setting.

Containers share the host's network (loopback only): the server binds a free loopback port,
given on its command line instead of the image's 0.0.0.0:8000."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.image.conftest import docker
from tests.registry.conftest import PG_ENV, PG_SKIP_REASON, isolated_postgres_url
from tests.servers import REPO, free_port

# The first test that needs the image pays for the base (debootstrap, about 3 minutes on a
# fresh machine) and the build (about 1 minute); later runs reuse both.
pytestmark = [pytest.mark.e2e, pytest.mark.image, pytest.mark.timeout(1200)]

STRONG_KEYS = "img:" + "i" * 40
IMAGE_USER = 10001  # the Dockerfile's `files`
EXIT_WITHIN = 120


def env_flags(variables: dict[str, str]) -> list[str]:
    return [arg for name, value in variables.items() for arg in ("-e", f"{name}={value}")]


def test_the_build_context_is_the_source_and_nothing_else(docker_daemon, tmp_path):
    """.dockerignore: no virtualenv, no var/ (the development signing key and database), no
    caches or VCS history reach the daemon, whatever lies in the working tree."""
    out = tmp_path / "context"
    docker("build", "-f", "-", "--output", f"type=local,dest={out}", str(REPO),
           input="FROM scratch\nCOPY . /\n", env={**os.environ, "DOCKER_BUILDKIT": "1"})
    top = sorted(p.name for p in out.iterdir())
    assert top == ["README.md", "files_service", "pyproject.toml", "requirements.lock",
                   "setup.cfg", "wsgi.py"]
    assert not [p for p in out.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(PG_SKIP_REASON)
    with isolated_postgres_url(base) as url:
        yield url


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def process_uid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:")))


def children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_the_image_serves_a_download_on_postgresql_as_a_non_root_user(
    image, postgres_url, tmp_path
):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    variables = {
        "FILES_DATABASE_URL": postgres_url, "FILES_SIGNING_KEYS": STRONG_KEYS,
        "FILES_API_BASE_URL": base, "FILES_DOWNLOAD_BASE_URL": base, "FILES_WORKERS": "3",
    }
    run = ["run", "--rm", "--network", "host", *env_flags(variables), image]
    docker(*run, "files-service", "init")
    name = f"files-service-test-{secrets.token_hex(4)}"
    docker("run", "-d", "--name", name, "--network", "host", *env_flags(variables), image,
           "files-service", "serve", "--bind", f"127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        while (status := get_or_none(base + "/readyz")) != 200:
            state = docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip()
            if state != "true" or time.monotonic() > deadline:
                pytest.fail(f"not ready ({status}):\n{docker('logs', name).stderr[-4000:]}")
            time.sleep(0.2)  # polling for the server to come up
        assert json.loads(get(base + "/readyz")[2])["checks"] == {
            "database": "ok", "storage": "ok"
        }

        main = int(docker("inspect", "-f", "{{.State.Pid}}", name).stdout)
        deadline = time.monotonic() + 30
        while len(workers := children(main)) != 3 and time.monotonic() < deadline:
            time.sleep(0.2)  # gunicorn forks its workers one after the other
        assert len(workers) == 3  # FILES_WORKERS
        assert {process_uid(pid) for pid in [main, *workers]} == {IMAGE_USER}

        def cli(*args: str, stdin: str | None = None) -> dict:
            result = docker("exec", "-i", name, "files-service", *args, "--json", input=stdin)
            return json.loads(result.stdout)

        org = cli("orgs", "create", "Acme")
        key = cli("keys", "create", "--org", org["id"])
        content = "quarterly report, made inside the container\n" * 100
        docker("exec", "-i", name, "sh", "-c", "cat > /tmp/report.txt", input=content)
        file = cli("upload", "/tmp/report.txt", "--org", org["id"])
        minted = cli("mint", file["id"], "--key", key["id"])
        assert minted["url"].startswith(base + "/report.txt?access_token=")
        status, headers, body = get(minted["url"])
        assert status == 200 and body == content.encode()
        assert headers["Content-Disposition"].startswith('inline; filename="report.txt"')
        assert get(minted["url"][:-4] + "AAAA")[0] == 403
    finally:
        logs = docker("logs", name, check=False)
        docker("rm", "-f", name, check=False)
    for secret in (minted["url"].split("access_token=")[1], STRONG_KEYS.split(":")[1]):
        assert secret not in logs.stdout + logs.stderr


def get_or_none(url: str) -> int | None:
    try:
        return get(url)[0]
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


@pytest.mark.parametrize("command", [
    [],  # the image's own command: files-service serve
    ["gunicorn", "-c", "python:files_service.gunicorn_conf", "--bind", "127.0.0.1:PORT",
     "wsgi:app"],
], ids=["image-command", "plain-gunicorn"])
@pytest.mark.parametrize("bad", [
    {"FILES_CDN_CACHE": "everywhere"},
    {"FILES_WORKERS": "0"},
    {"FILES_DATABASE_URL": "sqlite:////etc/hostname/files.db"},
], ids=["malformed", "workers", "sqlite-path-through-a-file"])
def test_a_bad_setting_stops_the_container_in_one_line(image, command, bad):
    command = [arg.replace("PORT", str(free_port())) for arg in command]
    try:
        result = docker(
            "run", "--rm", "--network", "host",
            *env_flags({"FILES_SIGNING_KEYS": STRONG_KEYS, **bad}), image, *command,
            timeout=EXIT_WITHIN, check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the container still runs after {EXIT_WITHIN} s")
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, result.stderr
    assert next(iter(bad)) in lines[0]
