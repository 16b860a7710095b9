"""What the registry keeps for upload URLs (§5): the metadata of a URL until its file comes,
a file id that only one insert can take, a URL used for good (its file deleted or not); and
the migration that added them (schema 3)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import update

from files_service.clock import ManualClock
from files_service.errors import FileIdTaken
from files_service.ids import new_id
from files_service.registry import SCHEMA_VERSION, InitResult, Registry
from files_service.registry.engine import open_engine
from files_service.registry.schema import schema_version

CHECKSUM = hashlib.sha256(b"x").hexdigest()


def add(registry: Registry, org_id: str, file_id: str, key: str, metadata: dict | None = None,
        expires_at: float | None = None):
    return registry.create_file(
        org_id, file_id=file_id, filename="a.bin", content_type="text/plain", byte_size=1,
        checksum=CHECKSUM, storage_key=key, metadata=metadata,
        upload_url_expires_at=expires_at,
    )


def test_metadata_waits_for_its_file(registry: Registry, clock: ManualClock):
    org = registry.create_organization("Acme")
    file_id = new_id("file")
    assert registry.upload_metadata(file_id) == {}
    registry.keep_upload_metadata(org.id, file_id, {"k": "é"}, clock.now() + 60)
    assert registry.upload_metadata(file_id) == {"k": "é"}
    assert not registry.upload_url_used(file_id)
    add(registry, org.id, file_id, f"{org.id}/{file_id}.1", {"k": "é"}, clock.now() + 60)
    assert registry.upload_url_used(file_id)


@pytest.mark.parametrize("with_metadata", [True, False])
def test_a_used_url_stays_used_once_its_file_is_deleted(registry: Registry, clock: ManualClock,
                                                        with_metadata: bool):
    org = registry.create_organization("Acme")
    file_id = new_id("file")
    if with_metadata:
        registry.keep_upload_metadata(org.id, file_id, {"k": "v"}, clock.now() + 60)
    add(registry, org.id, file_id, f"{org.id}/{file_id}.1", expires_at=clock.now() + 60)
    registry.delete_file(file_id)
    assert registry.upload_url_used(file_id)
    with pytest.raises(FileIdTaken):
        add(registry, org.id, file_id, f"{org.id}/{file_id}.2", expires_at=clock.now() + 60)
    clock.advance(86400 + 61)  # long expired: forgotten once other URLs are written
    registry.keep_upload_metadata(org.id, new_id("file"), {"k": "v"}, clock.now() + 60)
    assert not registry.upload_url_used(file_id)


def test_metadata_of_urls_long_expired_is_pruned(registry: Registry, clock: ManualClock):
    org = registry.create_organization("Acme")
    old, new = new_id("file"), new_id("file")
    registry.keep_upload_metadata(org.id, old, {"a": "1"}, clock.now() + 60)
    clock.advance(86400 + 61)
    registry.keep_upload_metadata(org.id, new, {"b": "2"}, clock.now() + 60)
    assert registry.upload_metadata(old) == {}
    assert registry.upload_metadata(new) == {"b": "2"}


def test_a_file_id_is_taken_once(registry: Registry):
    org = registry.create_organization("Acme")
    file_id = new_id("file")
    add(registry, org.id, file_id, f"{org.id}/{file_id}.a")
    assert registry.upload_url_used(file_id)
    with pytest.raises(FileIdTaken):
        add(registry, org.id, file_id, f"{org.id}/{file_id}.b")
    assert not registry.upload_url_used(new_id("file"))


def test_a_second_use_at_the_quota_is_told_the_url_is_used(registry: Registry):
    # The first upload took the quota's last byte: the second, of the same file id, is a
    # second use of its URL (409 upload_url_used), not a file past the quota.
    org = registry.create_organization("Acme")
    registry.set_storage_quota(org.id, 1)
    file_id = new_id("file")
    add(registry, org.id, file_id, f"{org.id}/{file_id}.a", expires_at=9e9)
    with pytest.raises(FileIdTaken):
        add(registry, org.id, file_id, f"{org.id}/{file_id}.b", expires_at=9e9)


def test_racing_inserts_of_one_file_id_let_one_in(make_registry: Callable[..., Registry]):
    setup = make_registry()
    setup.init()
    org = setup.create_organization("Acme")
    file_id = new_id("file")
    registries = [make_registry() for _ in range(6)]
    barrier = threading.Barrier(len(registries))

    def race(pair: tuple[int, Registry]) -> str:
        index, registry = pair
        barrier.wait()
        try:
            add(registry, org.id, file_id, f"{org.id}/{file_id}.{index}", expires_at=9e9)
        except FileIdTaken:
            return "taken"
        return "stored"

    with ThreadPoolExecutor(len(registries)) as pool:
        outcomes = sorted(pool.map(race, enumerate(registries)))
    assert outcomes == ["stored"] + ["taken"] * 5, outcomes


def test_init_adds_upload_urls_to_a_database_of_schema_2(
    make_registry: Callable[..., Registry], database_url: str, clock: ManualClock,
) -> None:
    make_registry().init()
    engine = open_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE upload_urls")
            conn.execute(update(schema_version).values(version=2))
    finally:
        engine.dispose()
    fresh = make_registry()
    assert fresh.init() == InitResult("migrated", 2, SCHEMA_VERSION)
    fresh.check()
    org = fresh.create_organization("Acme")
    file_id = new_id("file")
    fresh.keep_upload_metadata(org.id, file_id, {"x": "y"}, clock.now() + 60)
    assert fresh.upload_metadata(file_id) == {"x": "y"}
