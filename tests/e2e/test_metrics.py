"""``/metrics`` under ``files-service serve``: two servers on one host (two replicas sharing a
``var/`` folder, on two addresses) keep their own counters when one (re)starts, what an operator
alerts on (downloads, uploads and their refusals, storage and database calls) moves with
traffic, and no token or key reaches a scrape."""

from __future__ import annotations

import json
import re
import sqlite3
import urllib.error
import urllib.request

import pytest

from tests.api.conftest import Part, multipart
from tests.e2e.test_serve import fetch

pytestmark = pytest.mark.e2e


def sample(scrape: str, name: str) -> float:
    """The value of one series (``name`` with its labels, as exposed)."""
    match = re.search(rf"^{re.escape(name)} (\S+)$", scrape, re.MULTILINE)
    assert match, f"{name} is not in the scrape"
    return float(match.group(1))


def test_two_servers_on_one_host_keep_their_own_metrics(make_server):
    first = make_server()
    demo = first.cli_json("demo")
    first.start(workers=2)
    for _ in range(3):
        status, _, body = fetch(demo["url"])
        assert status == 200 and body.startswith(b"Hello")
    bad = demo["url"][:-3] + ("AAA" if not demo["url"].endswith("AAA") else "BBB")
    assert fetch(bad)[0] == 403
    legacy = first.cli_json("mint", demo["file"], "--key", demo["api-key"],
                            "--version", "2022-09-01")["url"]
    assert fetch(legacy, {"Authorization": f"Bearer {demo['secret']}"})[0] == 200

    second = make_server()  # the same var/ and database, another address
    second.start(workers=1)
    assert fetch(second.base + "/healthz")[0] == 200

    scrape = fetch(first.base + "/metrics")[2].decode()
    downloads = 'files_downloads_total{outcome="ok"}'
    assert sample(scrape, downloads) == 4  # the second server's start wiped nothing
    assert sample(fetch(second.base + "/metrics")[2].decode(), downloads) == 0
    # What an operator alerts on.
    assert sample(scrape, "files_download_first_byte_seconds_count") == 4
    assert sample(scrape, "files_download_duration_seconds_count") == 4
    assert sample(scrape, 'files_storage_seconds_count{operation="open"}') == 4
    assert sample(scrape, 'files_storage_errors_total{operation="open"}') == 0
    assert sample(scrape, "files_downloads_in_flight") == 0
    assert sample(scrape, 'files_token_verifications_total{kid="e2e"}') == 4
    assert re.search(r'^files_build_info\{python="[\d.]+",version="[^"]+"\} 1\.0$', scrape,
                     re.MULTILINE)
    # No secret in any label or value.
    token = demo["url"].split("access_token=")[1]
    legacy_token = legacy.split("/api/v1/files/")[1].split("/")[0]
    for secret in (token, legacy_token, demo["secret"], bad.split("access_token=")[1]):
        assert secret not in scrape
        assert secret[-16:] not in scrape


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read())


def test_uploads_and_database_calls_are_counted(make_server, tmp_path):
    server = make_server(FILES_MAX_UPLOAD_BYTES="1000")
    demo = server.cli_json("demo")
    server.start(workers=2)
    files = server.base + "/api/v1/files"
    auth = {"Authorization": f"Bearer {demo['secret']}"}

    def upload(content: bytes, *parts: Part) -> tuple[int, dict]:
        body, content_type = multipart(parts or [Part("file", content, "notes.txt")])
        return post(files, body, {**auth, "Content-Type": content_type})

    assert upload(b"x" * 100)[0] == 201
    assert upload(b"x" * 300)[0] == 201
    status, answer = upload(b"x" * 1001)
    assert (status, answer["errors"][0]["code"]) == (413, "upload_too_large")
    status, answer = upload(b"", Part("metadata", b"{}", None, "application/json"))
    assert status == 400  # no file part
    used = server.cli_json("orgs", "set-quota", demo["organization"], "600")["storage-used"]
    assert used == 185 + 400  # the demo file and the two uploads
    status, answer = upload(b"x" * 100)
    assert (status, answer["errors"][0]["code"]) == (403, "quota_exceeded")
    server.cli("orgs", "set-quota", demo["organization"], "none")

    scrape = fetch(server.base + "/metrics")[2].decode()
    assert sample(scrape, 'files_uploads_total{outcome="ok"}') == 2
    assert sample(scrape, "files_upload_bytes_total") == 400
    for refused in ("upload_too_large", "bad_request", "quota_exceeded"):
        assert sample(scrape, f'files_uploads_total{{outcome="{refused}"}}') == 1
    assert sample(scrape, 'files_uploads_total{outcome="registry_unavailable"}') == 0
    # Every request read the registry (the key, the organization); the two uploads wrote it.
    assert sample(scrape, 'files_database_seconds_count{operation="read"}') >= 5
    assert sample(scrape, 'files_database_seconds_count{operation="write"}') == 2
    for operation in ("read", "write"):
        assert sample(scrape, f'files_database_errors_total{{operation="{operation}"}}') == 0

    # The database fails a write: another process holds SQLite's write lock past the busy
    # timeout (5 s), so the upload's row cannot be written.
    database = sqlite3.connect(server.env["FILES_DATABASE_URL"].removeprefix("sqlite:///"),
                               isolation_level=None)
    try:
        database.execute("BEGIN IMMEDIATE")
        status, answer = upload(b"x" * 10)
    finally:
        database.close()
    assert (status, answer["errors"][0]["code"]) == (503, "registry_unavailable")
    scrape = fetch(server.base + "/metrics")[2].decode()
    assert sample(scrape, 'files_database_errors_total{operation="write"}') == 1
    assert sample(scrape, 'files_database_errors_total{operation="read"}') == 0
    assert sample(scrape, 'files_uploads_total{outcome="registry_unavailable"}') == 1
    assert sample(scrape, "files_upload_bytes_total") == 400
    assert demo["secret"] not in scrape and demo["secret"][-16:] not in scrape
