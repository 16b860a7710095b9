"""Fixtures for the registry contract tests: one ``registry`` per backend.

SQLite always runs, on a real file under ``tmp_path``. PostgreSQL runs when
``FILES_TEST_DATABASE_URL`` is set (``postgresql://root@127.0.0.1:5432/test``); each test gets a
schema of its own, found through ``search_path`` and dropped afterwards, so that several test
runs can share one database at once.

``isolated_postgres_url`` and the ``database_url`` / ``make_registry`` fixtures are
self-contained so that they can move to ``tests/conftest.py`` for other folders to use.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import MetaData, create_engine, select
from sqlalchemy.engine import make_url

from files_service.clock import ManualClock
from files_service.registry import Registry

PG_ENV = "FILES_TEST_DATABASE_URL"
PG_SKIP_REASON = f"{PG_ENV} is not set"


@contextmanager
def isolated_postgres_url(base_url: str) -> Iterator[str]:
    """A URL to the database of ``base_url`` whose ``search_path`` is a new, empty schema of its
    own; the schema and all in it are dropped on exit. The URL is a plain string, so that it can
    go to a ``Registry``, a settings object or a subprocess's environment alike."""
    schema = f"files_test_{secrets.token_hex(8)}"
    url = make_url(base_url)
    # libpq's own conninfo for the admin connection: it knows no "+psycopg" driver suffix.
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        # libpq's "options" sets search_path on every connection the engine opens.
        isolated = url.update_query_dict({"options": f"-csearch_path={schema}"})
        yield isolated.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def backend_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database of ``backend`` ("sqlite" or "postgresql") for one test."""
    if backend == "sqlite":
        # A directory that does not exist yet: the registry must create it.
        yield f"sqlite:///{tmp_path / 'var' / 'files.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(PG_SKIP_REASON)
    with isolated_postgres_url(base) as url:
        yield url


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(not os.environ.get(PG_ENV), reason=PG_SKIP_REASON),
            ],
        ),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database, once per backend."""
    with backend_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def clock() -> ManualClock:
    """A clock that stands still until the test moves it."""
    return ManualClock()


@pytest.fixture
def make_registry(database_url: str, clock: ManualClock) -> Iterator[Callable[..., Registry]]:
    """Build registries (not initialized) on ``database_url``; all are disposed afterwards."""
    made: list[Registry] = []

    def make(url: str | None = None) -> Registry:
        registry = Registry(url or database_url, clock=clock)
        made.append(registry)
        return registry

    yield make
    for registry in made:
        registry.dispose()


@pytest.fixture
def registry(make_registry: Callable[..., Registry]) -> Registry:
    """An initialized registry on each backend."""
    registry = make_registry()
    registry.init()
    return registry


@pytest.fixture
def dump_database(database_url: str) -> Callable[[], str]:
    """Everything stored in the test's database, as one string, read around the registry."""

    def dump() -> str:
        url = make_url(database_url)
        if url.get_backend_name() == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        engine = create_engine(url)
        try:
            tables = MetaData()
            with engine.connect() as conn:
                tables.reflect(conn)
                return "\n".join(
                    repr(tuple(row))
                    for table in tables.sorted_tables
                    for row in conn.execute(select(table))
                )
        finally:
            engine.dispose()

    return dump
