"""The real thing: ``files-service serve`` under gunicorn on a loopback port, driven by the
CLI and plain HTTP, as a new user would. Also proves that no token or API key secret ever
reaches the server's logs."""

from __future__ import annotations

import os
import urllib.error
import urllib.request

import pytest

from tests.registry.conftest import PG_ENV, isolated_postgres_url

pytestmark = pytest.mark.e2e


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def exercise(server) -> None:  # type: ignore[no-untyped-def]
    demo = server.cli_json("demo")
    server.start(workers=2)
    status, headers, body = fetch(demo["url"])
    assert status == 200
    assert body.startswith(b"Hello from files_service!")
    assert headers["Content-Disposition"].startswith("inline;")

    token = demo["url"].split("access_token=")[1]
    bad = demo["url"][:-3] + ("AAA" if not demo["url"].endswith("AAA") else "BBB")
    assert fetch(bad)[0] == 403

    legacy = server.cli_json("mint", demo["file"], "--key", demo["api-key"],
                             "--version", "2022-09-01")
    assert "/api/v1/files/" in legacy["url"] and legacy["expires-at"] is None
    assert fetch(legacy["url"])[0] == 401
    auth = {"Authorization": f"Bearer {demo['secret']}"}
    status, _, body = fetch(legacy["url"], auth)
    assert status == 200 and body.startswith(b"Hello")
    assert fetch(server.base + "/readyz")[0] == 200
    metrics = fetch(server.base + "/metrics")[2].decode()
    assert 'files_downloads_total{outcome="ok"}' in metrics

    log = server.stop()
    assert "GET /" in log  # the access log is there…
    legacy_token = legacy["url"].split("/api/v1/files/")[1].split("/")[0]
    for secret in (token, legacy_token, demo["secret"], bad.split("access_token=")[1]):
        assert secret not in log  # …and no secret is in it
        assert secret[-16:] not in log


def test_serve_downloads_and_keeps_secrets_out_of_logs(make_server):
    exercise(make_server())


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} is not set")
def test_serve_on_postgresql(make_server):
    with isolated_postgres_url(os.environ[PG_ENV]) as url:
        exercise(make_server(FILES_DATABASE_URL=url))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FILES_CDN_CACHE", "everywhere"),
        # In development too: a short secret can be guessed offline from any URL.
        ("FILES_SIGNING_KEYS", "k1:a"),
        # A storage folder holding var/ (and the database): a tenant could register the
        # signing key or the database as a file and download it.
        ("FILES_STORAGE", "local://{tmp}"),
        ("FILES_STORAGE", "local://{tmp}/var"),
    ],
)
def test_bad_setting_refuses_to_start_in_one_line(make_server, tmp_path, name, value):
    server = make_server()
    server.env[name] = value.format(tmp=tmp_path)
    result = server.cli("serve", check=False)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{name}:" in lines[0], result.stderr


def test_unreachable_database_refuses_to_start(make_server):
    server = make_server()
    server.env["FILES_DATABASE_URL"] = "postgresql://root@127.0.0.1:1/test"
    result = server.cli("serve", check=False)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1


def test_local_files_served_by_sendfile_are_exact(make_server, tmp_path):
    """Under gunicorn, local files go out through wsgi.file_wrapper (sendfile): whole files
    and ranges must still be exactly the bytes asked for, never more."""
    server = make_server()
    content = os.urandom(3 * 1024 * 1024 + 12345)
    source = tmp_path / "big.bin"
    source.write_bytes(content)
    org = server.cli_json("orgs", "create", "Acme")
    key = server.cli_json("keys", "create", "--org", org["id"])
    file = server.cli_json("upload", str(source), "--org", org["id"])
    url = server.cli_json("mint", file["id"], "--key", key["id"])["url"]
    server.start(workers=1)
    status, headers, body = fetch(url)
    assert status == 200 and body == content
    size = len(content)
    for header, expected in [
        ("bytes=0-0", content[:1]),
        ("bytes=1000000-2999999", content[1000000:3000000]),
        ("bytes=-5000", content[-5000:]),
        (f"bytes={size - 10}-", content[-10:]),
    ]:
        status, headers, body = fetch(url, {"Range": header})
        assert status == 206, header
        assert body == expected, header
        assert headers["Content-Length"] == str(len(expected))
    server.stop()
