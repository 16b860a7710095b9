"""Fixtures for the abuse tests: the API client of tests/api (every response checked against
the official JSON:API schema) as the world's key."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.api.conftest import ApiClient, official_schema
from tests.conftest import World


@pytest.fixture(scope="session")
def validate() -> Any:
    """Asserts a document validates against the official JSON:API response schema."""
    return official_schema.load_validate()


@pytest.fixture
def api(app: Flask, validate: Any, world: World) -> ApiClient:
    """The API as the world's API key (pinned to 2025-06-01)."""
    return ApiClient(app, validate, world.secret)
