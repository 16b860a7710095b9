"""The command line (§8), through click's runner with real settings from the environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from files_service import create_app
from files_service.cli import cli
from files_service.settings import Settings


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "FILES_DATABASE_URL": f"sqlite:///{tmp_path / 'files.db'}",
        "FILES_STORAGE": f"local://{tmp_path / 'objects'}",
        "FILES_VAR_DIR": str(tmp_path / "var"),
        "FILES_SIGNING_KEYS": "c1:" + "c" * 32,
    }


@pytest.fixture
def run(env):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True):  # type: ignore[no-untyped-def]
        result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    invoke("init")
    return invoke


def as_json(result) -> dict:  # type: ignore[no-untyped-def]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    return json.loads(lines[0])


def test_init_is_idempotent(run):
    run("init")
    assert as_json(run("init", "--json")) == {"status": "ok"}


def test_command_before_init_says_to_run_init(env):
    result = CliRunner().invoke(cli, ["orgs", "create", "Acme"], env=env)
    assert result.exit_code != 0
    assert "files-service init" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_org_key_lifecycle(run):
    org = as_json(run("orgs", "create", "Acme", "--json"))
    assert org["id"].startswith("org_") and org["name"] == "Acme"
    key = as_json(run("keys", "create", "--org", org["id"], "--name", "ci", "--ttl", "600",
                      "--json"))
    assert key["secret"].startswith("fsk_") and len(key["secret"]) >= 44
    assert key["file-url-ttl"] == 600 and key["api-version"] is None
    listed = as_json(run("keys", "list", "--org", org["id"], "--json"))
    assert [k["id"] for k in listed["api-keys"]] == [key["id"]]
    assert key["secret"] not in json.dumps(listed)
    assert as_json(run("keys", "set-ttl", key["id"], "86400", "--json"))["file-url-ttl"] == 86400
    assert as_json(run("keys", "set-version", key["id"], "2023-01-05", "--json"))[
        "api-version"] == "2023-01-05"
    assert as_json(run("keys", "revoke", key["id"], "--json"))["status"] == "revoked"


@pytest.mark.parametrize("ttl", ["0", "86401", "-5", "6h", "1.5"])
def test_bad_ttl_is_refused_not_clamped(run, ttl):
    org = as_json(run("orgs", "create", "Acme", "--json"))
    result = run("keys", "create", "--org", org["id"], "--ttl", ttl, ok=False)
    assert result.exit_code != 0
    assert "--ttl" in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1
    assert json.loads(run("keys", "list", "--org", org["id"], "--json").stdout)["api-keys"] == []


def test_unknown_ids_and_versions_are_one_line_errors(run):
    result = run("keys", "revoke", "key_doesnotexist", ok=False)
    assert result.exit_code != 0 and "KEY" in result.stderr
    org = as_json(run("orgs", "create", "Acme", "--json"))
    result = run("keys", "create", "--org", org["id"], "--version", "2021-01-01", ok=False)
    assert result.exit_code != 0 and "2021-01-01" in result.stderr


def test_webhooks(run):
    org = as_json(run("orgs", "create", "Acme", "--json"))
    hook = as_json(run("webhooks", "create", "--org", org["id"], "--url",
                       "https://hooks.example.com/x", "--ttl", "3600", "--json"))
    assert hook["id"].startswith("wbh_") and hook["file-url-ttl"] == 3600
    assert as_json(run("webhooks", "list", "--org", org["id"], "--json"))["webhooks"][0][
        "id"] == hook["id"]
    assert as_json(run("webhooks", "set-ttl", hook["id"], "60", "--json"))["file-url-ttl"] == 60
    assert as_json(run("webhooks", "revoke", hook["id"], "--json"))["status"] == "revoked"
    bad = run("webhooks", "create", "--org", org["id"], "--url", "ftp://x", ok=False)
    assert bad.exit_code != 0 and "url" in bad.stderr


def test_upload_and_mint_then_download(run, env, tmp_path):
    org = as_json(run("orgs", "create", "Acme", "--json"))
    key = as_json(run("keys", "create", "--org", org["id"], "--json"))
    source = tmp_path / "photo.png"
    source.write_bytes(b"\x89PNG" + bytes(5000))
    uploaded = as_json(run("upload", str(source), "--org", org["id"], "--json"))
    assert uploaded["filename"] == "photo.png"
    assert uploaded["content-type"] == "image/png"
    assert uploaded["byte-size"] == 5004
    minted = as_json(run("mint", uploaded["id"], "--key", key["id"], "--ttl", "60",
                         "--attachment", "--json"))
    assert "access_token=" in minted["url"] and minted["expires-at"].endswith("Z")
    legacy = as_json(run("mint", uploaded["id"], "--key", key["id"], "--version",
                         "2022-09-01", "--json"))
    assert "/api/v1/files/" in legacy["url"] and legacy["expires-at"] is None

    app = create_app(Settings.from_env(env))
    path = minted["url"].removeprefix("http://127.0.0.1:8000")
    response = app.test_client().get(path, buffered=True)
    assert response.status_code == 200
    assert response.data == source.read_bytes()
    assert response.headers["Content-Disposition"].startswith("attachment;")


def test_mint_longer_than_the_ttl_is_refused(run, tmp_path):
    org = as_json(run("orgs", "create", "Acme", "--json"))
    key = as_json(run("keys", "create", "--org", org["id"], "--ttl", "60", "--json"))
    source = tmp_path / "a.txt"
    source.write_text("a")
    file = as_json(run("upload", str(source), "--org", org["id"], "--json"))
    result = run("mint", file["id"], "--key", key["id"], "--ttl", "61", ok=False)
    assert result.exit_code != 0 and "url-ttl" in result.stderr


def test_upload_refuses_a_bad_filename_and_leaves_nothing(run, tmp_path):
    org = as_json(run("orgs", "create", "Acme", "--json"))
    source = tmp_path / "a.txt"
    source.write_text("a")
    result = run("upload", str(source), "--org", org["id"], "--filename", "a\nb", ok=False)
    assert result.exit_code != 0 and "filename" in result.stderr
    assert not any(p.is_file() for p in (tmp_path / "objects").rglob("*"))


def test_versions(run):
    rows = as_json(run("versions", "--json"))["versions"]
    assert [r["identifier"] for r in rows][:3] == ["2025-06-01", "2023-01-05", "2022-09-01"]


def test_demo_prints_a_working_url(run, env):
    demo = as_json(run("demo", "--json"))
    app = create_app(Settings.from_env(env))
    response = app.test_client().get(demo["url"].removeprefix("http://127.0.0.1:8000"),
                                     buffered=True)
    assert response.status_code == 200
    assert response.data.startswith(b"Hello from files_service!")


def test_bad_setting_is_one_line(env):
    result = CliRunner().invoke(cli, ["init"], env={**env, "FILES_DELIVERY": "pigeon"})
    assert result.exit_code != 0
    assert result.stderr.strip().splitlines() == [
        "Error: FILES_DELIVERY: must be one of stream, redirect, accel; got 'pigeon'"
    ]
