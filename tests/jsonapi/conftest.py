"""Fixtures for the JSON:API core: the official schema, and the service's resource types."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

_spec = importlib.util.spec_from_file_location(
    "tests_jsonapi_official_schema", Path(__file__).with_name("official_schema.py")
)
assert _spec is not None and _spec.loader is not None
official_schema = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(official_schema)


@pytest.fixture(scope="session")
def validate() -> Any:
    """Asserts a document validates against the official JSON:API response schema."""
    return official_schema.load_validate()
