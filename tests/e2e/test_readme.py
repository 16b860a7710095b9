"""The README and the API docs work as written, on a real server started as the README says.

Its quick start is exactly ``make run`` and ``make test``; ``make run`` (on a free port, its
settings the defaults' layout under a folder of the test's: ``var/files.db``, ``var/objects``)
prints a demo URL that downloads. Then, in bash, word for word, in that folder (a clone's
working directory: it has the repository's ``.venv`` and ``README.md``): the README's "Using
it" block, then every ``sh`` block of docs/api.md and docs/versions.md that talks to the API
(``tests/api/test_docs.py`` checks each answer's status in-process; here they run for real).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_serve import fetch
from tests.servers import BIN, REPO, free_port, server_env, wait_until_up

pytestmark = pytest.mark.e2e

README = REPO / "README.md"
API_DOC = REPO / "docs" / "api.md"
VERSIONS_DOC = REPO / "docs" / "versions.md"


def section(path: Path, heading: str) -> str:
    """The text of the section under ``heading`` (a whole heading line), up to the next one."""
    text = path.read_text(encoding="utf-8")
    assert f"\n{heading}\n" in text, f"{heading!r} is missing from {path.name}"
    body = text.split(f"\n{heading}\n", 1)[1]
    return re.split(r"\n#{1,6} ", body, maxsplit=1)[0]


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, re.DOTALL)


class MakeRun:
    """``make run`` in its own process group (make, then files-service, then gunicorn)."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # The server's settings, which a shell in a second terminal in ``root`` shares: the
        # defaults (var/files.db, var/objects, var/), as if make run ran in ``root``.
        var = root / "var"
        self.env = server_env(
            root, self.port, FILES_DATABASE_URL=f"sqlite:///{var / 'files.db'}",
            FILES_STORAGE=f"local://{var / 'objects'}", FILES_VAR_DIR=str(var),
        )
        self.log = root / "make-run.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                ["make", "--no-print-directory", "-C", str(REPO), "run",
                 f"BIND=127.0.0.1:{self.port}", f"VENV={BIN.parent}"],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                process_group=0,
            )
        wait_until_up(self.base + "/healthz", self.proc, self.log, seconds=120)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def terminal(tmp_path: Path) -> Path:
    """A second terminal's working directory: a clone's, with its .venv and README.md."""
    folder = tmp_path / "clone"
    folder.mkdir()
    (folder / ".venv").symlink_to(BIN.parent)
    (folder / "README.md").symlink_to(README)
    return folder


@pytest.fixture
def make_run(terminal: Path) -> Iterator[MakeRun]:
    server = MakeRun(terminal)
    yield server
    server.stop()


def run_bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``script`` in bash, stopping at its first failing command."""
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=120,
    )


def documents(text: str) -> list[dict]:
    """The JSON documents of ``text``, one after the other."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while at < len(text.rstrip()):
        document, at = decoder.raw_decode(text, at)
        found.append(document)
    return found


def test_the_quick_start_is_make_run_and_make_test() -> None:
    (block,) = sh_blocks(section(README, "## Quick start"))
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    assert [c for c in commands if c] == ["make run", "make test"]


def test_the_readme_and_the_api_docs_run_as_written(make_run: MakeRun, terminal: Path) -> None:
    make_run.start()
    printed = make_run.log.read_text()
    demo = re.search(rf"{re.escape(make_run.base)}/welcome\.txt\?access_token=\S+", printed)
    assert demo, printed
    status, _, body = fetch(demo.group(0))
    assert status == 200 and body.startswith(b"Hello from files_service!")
    broken = demo.group(0)[:-1] + ("A" if not demo.group(0).endswith("A") else "B")
    assert fetch(broken)[0] == 403  # "change one character of the token"

    (using,) = sh_blocks(section(README, "## Using it"))
    assert "report.pdf" not in using
    done = run_bash(using, terminal, make_run.env)
    assert done.returncode == 0, done.stderr
    assert "Quarterly report\n" in done.stdout  # the file, downloaded with curl
    assert "HTTP/1.1 200 OK\n" in done.stdout  # text mode: curl's CRLFs read as LFs
    assert 'Content-Disposition: attachment; filename="report.txt"' in done.stdout
    assert "Usage: files-service" in done.stdout

    # docs/api.md's "Try it" against the server make run serves, then its first examples.
    setup, *examples = sh_blocks(API_DOC.read_text(encoding="utf-8"))
    setup = setup.replace("http://127.0.0.1:8000", make_run.base)
    done = run_bash(setup + examples[0], terminal, make_run.env)
    assert done.returncode == 0, done.stderr
    answers = documents(done.stdout)  # curl -s prints each without a line break after it
    assert len(answers) == 3 and all("data" in a and "errors" not in a for a in answers), (
        done.stdout)
    assert answers[1]["data"]["attributes"]["metadata"] == {"project": "apollo"}
    assert answers[1]["data"]["attributes"]["filename"] == "README.md"

    # Then every block of both pages that calls the API, in order, in that same shell.
    calls = [block for block in [*examples[1:], *sh_blocks(VERSIONS_DOC.read_text())]
             if "curl " in block]
    assert len(calls) >= 12
    done = run_bash(setup + "".join(calls), terminal, make_run.env)
    assert done.returncode == 0, done.stderr
    refusals = sum(len(re.findall(r"#\s*->\s*4\d\d", block)) for block in calls)
    assert done.stdout.count('{"errors": [') == refusals == 3, done.stdout
    assert re.search(r"(?<![0-9])204\n", done.stdout)  # the DELETE's status, curl -w's
    assert "HTTP/1.1 200 OK" in done.stdout  # versions.md's curl -i
    assert "Hello from files_service!" in done.stdout  # the legacy URL, downloaded
