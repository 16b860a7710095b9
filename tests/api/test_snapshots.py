"""Every released version's exact response shapes, frozen in ``snapshots/<version>.json``.

Each snapshot holds, for the same scripted session (upload, register, read with include and
fieldsets, list, batch, the read-only views, versions, errors, delete), every response's
status, main headers and body, with ids, tokens and cursors replaced by placeholders (times
and checksums are deterministic and kept). Any change to what an old version returns fails
here; a deliberate change to the newest shape needs a new version (see docs/versions.md).

To regenerate after a deliberate change (a new version, a new attribute)::

    FILES_TEST_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/api/test_snapshots.py

and review the diff of ``tests/api/snapshots/`` before committing it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from files_service import get_services
from files_service.versioning import BUNDLE, MigrationContext
from files_service.versioning.bundle import find_ineffective_changes
from tests.api.conftest import ApiClient
from tests.conftest import make_world

SNAPSHOTS = Path(__file__).with_name("snapshots")
UPDATE = os.environ.get("FILES_TEST_UPDATE_SNAPSHOTS") == "1"
HEADERS = ("Content-Type", "Files-Version", "Location", "Deprecation", "Sunset")

_TOKENS = [
    (re.compile(r"access_token=[A-Za-z0-9._-]+"), "access_token=<token>"),
    (re.compile(r"/api/v1/files/[A-Za-z0-9_-]+\.[A-Za-z0-9._-]+/"), "/api/v1/files/<token>/"),
    (re.compile(r"page%5Bafter%5D=[A-Za-z0-9_-]+"), "page%5Bafter%5D=<cursor>"),
    (re.compile(r"/uploads/[A-Za-z0-9._-]+"), "/uploads/<token>"),
]
_ID = re.compile(r"(org|key|wbh|file)_[A-Za-z0-9]{22}(?![A-Za-z0-9])")


class Normalizer:
    """Replaces ids (the same id by the same placeholder throughout a session), tokens and
    cursors, which are random, by placeholders."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.counts: dict[str, int] = {}

    def __call__(self, text: str) -> str:
        for pattern, replacement in _TOKENS:
            text = pattern.sub(replacement, text)
        return _ID.sub(self._name, text)

    def _name(self, match: re.Match[str]) -> str:
        ident = match.group(0)
        if ident not in self.names:
            prefix = match.group(1)
            self.counts[prefix] = self.counts.get(prefix, 0) + 1
            self.names[ident] = f"<{prefix}-{self.counts[prefix]}>"
        return self.names[ident]


def session(app: Flask, client: ApiClient, clock: Any) -> list[tuple[str, TestResponse]]:
    """The scripted session, as (label, response) pairs."""
    services = get_services(app)
    world = make_world(services)
    client.secret = world.secret
    hook = services.registry.create_webhook(world.org.id, url="https://example.com/hook",
                                            file_url_ttl=3600)
    imports = f"imports/{world.org.id}"
    services.storage.write(f"{imports}/contract.pdf", iter([b"%PDF-1.7 contract"]))
    out: list[tuple[str, TestResponse]] = []

    def step(label: str, response: TestResponse) -> TestResponse:
        out.append((label, response))
        return response

    clock.advance(1)
    uploaded = step("POST /files (multipart)", client.upload(
        b"snapshot\n", "notes.txt", metadata={"project": "apollo", "owner": "ana"}))
    file_id = uploaded.get_json(force=True)["data"]["id"]
    clock.advance(1)
    step("POST /files (register)", client.register({
        "filename": "contract.pdf", "content-type": "application/pdf",
        "storage-key": f"{imports}/contract.pdf"}))
    step("GET /files/{id}?include=organization,created-by", client.get(
        f"/api/v1/files/{file_id}?include=organization,created-by"))
    step("GET /files/{id}?fields[file]=checksum,url,url-expires-at,metadata.project",
         client.get(f"/api/v1/files/{file_id}?fields[file]=checksum,url,url-expires-at,"
                    "metadata.project"))
    step("GET /files/{id}?webhook-id&url-ttl&url-disposition", client.get(
        f"/api/v1/files/{file_id}?webhook-id={hook.id}&url-ttl=600&url-disposition=attachment"))
    step("GET /files?page[size]=2", client.get("/api/v1/files?page[size]=2"))
    step("GET /files?filter[id]", client.get(
        f"/api/v1/files?filter[id]={world.file.id},{file_id}&fields[file]=filename,checksum"))
    step("GET /api-keys/{id}?include=organization", client.get(
        f"/api/v1/api-keys/{world.key.id}?include=organization"))
    step("GET /webhooks/{id}", client.get(f"/api/v1/webhooks/{hook.id}"))
    step("GET /organizations/{id}", client.get(f"/api/v1/organizations/{world.org.id}"))
    step("GET /versions", client.get("/api/v1/versions"))
    step("GET /files/{missing}", client.get("/api/v1/files/file_" + "0" * 22))
    step("GET /files?sort=name", client.get("/api/v1/files?sort=name"))
    step("POST /files (storage-key not found)", client.register(
        {"filename": "x.txt", "storage-key": f"{imports}/missing.txt"}))
    step("DELETE /files/{id}", client.delete(f"/api/v1/files/{file_id}"))
    minted = step("POST /upload-urls", client.post(
        "/api/v1/upload-urls", headers={"Content-Type": "application/vnd.api+json"},
        data=json.dumps({"data": {"type": "upload-url", "attributes": {
            "filename": "upload.txt", "content-type": "text/*", "metadata": {"via": "url"}}}})))
    upload_url = minted.get_json(force=True)["data"]["attributes"]["url"]
    step("PUT /uploads/{token}", client.request(
        "PUT", upload_url.removeprefix("https://files.example.com"), data=b"uploaded\n",
        headers={"Content-Type": "text/plain"}))
    return out


