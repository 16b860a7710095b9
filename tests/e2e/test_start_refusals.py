"""A server that cannot work must not start (§8): every entry point — ``files-service serve``,
plain gunicorn on the service's settings (as the image runs it), and the CLI's commands —
exits with a non-zero status and one line on stderr, never a traceback, and never a gunicorn
master that restarts workers which cannot start, several times a second, forever.

Each case runs the real process with a bounded wait: a server that loops is a failure here,
not a hung test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import BIN, REPO, free_port, server_env

pytestmark = pytest.mark.e2e

# A server that refuses exits in about a second; one that restarts its workers never does.
EXIT_WITHIN = 60


def _bad_settings(tmp_path: Path) -> dict[str, tuple[dict[str, str], str]]:
    """Each bad setting: the variables that make it, and what its line must name."""
    regular = tmp_path / "a-regular-file"
    regular.write_text("not a folder\n")
    return {
        "malformed-value": ({"FILES_CDN_CACHE": "everywhere"}, "FILES_CDN_CACHE"),
        "sqlite-path-through-a-file": (
            {"FILES_DATABASE_URL": f"sqlite:///{regular}/files.db"}, "FILES_DATABASE_URL"
        ),
        # Nothing listens on a port just found free.
        "postgresql-unreachable": (
            {"FILES_DATABASE_URL": f"postgresql://root@127.0.0.1:{free_port()}/test"},
            "cannot be reached",
        ),
    }


BAD = ["malformed-value", "sqlite-path-through-a-file", "postgresql-unreachable"]


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=EXIT_WITHIN,
        )
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        pytest.fail(f"{argv[1:]} still running after {EXIT_WITHIN} s:\n{err[-2000:]}")


def assert_refused(result: subprocess.CompletedProcess[str], names: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, result.stderr
    assert names in lines[0]


def gunicorn_argv(port: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "-c", "python:files_service.gunicorn_conf",
        "--bind", f"127.0.0.1:{port}", "--workers", "2", "wsgi:app",
    ]


@pytest.mark.parametrize("case", BAD)
def test_gunicorn_on_the_service_settings_exits_in_one_line(case, tmp_path):
    variables, names = _bad_settings(tmp_path)[case]
    port = free_port()
    result = run(gunicorn_argv(port), server_env(tmp_path, port, **variables))
    assert_refused(result, names)


@pytest.mark.parametrize("case", BAD)
def test_serve_exits_in_one_line(case, tmp_path):
    variables, names = _bad_settings(tmp_path)[case]
    port = free_port()
    argv = [str(BIN / "files-service"), "serve", "--bind", f"127.0.0.1:{port}"]
    result = run(argv, server_env(tmp_path, port, **variables))
    assert_refused(result, names)


@pytest.mark.parametrize(
    "command",
    # A well-formed id: the command line refuses a malformed one before it opens the database.
    [["init"], ["orgs", "create", "Acme"], ["demo"], ["keys", "list", "--org", "org_" + "x" * 22]],
)
def test_cli_commands_refuse_an_unusable_sqlite_path_in_one_line(command, tmp_path):
    variables, names = _bad_settings(tmp_path)["sqlite-path-through-a-file"]
    env = server_env(tmp_path, 8000, **variables)
    result = run([str(BIN / "files-service"), *command], env)
    assert_refused(result, names)


def test_an_unusable_var_folder_is_one_line(tmp_path):
    """In development the signing key is generated into FILES_VAR_DIR."""
    regular = tmp_path / "a-regular-file"
    regular.write_text("")
    env = server_env(tmp_path, 8000, FILES_VAR_DIR=str(regular / "var"))
    del env["FILES_SIGNING_KEYS"]
    assert_refused(run([str(BIN / "files-service"), "init"], env), "FILES_VAR_DIR")


def test_gunicorn_without_the_service_settings_stops_too(tmp_path):
    """Plain ``gunicorn wsgi:app`` loads the app in each worker: the worker's exit status
    (gunicorn's "failed to load") stops the master instead of a restart loop. gunicorn logs
    its own lines around ours here; what matters is that it ends."""
    port = free_port()
    env = server_env(tmp_path, port, FILES_CDN_CACHE="everywhere")
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "wsgi:app"]
    result = run(argv, env)
    assert result.returncode != 0
    assert result.stderr.count("files-service: cannot start: FILES_CDN_CACHE") == 1
    assert "Traceback" not in result.stderr
