"""The official JSON:API 1.0 response schema, from ``../shared/jsonapi`` (outside the project).

Loaded by path with importlib, as SPEC §7 asks; both ``tests/jsonapi`` and
``tests/versioning`` use it through their conftest. Where the folder does not exist, the
tests that need it are skipped, saying why.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_JSONAPI = REPO.parent / "shared" / "jsonapi"

Validate = Callable[[dict[str, Any]], None]


def load_validate() -> Validate:
    """A function asserting that a document is a valid JSON:API response; skips the calling
    test where the shared schema folder is missing."""
    compat_path = SHARED_JSONAPI / "compat.py"
    if not compat_path.is_file():
        pytest.skip(
            f"the official JSON:API schema is not available: {SHARED_JSONAPI} does not exist "
            "(it lives beside the repository, not in it)"
        )
    spec = importlib.util.spec_from_file_location("shared_jsonapi_compat", compat_path)
    assert spec is not None and spec.loader is not None
    compat = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compat)
    validator = compat.load_validator(str(SHARED_JSONAPI / "schema-1.0.json"))

    def validate(document: dict[str, Any]) -> None:
        problems = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        assert not problems, "\n".join(
            f"{'/'.join(map(str, p.absolute_path)) or '<root>'}: {p.message}" for p in problems
        )

    return validate