def snapshot_of(responses: list[tuple[str, TestResponse]]) -> list[dict[str, Any]]:
    normalize = Normalizer()
    frozen = []
    for label, response in responses:
        headers = {name: normalize(response.headers[name]) for name in HEADERS
                   if name in response.headers}
        body = json.loads(normalize(response.get_data(as_text=True))) if response.data else None
        if label == "GET /versions":
            # Each release adds an entry to the list and makes the newest "supported" (new
            # data, not a new shape): freeze the shape through the first version's entry,
            # which no release changes.
            body["data"] = [entry for entry in body["data"] if entry["id"] == BUNDLE.first]
        frozen.append({"request": label, "status": response.status_code, "headers": headers,
                       "body": body})
    return frozen


@pytest.fixture
def run_session(make_app: Callable[..., Flask], validate: Any, clock: Any
                ) -> Callable[[str], list[tuple[str, TestResponse]]]:
    def run(version: str) -> list[tuple[str, TestResponse]]:
        app = make_app(enable_unstable=version == "unstable")
        return session(app, ApiClient(app, validate, version=version), clock)

    return run


@pytest.mark.parametrize("version", BUNDLE.versions)
def test_each_versions_shapes_are_frozen(version: str, run_session) -> None:
    frozen = snapshot_of(run_session(version))
    path = SNAPSHOTS / f"{version}.json"
    text = json.dumps(frozen, indent=2, ensure_ascii=False) + "\n"
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), (
        f"no snapshot for {version}: run FILES_TEST_UPDATE_SNAPSHOTS=1 .venv/bin/pytest "
        "tests/api/test_snapshots.py and review the new file"
    )
    expected = json.loads(path.read_text(encoding="utf-8"))
    for was, now in zip(expected, frozen, strict=True):
        assert now == was, f"{version}: {was['request']} changed"
    assert all(step["headers"].get("Files-Version") == version for step in frozen)


def test_there_is_a_snapshot_for_each_released_version_and_no_other() -> None:
    assert sorted(p.stem for p in SNAPSHOTS.glob("*.json")) == sorted(BUNDLE.versions)


def test_the_versions_differ_where_their_changes_say(run_session) -> None:
    """What each change brought shows between neighbouring snapshots."""
    upload = {version: json.loads((SNAPSHOTS / f"{version}.json").read_text())[0]["body"]
              for version in BUNDLE.versions}
    newest, middle, first = (upload[v]["data"]["attributes"]
                             for v in ("2025-06-01", "2023-01-05", "2022-09-01"))
    assert isinstance(newest["checksum"], dict) and isinstance(middle["checksum"], str)
    assert "access_token=" in middle["url"] and middle["url-expires-at"] is not None
    assert "/api/v1/files/<token>/" in first["url"] and first["url-expires-at"] is None


def test_no_change_object_is_ineffective_on_real_responses(run_session) -> None:
    """Each change alters the head shape of the real API's resources (cadwyn refuses a
    change that matches nothing): head samples of every type the API serves, taken from
    the ``unstable`` version, which is the head."""
    responses = dict(run_session("unstable"))
    samples = []
    for label in ("GET /files/{id}?include=organization,created-by",
                  "GET /webhooks/{id}", "GET /versions"):
        document = responses[label].get_json(force=True)
        data = document["data"]
        samples += data if isinstance(data, list) else [data]
        samples += document.get("included", [])
    assert {sample["type"] for sample in samples} == {
        "file", "organization", "api-key", "webhook", "version"}
    ctx = MigrationContext(legacy_file_url=lambda file_id: f"legacy:{file_id}")
    assert find_ineffective_changes(BUNDLE, samples, ctx) == []
