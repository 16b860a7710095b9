"""Fixtures for the abuse tests: the API client of tests/api (every response checked against
the official JSON:API schema) as the world's key."""

from tests.api.conftest import api  # noqa: F401 - the fixture, shared
