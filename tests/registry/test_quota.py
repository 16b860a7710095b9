"""Storage quotas in the registry (§5 "Tenancy and limits"), on SQLite and PostgreSQL: an
organization's ``storage_quota`` and the ``storage_used`` its files sum to; ``create_file``
refuses a file past the quota, also when several race for its last bytes (real threads,
real databases); and ``init`` adds the column to a database of the previous schema."""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import update

from files_service.errors import NotFound, QuotaExceeded, ValidationError
from files_service.registry import SCHEMA_VERSION, File, InitResult, Registry
from files_service.registry.engine import open_engine
from files_service.registry.schema import schema_version

CHECKSUM = hashlib.sha256(b"x").hexdigest()


def add_file(registry: Registry, org_id: str, size: int) -> File:
    return registry.create_file(
        org_id, filename="a.bin", content_type="application/octet-stream", byte_size=size,
        checksum=CHECKSUM, storage_key=f"objects/{secrets.token_hex(8)}",
    )


def test_an_organization_has_no_quota_until_one_is_set(registry: Registry) -> None:
    org = registry.create_organization("Acme")
    assert (org.storage_quota, org.storage_used) == (None, 0)
    add_file(registry, org.id, 700)
    add_file(registry, org.id, 300)
    add_file(registry, registry.create_organization("Other").id, 5000)
    assert registry.get_organization(org.id).storage_used == 1000
    done = registry.set_storage_quota(org.id, 4096)
    assert (done.storage_quota, done.storage_used) == (4096, 1000)
    assert registry.get_organization(org.id) == done
    listed = {o.id: o for o in registry.list_organizations()}
    assert (listed[org.id].storage_quota, listed[org.id].storage_used) == (4096, 1000)
    assert registry.set_storage_quota(org.id, None).storage_quota is None


def test_files_past_the_quota_are_refused(registry: Registry) -> None:
    org = registry.create_organization("Acme")
    registry.set_storage_quota(org.id, 1000)
    kept = add_file(registry, org.id, 600)
    add_file(registry, org.id, 400)  # exactly up to the quota
    add_file(registry, org.id, 0)  # nothing more: still within it
    with pytest.raises(QuotaExceeded) as caught:
        add_file(registry, org.id, 1)
    assert (caught.value.quota, caught.value.used) == (1000, 1000)
    # Deleting a file gives its bytes back.
    registry.delete_file(kept.id)
    add_file(registry, org.id, 600)
    assert registry.get_organization(org.id).storage_used == 1000
    # A quota lowered below what is stored keeps the files and refuses the next.
    registry.set_storage_quota(org.id, 10)
    assert registry.get_organization(org.id).storage_used == 1000
    with pytest.raises(QuotaExceeded):
        add_file(registry, org.id, 0)
    assert len(registry.list_files(org.id, limit=10)[0]) == 3


@pytest.mark.parametrize("quota", [-1, 2**63, 1.5, True, "12", "lots"])
def test_a_quota_is_a_whole_number_of_bytes(registry: Registry, quota: Any) -> None:
    org = registry.create_organization("Acme")
    if quota == "12":  # digits are read as the number, as the command line gives them
        assert registry.set_storage_quota(org.id, quota).storage_quota == 12
        return
    with pytest.raises(ValidationError) as caught:
        registry.set_storage_quota(org.id, quota)
    assert caught.value.field == "storage-quota"
    assert registry.get_organization(org.id).storage_quota is None


def test_the_quota_of_an_unknown_organization(registry: Registry) -> None:
    with pytest.raises(NotFound):
        registry.set_storage_quota("org_missing", 5)


def test_racing_files_get_in_only_while_the_quota_holds(
    make_registry: Callable[..., Registry],
) -> None:
    """Eight threads on their own registries (their own connections), released together,
    each storing 600 bytes into a quota that has room for one: one gets in, every time."""
    setup = make_registry()
    setup.init()
    registries = [make_registry() for _ in range(8)]
    for round_number in range(5):
        org = setup.create_organization(f"Round {round_number}")
        setup.set_storage_quota(org.id, 1000)
        barrier = threading.Barrier(len(registries))

        def race(registry: Registry, org_id: str = org.id,
                 barrier: threading.Barrier = barrier) -> str:
            barrier.wait()
            try:
                add_file(registry, org_id, 600)
            except QuotaExceeded:
                return "refused"
            return "stored"

        with ThreadPoolExecutor(len(registries)) as pool:
            outcomes = sorted(pool.map(race, registries))
        assert outcomes == ["refused"] * 7 + ["stored"], outcomes
        assert setup.get_organization(org.id).storage_used == 600


def test_init_adds_the_quota_to_a_database_of_the_previous_schema(
    make_registry: Callable[..., Registry], database_url: str,
) -> None:
    registry = make_registry()
    registry.init()
    org = registry.create_organization("Acme")
    add_file(registry, org.id, 1234)
    # The database as the release before left it: version 1, no storage_quota column (and
    # none of what later versions added).
    engine = open_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE upload_urls")
            conn.exec_driver_sql("ALTER TABLE organizations DROP COLUMN storage_quota")
            conn.execute(update(schema_version).values(version=1))
    finally:
        engine.dispose()
    fresh = make_registry()
    assert fresh.init() == InitResult("migrated", 1, SCHEMA_VERSION)
    assert fresh.init() == InitResult("current", SCHEMA_VERSION, SCHEMA_VERSION)
    fresh.check()
    migrated = fresh.get_organization(org.id)
    assert (migrated.name, migrated.storage_quota, migrated.storage_used) == ("Acme", None, 1234)
    assert fresh.set_storage_quota(org.id, 2000).storage_quota == 2000
    with pytest.raises(QuotaExceeded):
        add_file(fresh, org.id, 767)
