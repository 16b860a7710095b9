"""The container image, built and run for real (§8).

- Docker: Debian's ``docker.io``. Where no daemon answers, one is started here for the session
  and stopped after it, with no bridge, NAT or IP forwarding of its own, so that the machine's
  network is left as it was; overlay2 storage. Builds and containers use the host's network:
  the build reaches PyPI through it, the containers reach the machine's PostgreSQL on
  127.0.0.1 and serve on a free loopback port.
- The base: no registry of images is reachable, so the base image (Debian bookworm with
  python3 and python3-venv) is made from Debian's packages with ``debootstrap`` and
  ``docker import``. It is kept in the daemon under a tag that hashes its recipe, so later runs
  reuse it and a changed recipe makes a new one.
- The build: the project's Dockerfile with ``--build-arg BASE=…``; where the host's pip trusts
  an extra CA (a proxy that re-signs TLS), that bundle goes to the build as the ``ca-bundle``
  secret the Dockerfile reads.

Sessions that run these tests at once take turns (a lock file), so that one does not stop a
daemon another is using. The tests are skipped, saying why, only where they cannot run: not
root, or docker.io / debootstrap not installed (.ci/run installs both)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import REPO

DOCKER = next(
    (p for p in ("/usr/bin/docker",) if os.access(p, os.X_OK)), shutil.which("docker")
)  # Debian's client, which matches Debian's daemon (and builds with BuildKit without buildx)
DOCKERD = shutil.which("dockerd") or next(
    (p for p in ("/usr/sbin/dockerd", "/usr/bin/dockerd") if os.access(p, os.X_OK)), None
)
DEBOOTSTRAP = shutil.which("debootstrap") or next(
    (p for p in ("/usr/sbin/debootstrap",) if os.access(p, os.X_OK)), None
)
DAEMON_FLAGS = ("--bridge=none", "--iptables=false", "--ip-forward=false", "--ip-masq=false")
BASE_RECIPE = {
    "suite": "bookworm",
    "variant": "minbase",
    "include": ["python3", "python3-venv"],
    # Emptied after debootstrap: nothing in the image needs them (apt can fetch lists again).
    "trim": [
        "var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
        "usr/share/locale",
    ],
}
BASE_TAG = "files-service-test-base:" + hashlib.sha256(
    json.dumps(BASE_RECIPE, sort_keys=True).encode()
).hexdigest()[:16]
IMAGE_TAG = "files-service-test:latest"
TURNS = Path(tempfile.gettempdir()) / "files-service-image-tests.lock"
WAIT_FOR_TURN = 1200  # seconds another session may hold the daemon
BUILD_TIMEOUT = 900


def docker(*args: str, timeout: float = 120, check: bool = True, **kwargs: object
           ) -> subprocess.CompletedProcess[str]:
    """Run the docker client; on failure, say what it printed."""
    assert DOCKER is not None
    result = subprocess.run(
        [DOCKER, *args], capture_output=True, text=True, timeout=timeout, **kwargs,  # type: ignore[call-overload]
    )
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])} … failed:\n{result.stderr[-4000:]}")
    return result


def daemon_answers() -> bool:
    return docker("info", timeout=30, check=False).returncode == 0


def skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "the image tests start dockerd and run debootstrap, which need root"
    missing = [name for name, path in (("docker.io", DOCKER), ("docker.io (dockerd)", DOCKERD),
                                       ("debootstrap", DEBOOTSTRAP)) if path is None]
    if missing:
        return f"Debian packages missing: {', '.join(missing)} (.ci/run installs them)"
    return None


@pytest.fixture(scope="session")
def docker_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A Docker daemon that answers, this session's turn at it, and the daemon stopped after
    the session if it was started here."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with TURNS.open("a") as turn:
        deadline = time.monotonic() + WAIT_FOR_TURN
        while True:
            try:
                fcntl.flock(turn, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"another session held {TURNS} for {WAIT_FOR_TURN} s")
                time.sleep(1)  # waiting for another session's turn, not for a result
        daemon = None
        if not daemon_answers():
            log = tmp_path_factory.mktemp("dockerd") / "dockerd.log"
            assert DOCKERD is not None
            with log.open("wb") as out:  # the daemon keeps its own descriptor
                daemon = subprocess.Popen(
                    [DOCKERD, *DAEMON_FLAGS], stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            started = time.monotonic()
            while not daemon_answers():
                if daemon.poll() is not None or time.monotonic() - started > 60:
                    daemon.kill()
                    pytest.fail(f"dockerd did not start:\n{log.read_text()[-4000:]}")
                time.sleep(0.5)  # polling for the daemon's socket
        try:
            yield
        finally:
            if daemon is not None:
                daemon.terminate()
                try:
                    daemon.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    daemon.wait()


def build_base(workdir: Path) -> None:
    """debootstrap the recipe into ``workdir`` and import it as ``BASE_TAG``."""
    root = workdir / "rootfs"
    assert DEBOOTSTRAP is not None
    subprocess.run(
        [DEBOOTSTRAP, f"--variant={BASE_RECIPE['variant']}",
         "--include=" + ",".join(BASE_RECIPE["include"]), BASE_RECIPE["suite"], str(root)],
        check=True, capture_output=True, timeout=BUILD_TIMEOUT,
    )
    for folder in BASE_RECIPE["trim"]:
        for child in (root / folder).iterdir() if (root / folder).is_dir() else ():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    assert tar.stdout is not None
    with tar.stdout:
        docker("import", "-", BASE_TAG, stdin=tar.stdout, timeout=BUILD_TIMEOUT)
    assert tar.wait() == 0
    shutil.rmtree(root)


@pytest.fixture(scope="session")
def base_image(docker_daemon: None, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Debian bookworm with python3 and python3-venv, from Debian's packages."""
    if docker("image", "inspect", BASE_TAG, check=False).returncode != 0:
        build_base(tmp_path_factory.mktemp("base"))
    return BASE_TAG


def ca_bundle() -> str | None:
    """The CA bundle the host's pip trusts, if any: the build's pip is to trust the same."""
    for candidate in (os.environ.get("PIP_CERT"), ssl.get_default_verify_paths().cafile):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def build_args(base: str) -> list[str]:
    args = ["build", "--network", "host", "--build-arg", f"BASE={base}"]
    bundle = ca_bundle()
    if bundle:
        args += ["--secret", f"id=ca-bundle,src={bundle}"]
    return args


@pytest.fixture(scope="session")
def image(base_image: str) -> str:
    """The project's Dockerfile, built on the debootstrap base."""
    docker(*build_args(base_image), "-t", IMAGE_TAG, str(REPO), timeout=BUILD_TIMEOUT,
           env={**os.environ, "DOCKER_BUILDKIT": "1"})
    return IMAGE_TAG
