"""Fixtures for the abuse tests: the API client of tests/api (every response checked against
the official JSON:API schema) as the world's key, and helpers to read the app's metrics."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from files_service.services import Services
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


def sample(services: Services, name: str, **labels: str) -> float:
    """The value of one metric sample of the app (0 where it has none yet)."""
    return services.metrics.registry.get_sample_value(name, labels) or 0.0
