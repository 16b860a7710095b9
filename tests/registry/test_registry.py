"""The registry's contract, run against every backend (see conftest.py)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from files_service.clock import ManualClock
from files_service.errors import (
    NotFound,
    RegistryUnavailable,
    SchemaMissing,
    SettingsError,
    ValidationError,
)
from files_service.ids import hash_secret, new_id
from files_service.registry import (
    ACTIVE,
    DEFAULT_FILE_URL_TTL,
    REVOKED,
    SCHEMA_VERSION,
    ApiKey,
    File,
    InitResult,
    Principal,
    Registry,
    Webhook,
)
from files_service.registry.engine import open_engine
from files_service.registry.schema import schema_version

CHECKSUM = hashlib.sha256(b"hello").hexdigest()
BAD_TTLS: list[Any] = [0, 86401, -1, "abc"]
PRINCIPAL_KINDS = [pytest.param(ApiKey, id="api-key"), pytest.param(Webhook, id="webhook")]


def new_principal(
    registry: Registry, org_id: str, kind: type[Principal], **values: Any
) -> Principal:
    """A new api-key or webhook of ``org_id``."""
    if kind is ApiKey:
        return registry.create_api_key(org_id, **values)[0]
    return registry.create_webhook(org_id, url="https://example.com/hook", **values)


def add_file(registry: Registry, org_id: str, **overrides: Any) -> File:
    values: dict[str, Any] = {
        "filename": "report.pdf",
        "content_type": "application/pdf",
        "byte_size": 5,
        "checksum": CHECKSUM,
        # Each file its own object: one object backs at most one file.
        "storage_key": f"objects/{secrets.token_hex(8)}/report.pdf",
    }
    values.update(overrides)
    return registry.create_file(org_id, **values)


def all_pages(registry: Registry, org_id: str, size: int) -> list[File]:
    seen: list[File] = []
    files, cursor = registry.list_files(org_id, limit=size)
    seen += files
    while cursor is not None:
        files, cursor = registry.list_files(org_id, limit=size, after=cursor)
        seen += files
    return seen


def newest_first(files: list[File]) -> list[str]:
    return [f.id for f in sorted(files, key=lambda f: (f.created_at, f.id), reverse=True)]


class TestRegistryContract:
    # -- lifecycle ---------------------------------------------------------------------------

    def test_init_says_what_it_did(self, make_registry: Callable[..., Registry]) -> None:
        registry = make_registry()
        assert registry.init() == InitResult("created", None, SCHEMA_VERSION)
        org = registry.create_organization("Acme")
        assert registry.init() == InitResult("current", SCHEMA_VERSION, SCHEMA_VERSION)
        registry.check()
        assert registry.get_organization(org.id) == org

    def test_init_leaves_a_newer_schema_alone(
        self, registry: Registry, database_url: str, dump_database: Callable[[], str]
    ) -> None:
        # A replica of the previous release runs init after the new release migrated.
        engine = open_engine(database_url)
        try:
            with engine.begin() as conn:
                conn.execute(update(schema_version).values(version=SCHEMA_VERSION + 1))
        finally:
            engine.dispose()
        assert registry.init() == InitResult("newer", SCHEMA_VERSION + 1, SCHEMA_VERSION + 1)
        assert f"(1, {SCHEMA_VERSION + 1})" in dump_database()

    def test_init_from_two_registries_at_once(self, make_registry: Callable[..., Registry]) -> None:
        registries = [make_registry() for _ in range(4)]
        barrier = threading.Barrier(len(registries))

        def init(registry: Registry) -> str:
            barrier.wait()
            return registry.init().outcome

        with ThreadPoolExecutor(len(registries)) as pool:
            outcomes = list(pool.map(init, registries))
        assert sorted(outcomes) == ["created", "current", "current", "current"]
        for registry in registries:
            registry.check()

    def test_check_before_init_raises_schema_missing(
        self, make_registry: Callable[..., Registry]
    ) -> None:
        registry = make_registry()
        with pytest.raises(SchemaMissing, match="run `files-service init`"):
            registry.check()
        with pytest.raises(SchemaMissing):
            registry.create_organization("Acme")

    def test_schema_version_is_recorded(
        self, registry: Registry, dump_database: Callable[[], str]
    ) -> None:
        assert f"(1, {SCHEMA_VERSION})" in dump_database()

    def test_unreachable_database_is_unavailable_quickly(self, clock: ManualClock) -> None:
        registry = Registry("postgresql://root@127.0.0.1:1/test", clock=clock)
        try:
            started = time.monotonic()
            with pytest.raises(RegistryUnavailable, match="cannot be reached") as caught:
                registry.check()
            assert time.monotonic() - started < 6
            with pytest.raises(RegistryUnavailable):
                registry.init()
            with pytest.raises(RegistryUnavailable):
                registry.get_file("file_x")
            assert "sqlalchemy" not in type(caught.value).__module__
        finally:
            registry.dispose()

    def test_the_observer_sees_each_transaction_and_the_database_failures(
        self, database_url: str, clock: ManualClock
    ) -> None:
        seen: list[tuple[str, bool]] = []

        def observe(operation: str, seconds: float, failed: bool) -> None:
            assert seconds >= 0
            seen.append((operation, failed))

        registry = Registry(database_url, clock=clock, observer=observe)
        down = Registry("postgresql://root@127.0.0.1:1/test", clock=clock, observer=observe)
        try:
            registry.init()
            org = registry.create_organization("Acme")
            registry.get_organization(org.id)
            with pytest.raises(NotFound):  # a missing row: the database did not fail
                registry.get_file("file_x")
            assert seen == [("write", False), ("write", False), ("read", False),
                            ("read", False)]
            seen.clear()
            with pytest.raises(RegistryUnavailable):
                down.get_file("file_x")
            with pytest.raises(RegistryUnavailable):
                down.create_organization("Acme")
            assert seen == [("read", True), ("write", True)]
        finally:
            registry.dispose()
            down.dispose()

    def test_unsupported_url_is_a_settings_error(self, clock: ManualClock) -> None:
        for url in ("mysql://root@localhost/test", "not a url"):
            with pytest.raises(SettingsError):
                Registry(url, clock=clock)

    def test_sqlite_creates_the_parent_directory(self, tmp_path: Path, clock: ManualClock) -> None:
        path = tmp_path / "deep" / "er" / "files.db"
        registry = Registry(f"sqlite:///{path}", clock=clock)
        try:
            registry.init()
            registry.check()
        finally:
            registry.dispose()
        assert path.is_file()

    # -- organizations -----------------------------------------------------------------------

    def test_organizations(self, registry: Registry, clock: ManualClock) -> None:
        org = registry.create_organization("Acme Inc.")
        assert org.id.startswith("org_")
        assert org.name == "Acme Inc."
        assert org.created_at == clock.now()
        assert registry.get_organization(org.id) == org
        with pytest.raises(NotFound) as caught:
            registry.get_organization("org_missing")
        assert (caught.value.kind, caught.value.ident) == ("organization", "org_missing")

    @pytest.mark.parametrize("name", ["", "   ", "x" * 201, 5])
    def test_organization_name_is_validated(self, registry: Registry, name: Any) -> None:
        with pytest.raises(ValidationError) as caught:
            registry.create_organization(name)
        assert caught.value.field == "name"

    # -- principals: what api-keys and webhooks share --------------------------------------

    @pytest.mark.parametrize("kind", PRINCIPAL_KINDS)
    def test_principal_operations(
        self, registry: Registry, clock: ManualClock, kind: type[Principal]
    ) -> None:
        org = registry.create_organization("Acme")
        first = new_principal(registry, org.id, kind)
        assert registry.get_principal(first.id) == first
        assert registry.get_principal(first.id, kind) == first
        clock.advance(1)
        second = new_principal(registry, org.id, kind, file_url_ttl=60, api_version="2023-01-05")
        assert (second.file_url_ttl, second.api_version) == (60, "2023-01-05")
        # Another kind of the same organization, and another organization, are not listed.
        new_principal(registry, org.id, Webhook if kind is ApiKey else ApiKey)
        assert registry.list_principals(org.id, kind) == [first, second]
        assert registry.list_principals(registry.create_organization("Other").id, kind) == []

        revoked = registry.revoke_principal(first.id)
        assert isinstance(revoked, kind) and revoked.status == REVOKED
        assert registry.revoke_principal(first.id) == revoked
        assert registry.get_principal(first.id) == revoked

        assert registry.set_principal_ttl(first.id, 86400).file_url_ttl == 86400
        assert registry.set_principal_version(first.id, "2022-09-01").api_version == "2022-09-01"
        assert registry.set_principal_version(first.id, None).api_version is None
        assert registry.get_principal(second.id) == second  # the other one untouched

    @pytest.mark.parametrize("kind", PRINCIPAL_KINDS)
    def test_principal_of_unknown_organization(
        self, registry: Registry, kind: type[Principal]
    ) -> None:
        with pytest.raises(NotFound) as caught:
            new_principal(registry, "org_missing", kind)
        assert caught.value.kind == "organization"

    @pytest.mark.parametrize("ident", ["key_missing", "wbh_missing", "org_x", "file_x", "", "_"])
    def test_unknown_principal(self, registry: Registry, ident: str) -> None:
        org = registry.create_organization("Acme")
        new_principal(registry, org.id, ApiKey)
        new_principal(registry, org.id, Webhook)
        for call in (
            lambda: registry.get_principal(ident),
            lambda: registry.revoke_principal(ident),
            lambda: registry.set_principal_ttl(ident, 60),
            lambda: registry.set_principal_version(ident, "2023-01-05"),
            lambda: registry.pin_principal_version(ident, "2023-01-05"),
        ):
            with pytest.raises(NotFound) as caught:
                call()
            assert caught.value.ident == ident

    def test_get_principal_of_a_kind(self, registry: Registry) -> None:
        org = registry.create_organization("Acme")
        key, _ = registry.create_api_key(org.id)
        hook = registry.create_webhook(org.id, url="https://example.com/")
        assert registry.get_principal(key.id, ApiKey) == key
        assert registry.get_principal(hook.id, Webhook) == hook
        # An existing principal of the other kind is not found, under the kind asked for.
        for ident, kind, name in ((hook.id, ApiKey, "api-key"), (key.id, Webhook, "webhook")):
            with pytest.raises(NotFound) as caught:
                registry.get_principal(ident, kind)
            assert (caught.value.kind, caught.value.ident) == (name, ident)
        with pytest.raises(NotFound) as caught:
            registry.get_principal(org.id)
        assert caught.value.kind == "principal"

    @pytest.mark.parametrize("ttl", BAD_TTLS)
    @pytest.mark.parametrize("kind", PRINCIPAL_KINDS)
    def test_ttl_refusals_change_nothing(
        self, registry: Registry, kind: type[Principal], ttl: Any
    ) -> None:
        org = registry.create_organization("Acme")
        with pytest.raises(ValidationError) as caught:
            new_principal(registry, org.id, kind, file_url_ttl=ttl)
        assert caught.value.field == "file-url-ttl"
        assert registry.list_principals(org.id, kind) == []
        made = new_principal(registry, org.id, kind, file_url_ttl=600)
        with pytest.raises(ValidationError):
            registry.set_principal_ttl(made.id, ttl)
        assert registry.get_principal(made.id) == made

    @pytest.mark.parametrize("kind", PRINCIPAL_KINDS)
    def test_ttl_bounds_are_accepted(self, registry: Registry, kind: type[Principal]) -> None:
        org = registry.create_organization("Acme")
        made = new_principal(registry, org.id, kind, file_url_ttl=1)
        assert made.file_url_ttl == 1
        assert registry.set_principal_ttl(made.id, 86400).file_url_ttl == 86400

    @pytest.mark.parametrize("version", ["", "x" * 33, "2023-01-05\n", 5])
    def test_version_is_bounded(self, registry: Registry, version: Any) -> None:
        org = registry.create_organization("Acme")
        key, _ = registry.create_api_key(org.id)
        with pytest.raises(ValidationError) as caught:
            registry.set_principal_version(key.id, version)
        assert caught.value.field == "api-version"
        assert registry.get_principal(key.id) == key

    # -- api-keys ----------------------------------------------------------------------------

    def test_api_key(self, registry: Registry, clock: ManualClock) -> None:
        org = registry.create_organization("Acme")
        key, secret = registry.create_api_key(org.id, name="ci")
        assert key.id.startswith("key_")
        assert secret.startswith("fsk_") and len(secret) >= 44
        assert key == ApiKey(
            id=key.id,
            organization_id=org.id,
            name="ci",
            status=ACTIVE,
            file_url_ttl=DEFAULT_FILE_URL_TTL,
            api_version=None,
            created_at=clock.now(),
        )
        assert registry.get_principal(key.id) == key

    def test_secret_is_shown_once_and_only_its_hash_stored(
        self, registry: Registry, dump_database: Callable[[], str], database_url: str
    ) -> None:
        org = registry.create_organization("Acme")
        key, secret = registry.create_api_key(org.id)
        assert secret not in repr(key)
        stored = dump_database()
        assert hash_secret(secret) in stored
        assert secret not in stored
        assert secret[4:] not in stored
        if database_url.startswith("sqlite"):
            # Also every byte on disk, the write-ahead log included.
            db = Path(database_url.removeprefix("sqlite:///"))
            for path in db.parent.iterdir():
                assert secret[4:].encode() not in path.read_bytes()

    def test_authenticate(self, registry: Registry) -> None:
        org = registry.create_organization("Acme")
        key, secret = registry.create_api_key(org.id)
        assert registry.authenticate(secret) == key
        assert registry.authenticate(secret + "x") is None
        assert registry.authenticate("fsk_unknown") is None
        assert registry.authenticate("") is None
        registry.revoke_principal(key.id)
        found = registry.authenticate(secret)
        assert found is not None and found.id == key.id and found.status == REVOKED

    # -- version pinning ---------------------------------------------------------------------

    @pytest.mark.parametrize("kind", PRINCIPAL_KINDS)
    def test_pin_once(self, registry: Registry, kind: type[Principal]) -> None:
        org = registry.create_organization("Acme")
        made = new_principal(registry, org.id, kind)
        assert registry.pin_principal_version(made.id, "2025-06-01") == "2025-06-01"
        assert registry.pin_principal_version(made.id, "2026-01-01") == "2025-06-01"
        assert registry.get_principal(made.id).api_version == "2025-06-01"
        # The operator may still move it; a pin then keeps the operator's choice.
        registry.set_principal_version(made.id, "2022-09-01")
        assert registry.pin_principal_version(made.id, "2025-06-01") == "2022-09-01"
        with pytest.raises(ValidationError):
            registry.pin_principal_version(made.id, "")

    @pytest.mark.parametrize("kind", PRINCIPAL_KINDS)
    def test_pin_races_have_one_winner(self, registry: Registry, kind: type[Principal]) -> None:
        org = registry.create_organization("Acme")
        ident = new_principal(registry, org.id, kind).id
        versions = [f"2024-01-{day:02d}" for day in range(1, 9)]
        barrier = threading.Barrier(len(versions))

        def race(version: str) -> str:
            barrier.wait()  # all eight start their transactions together
            return registry.pin_principal_version(ident, version)

        with ThreadPoolExecutor(len(versions)) as pool:
            results = list(pool.map(race, versions))
        assert len(set(results)) == 1
        assert results[0] in versions
        assert registry.get_principal(ident).api_version == results[0]

    # -- webhooks ----------------------------------------------------------------------------

    def test_webhook(self, registry: Registry, clock: ManualClock) -> None:
        org = registry.create_organization("Acme")
        hook = registry.create_webhook(org.id, url="https://example.com/hook")
        assert hook == Webhook(
            id=hook.id,
            organization_id=org.id,
            url="https://example.com/hook",
            status=ACTIVE,
            file_url_ttl=DEFAULT_FILE_URL_TTL,
            api_version=None,
            created_at=clock.now(),
        )
        assert hook.id.startswith("wbh_")
        assert registry.get_principal(hook.id) == hook
        other = registry.create_webhook(org.id, url="http://hooks.example.org:8080/x?y=1")
        assert other.url == "http://hooks.example.org:8080/x?y=1"

    @pytest.mark.parametrize(
        "url",
        [
            "",
            "ftp://example.com/",
            "https://",
            "example.com/hook",
            "https://exa mple.com/",
            "https://example.com/\n",
            "https://example.com:99999/",
            "https://e.com/" + "a" * 2048,
        ],
    )
    def test_webhook_url_is_validated(self, registry: Registry, url: str) -> None:
        org = registry.create_organization("Acme")
        with pytest.raises(ValidationError) as caught:
            registry.create_webhook(org.id, url=url)
        assert caught.value.field == "url"
        assert registry.list_principals(org.id, Webhook) == []

    # -- files -------------------------------------------------------------------------------

    def test_file_crud(self, registry: Registry, clock: ManualClock) -> None:
        org = registry.create_organization("Acme")
        other = registry.create_organization("Other")
        key, _ = registry.create_api_key(org.id)
        file = add_file(
            registry, org.id, created_by=key.id, metadata={"a": "b"},
            storage_key="objects/report.pdf",
        )
        assert file.id.startswith("file_")
        assert file == File(
            id=file.id,
            organization_id=org.id,
            filename="report.pdf",
            content_type="application/pdf",
            byte_size=5,
            checksum=CHECKSUM,
            storage_key="objects/report.pdf",
            created_by=key.id,
            created_at=clock.now(),
            metadata={"a": "b"},
        )
        assert registry.get_file(file.id) == file
        assert registry.get_file(file.id, org.id) == file
        with pytest.raises(NotFound) as caught:
            registry.get_file(file.id, other.id)
        assert (caught.value.kind, caught.value.ident) == ("file", file.id)
        with pytest.raises(NotFound):
            registry.delete_file(file.id, other.id)
        assert registry.delete_file(file.id, org.id) == file
        with pytest.raises(NotFound):
            registry.get_file(file.id)
        with pytest.raises(NotFound):
            registry.delete_file(file.id)

    def test_file_with_chosen_id_and_no_creator(self, registry: Registry) -> None:
        org = registry.create_organization("Acme")
        file_id = new_id("file")
        file = add_file(registry, org.id, file_id=file_id, storage_key=f"o/{file_id}")
        assert (file.id, file.created_by, file.metadata) == (file_id, None, {})
        with pytest.raises(ValidationError):
            add_file(registry, org.id, file_id="file_bad")

    def test_file_refusals(self, registry: Registry) -> None:
        org = registry.create_organization("Acme")
        other = registry.create_organization("Other")
        foreign_key, _ = registry.create_api_key(other.id)
        with pytest.raises(NotFound):
            add_file(registry, "org_missing")
        with pytest.raises(NotFound):
            add_file(registry, org.id, created_by="key_missing")
        with pytest.raises(NotFound):
            add_file(registry, org.id, created_by=foreign_key.id)
        for field, value in (
            ("content_type", "pdf"),
            ("checksum", "abc"),
            ("byte_size", -1),
            ("storage_key", ""),
            ("metadata", {1: "x"}),
            ("metadata", ["x"]),
        ):
            with pytest.raises(ValidationError):
                add_file(registry, org.id, **{field: value})
        assert registry.list_files(org.id, limit=10) == ([], None)

    @pytest.mark.parametrize(
        "filename", ["", "é" * 128, "a/b", "a\x00b", "a\nb", "tab\there", ".", ".."]
    )
    def test_filename_is_validated(self, registry: Registry, filename: str) -> None:
        org = registry.create_organization("Acme")
        with pytest.raises(ValidationError) as caught:
            add_file(registry, org.id, filename=filename)
        assert caught.value.field == "filename"
        assert registry.list_files(org.id, limit=10) == ([], None)

    def test_filename_of_255_bytes_and_unicode(self, registry: Registry) -> None:
        org = registry.create_organization("Acme")
        for name in ("a" * 255, "é" * 127 + "a", "naïve résumé 📄.pdf", "עברית.txt"):
            assert registry.get_file(add_file(registry, org.id, filename=name).id).filename == name

    def test_metadata_round_trips(self, registry: Registry) -> None:
        org = registry.create_organization("Acme")
        metadata = {
            "customer": "Zoë",
            "nested": {"list": [1, 2.5, None, True], "empty": {}},
            "emoji": "📄",
            "quote": "\"'\\",
        }
        file = add_file(registry, org.id, metadata=metadata)
        assert file.metadata == metadata
        assert registry.get_file(file.id).metadata == metadata
        assert registry.get_files(org.id, [file.id])[0].metadata == metadata

    # -- listing -----------------------------------------------------------------------------

    def test_list_newest_first(self, registry: Registry, clock: ManualClock) -> None:
        org = registry.create_organization("Acme")
        made = []
        for _ in range(5):
            made.append(add_file(registry, org.id))
            clock.advance(0.000001)
        files, cursor = registry.list_files(org.id, limit=10)
        assert [f.id for f in files] == [f.id for f in reversed(made)]
        assert cursor is None
        assert registry.list_files(registry.create_organization("Other").id, limit=10) == (
            [],
            None,
        )

    @pytest.mark.parametrize("size", [1, 2, 3, 7, 8])
    def test_pages_across_equal_timestamps(self, registry: Registry, size: int) -> None:
        # The clock stands still: every file has the same created_at, the id breaks ties.
        org = registry.create_organization("Acme")
        made = [add_file(registry, org.id) for _ in range(7)]
        seen = all_pages(registry, org.id, size)
        assert [f.id for f in seen] == newest_first(made)

    def test_last_full_page_has_no_cursor(self, registry: Registry) -> None:
        org = registry.create_organization("Acme")
        for _ in range(4):
            add_file(registry, org.id)
        page, cursor = registry.list_files(org.id, limit=2)
        assert len(page) == 2 and cursor is not None
        page, cursor = registry.list_files(org.id, limit=2, after=cursor)
        assert len(page) == 2 and cursor is None

    def test_pages_are_stable_under_inserts(self, registry: Registry, clock: ManualClock) -> None:
        org = registry.create_organization("Acme")
        made = [add_file(registry, org.id) for _ in range(6)]
        page, cursor = registry.list_files(org.id, limit=2)
        seen = list(page)
        while cursor is not None:
            clock.advance(1)  # newer files land before the first page, not in the rest
            add_file(registry, org.id)
            page, cursor = registry.list_files(org.id, limit=2, after=cursor)
            seen += page
        assert [f.id for f in seen] == newest_first(made)

    def test_pages_under_inserts_at_the_same_instant(self, registry: Registry) -> None:
        # Same created_at as the listed files: a new file may land on either side of the
        # cursor, but no file that was there is skipped or shown twice.
        org = registry.create_organization("Acme")
        made = [add_file(registry, org.id) for _ in range(6)]
        page, cursor = registry.list_files(org.id, limit=2)
        seen = list(page)
        while cursor is not None:
            add_file(registry, org.id)
            page, cursor = registry.list_files(org.id, limit=2, after=cursor)
            seen += page
        ids = [f.id for f in seen]
        assert len(ids) == len(set(ids))
        assert {f.id for f in made} <= set(ids)

    @pytest.mark.parametrize(
        "cursor",
        [
            "",
            "!!!",
            "abc",
            "a" * 500,
            base64.urlsafe_b64encode(b"12:file_x").decode(),
            base64.urlsafe_b64encode(b"-1:" + new_id("file").encode()).decode(),
            base64.urlsafe_b64encode(b"12:" + new_id("key").encode()).decode(),
            base64.urlsafe_b64encode(b"99999999999999999999:" + new_id("file").encode()).decode(),
            base64.urlsafe_b64encode(b"\xff\xfe").decode(),
            "é",
        ],
    )
    def test_bad_cursor(self, registry: Registry, cursor: str) -> None:
        org = registry.create_organization("Acme")
        with pytest.raises(ValidationError) as caught:
            registry.list_files(org.id, limit=10, after=cursor)
        assert caught.value.field == "page[after]"

    @settings(
        max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(cursor=st.text(max_size=80))
    def test_any_cursor_is_a_page_or_a_validation_error(
        self, registry: Registry, cursor: str
    ) -> None:
        try:
            files, _ = registry.list_files("org_none", limit=3, after=cursor)
        except ValidationError as exc:
            assert exc.field == "page[after]"
        else:
            assert files == []

    @pytest.mark.parametrize("limit", [0, -1, True])
    def test_bad_limit(self, registry: Registry, limit: Any) -> None:
        with pytest.raises(ValidationError):
            registry.list_files("org_none", limit=limit)

    def test_get_files_keeps_order_and_drops_the_rest(self, registry: Registry) -> None:
        org = registry.create_organization("Acme")
        other = registry.create_organization("Other")
        a, b, c = (add_file(registry, org.id) for _ in range(3))
        foreign = add_file(registry, other.id)
        deleted = add_file(registry, org.id)
        registry.delete_file(deleted.id)
        ids = [c.id, "file_missing", a.id, foreign.id, deleted.id, b.id, a.id]
        assert registry.get_files(org.id, ids) == [c, a, b]
        assert registry.get_files(org.id, []) == []


class TestOneObjectOneFile:
    """An object backs at most one file, whichever organization asks."""

    def test_a_second_registration_of_an_object_is_refused(self, registry):
        first = registry.create_organization("First")
        second = registry.create_organization("Second")
        args = {"filename": "a.pdf", "content_type": "application/pdf", "byte_size": 1,
                "checksum": "0" * 64, "storage_key": "imports/a.pdf"}
        registry.create_file(first.id, **args)
        for org in (first, second):
            with pytest.raises(ValidationError) as caught:
                registry.create_file(org.id, **args)
            assert caught.value.field == "storage-key"
        files, _ = registry.list_files(second.id, limit=10)
        assert files == []


def test_replicas_opening_a_fresh_sqlite_file_together(tmp_path: Path) -> None:
    """The first connections to a fresh file race to switch it to WAL, and SQLite refuses the
    loser at once ("database is locked", no busy handler). It failed about one round in ten
    before the switch was retried; twenty rounds catch that most of the time."""
    for round_ in range(20):
        url = f"sqlite:///{tmp_path / f'race-{round_}' / 'files.db'}"
        registries = [Registry(url, clock=ManualClock()) for _ in range(4)]
        barrier = threading.Barrier(len(registries))

        def init(registry: Registry, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            registry.init()

        try:
            with ThreadPoolExecutor(len(registries)) as pool:
                list(pool.map(init, registries))
            for registry in registries:
                registry.check()
        finally:
            for registry in registries:
                registry.dispose()
