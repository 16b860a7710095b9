"""The pure core is pure on import: tokens (download and upload), JSON:API, versioning and the
delivery logic load without Flask, SQLAlchemy or boto3, and no module of it needs another to be
imported first.

Each import runs in a fresh interpreter, so that nothing another test imported counts."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE = ("files_service.tokens", "files_service.upload_tokens", "files_service.jsonapi",
        "files_service.versioning", "files_service.delivery")
EDGES = ("flask", "sqlalchemy", "boto3", "botocore")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("module", PURE)
def test_the_pure_core_imports_no_edge(module: str) -> None:
    done = _run(
        f"import sys, {module}\n"
        f"print(','.join(name for name in {EDGES!r} if name in sys.modules))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"{module} loads {done.stdout.strip()}"


@pytest.mark.parametrize(
    "module", ["files_service.validation", "files_service.registry", "files_service.settings"]
)
def test_a_module_imported_first_finds_what_it_needs(module: str) -> None:
    """No import cycle: each of these works as the first import of a process."""
    done = _run(f"import {module}")
    assert done.returncode == 0, done.stderr
