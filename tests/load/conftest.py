"""The load test starts the real server with the end-to-end helpers."""

from tests.e2e.conftest import make_server  # noqa: F401 - a fixture, re-exported
