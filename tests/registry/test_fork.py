"""gunicorn builds the app in its master and forks the workers from it (``preload_app``): a
forked process must open database connections of its own, never reuse one its parent pooled
(two processes talking over one PostgreSQL session corrupt each other's transactions)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from files_service.clock import ManualClock
from files_service.registry import Registry
from tests.registry.conftest import PG_ENV, PG_SKIP_REASON, isolated_postgres_url

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get(PG_ENV), reason=PG_SKIP_REASON),
]


def backend_pid(registry: Registry) -> int:
    # The engine's own pool, as every registry call uses it.
    with registry._engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


# Python 3.12+ warns about fork() in a process with threads (the session's moto server); the
# child here only queries the database and exits.
@pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork:DeprecationWarning")
def test_a_forked_child_opens_its_own_connection():
    with isolated_postgres_url(os.environ[PG_ENV]) as url:
        registry = Registry(url, clock=ManualClock())
        try:
            registry.init()
            parent = backend_pid(registry)  # now pooled, as after the master's start-up check
            read, write = os.pipe()
            child = os.fork()
            if child == 0:  # pragma: no cover - runs in the child
                status = 1
                try:
                    os.write(write, str(backend_pid(registry)).encode())
                    status = 0
                finally:
                    os._exit(status)
            os.close(write)
            reported = os.read(read, 64).decode()
            os.close(read)
            _, status = os.waitpid(child, 0)
            assert os.waitstatus_to_exitcode(status) == 0
            assert int(reported) != parent
            assert backend_pid(registry) == parent  # the parent's session is left alone
        finally:
            registry.dispose()
