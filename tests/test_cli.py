"""The command line (§8), through click's runner. As flaskr's ``runner`` passes an app, the
tests pass settings and a movable clock as click's ``obj``, on SQLite and on PostgreSQL (with
``FILES_TEST_DATABASE_URL``); two tests go through the environment, as the installed command
does."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import update

from files_service.cli import DEFAULT_TTL_HELP, CliContext, cli
from files_service.clock import ManualClock
from files_service.registry import DEFAULT_FILE_URL_TTL, SCHEMA_VERSION
from files_service.registry.engine import open_engine
from files_service.registry.schema import schema_version
from files_service.services import Services
from files_service.settings import Settings
from tests.registry.conftest import PG_ENV, PG_SKIP_REASON, isolated_postgres_url

Run = Callable[..., Result]


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=[pytest.mark.postgres, pytest.mark.skipif(not os.environ.get(PG_ENV),
                                                            reason=PG_SKIP_REASON)],
        ),
    ]
)
def base_settings(request: pytest.FixtureRequest, base_settings: Settings) -> Iterator[Settings]:
    """The shared settings, once on SQLite and once on a PostgreSQL schema of the test's own."""
    if request.param == "sqlite":
        yield base_settings
        return
    with isolated_postgres_url(os.environ[PG_ENV]) as url:
        yield base_settings.with_changes(database_url=url)


@pytest.fixture
def invoke(base_settings: Settings, clock: ManualClock) -> Run:
    """Runs a command on ``base_settings`` and the test's clock (``ok``: it must succeed)."""
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(
            cli, list(args), obj=CliContext(settings=base_settings, clock=clock),
            catch_exceptions=False,
        )
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    return invoke


@pytest.fixture
def run(invoke: Run) -> Run:
    """``invoke`` on a registry already initialized."""
    invoke("init")
    return invoke


@pytest.fixture
def web(app: Flask) -> Any:
    """A test client of the service on the same settings and clock as ``run``."""
    return app.test_client()


def as_json(result: Result) -> dict[str, Any]:
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    loaded = json.loads(lines[0])
    assert isinstance(loaded, dict)
    return loaded


def one_line_error(result: Result) -> str:
    assert result.exit_code != 0
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def org_key_file(
    run: Run, tmp_path: Path, *key_options: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A new organization, an API key of it (made with ``key_options``) and a small file."""
    org = as_json(run("orgs", "create", "Acme", "--json"))
    key = as_json(run("keys", "create", "--org", org["id"], *key_options, "--json"))
    source = tmp_path / "a.txt"
    source.write_text("a")
    return org, key, as_json(run("upload", str(source), "--org", org["id"], "--json"))


def download_path(url: str) -> str:
    return url.removeprefix("https://files.example.com").removeprefix("https://api.example.com")


def test_init_says_whether_it_created_the_schema(invoke: Run, base_settings: Settings) -> None:
    assert invoke("init").stdout == f"registry schema created (version {SCHEMA_VERSION})\n"
    assert invoke("init").stdout == (
        f"registry schema is current (version {SCHEMA_VERSION}): nothing to do\n")
    assert as_json(invoke("init", "--json")) == {
        "status": "current", "schema-version": SCHEMA_VERSION,
        "previous-schema-version": SCHEMA_VERSION,
    }
    # A replica of the previous release, after the next one migrated: told, not changed.
    engine = open_engine(base_settings.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(update(schema_version).values(version=SCHEMA_VERSION + 1))
    finally:
        engine.dispose()
    assert f"newer than this release's {SCHEMA_VERSION}: left as it is" in invoke("init").stdout
    assert as_json(invoke("init", "--json"))["status"] == "newer"


def test_init_json_says_created(invoke: Run) -> None:
    assert as_json(invoke("init", "--json")) == {
        "status": "created", "schema-version": SCHEMA_VERSION, "previous-schema-version": None,
    }


def test_command_before_init_says_to_run_init(base_settings: Settings) -> None:
    result = CliRunner().invoke(
        cli, ["orgs", "create", "Acme"], obj=CliContext(settings=base_settings)
    )
    assert "files-service init" in one_line_error(result)


def test_org_key_lifecycle(run: Run) -> None:
    org = as_json(run("orgs", "create", "Acme", "--json"))
    assert org["id"].startswith("org_") and org["name"] == "Acme"
    key = as_json(run("keys", "create", "--org", org["id"], "--name", "ci", "--ttl", "600",
                      "--json"))
    assert key["secret"].startswith("fsk_") and len(key["secret"]) >= 44
    assert key["file-url-ttl"] == 600 and key["api-version"] is None
    assert key["organization"] == org["id"]
    listed = as_json(run("keys", "list", "--org", org["id"], "--json"))
    assert [k["id"] for k in listed["api-keys"]] == [key["id"]]
    assert key["secret"] not in json.dumps(listed)
    assert as_json(run("keys", "set-ttl", key["id"], "86400", "--json"))["file-url-ttl"] == 86400
    assert as_json(run("keys", "set-version", key["id"], "2023-01-05", "--json"))[
        "api-version"] == "2023-01-05"
    assert as_json(run("keys", "revoke", key["id"], "--json"))["status"] == "revoked"
    assert run("keys", "list", "--org", org["id"]).stdout.startswith(f"{key['id']}  revoked")


def test_webhooks(run: Run) -> None:
    org = as_json(run("orgs", "create", "Acme", "--json"))
    hook = as_json(run("webhooks", "create", "--org", org["id"], "--url",
                       "https://hooks.example.com/x", "--ttl", "3600", "--json"))
    assert hook["id"].startswith("wbh_") and hook["file-url-ttl"] == 3600
    assert as_json(run("webhooks", "list", "--org", org["id"], "--json"))["webhooks"][0][
        "id"] == hook["id"]
    assert as_json(run("webhooks", "set-ttl", hook["id"], "60", "--json"))["file-url-ttl"] == 60
    assert as_json(run("webhooks", "set-version", hook["id"], "2022-09-01", "--json"))[
        "api-version"] == "2022-09-01"
    assert as_json(run("webhooks", "revoke", hook["id"], "--json"))["status"] == "revoked"
    bad = run("webhooks", "create", "--org", org["id"], "--url", "ftp://x", ok=False)
    assert "url" in one_line_error(bad)


def test_keys_and_webhooks_do_not_mix(run: Run) -> None:
    org = as_json(run("orgs", "create", "Acme", "--json"))
    key = as_json(run("keys", "create", "--org", org["id"], "--json"))
    hook = as_json(run("webhooks", "create", "--org", org["id"], "--url", "https://h.example/",
                       "--json"))
    assert [k["id"] for k in as_json(run("keys", "list", "--org", org["id"], "--json"))[
        "api-keys"]] == [key["id"]]
    assert [h["id"] for h in as_json(run("webhooks", "list", "--org", org["id"], "--json"))[
        "webhooks"]] == [hook["id"]]
    # A webhook's id where a key's belongs (and the reverse) is refused, naming the argument,
    # and changes nothing.
    assert "KEY" in one_line_error(run("keys", "revoke", hook["id"], ok=False))
    assert "WBH" in one_line_error(run("webhooks", "set-ttl", key["id"], "60", ok=False))
    assert as_json(run("webhooks", "list", "--org", org["id"], "--json"))["webhooks"][0][
        "status"] == "active"


@pytest.mark.parametrize("ttl", ["0", "86401", "-5", "6h", "1.5", "9" * 5000])
@pytest.mark.parametrize("group", ["keys", "webhooks"])
def test_bad_ttl_is_refused_not_clamped(run: Run, group: str, ttl: str) -> None:
    org = as_json(run("orgs", "create", "Acme", "--json"))
    own = ["--url", "https://h.example/"] if group == "webhooks" else []
    result = run(group, "create", "--org", org["id"], *own, "--ttl", ttl, ok=False)
    assert "--ttl" in one_line_error(result)
    plural = "api-keys" if group == "keys" else "webhooks"
    assert as_json(run(group, "list", "--org", org["id"], "--json"))[plural] == []


def test_a_secret_given_for_an_id_is_not_repeated(run: Run) -> None:
    org = as_json(run("orgs", "create", "Acme", "--json"))
    secret = as_json(run("keys", "create", "--org", org["id"], "--json"))["secret"]
    for command in (["keys", "revoke", secret], ["keys", "set-ttl", secret, "60"],
                    ["mint", "file_" + "x" * 22, "--key", secret]):
        result = run(*command, ok=False)
        error = one_line_error(result)
        assert "an API key secret, which is not repeated here" in error
        assert secret[4:] not in result.output + result.stderr
    assert as_json(run("keys", "list", "--org", org["id"], "--json"))["api-keys"][0][
        "status"] == "active"


def test_unknown_ids_and_versions_are_one_line_errors(run: Run) -> None:
    assert "KEY" in one_line_error(run("keys", "revoke", "key_doesnotexist", ok=False))
    org = as_json(run("orgs", "create", "Acme", "--json"))
    result = run("keys", "create", "--org", org["id"], "--version", "2021-01-01", ok=False)
    assert "2021-01-01" in one_line_error(result)


def test_json_is_the_api_s_newest_shape(run: Run, web: Any) -> None:
    """The command line's JSON is built by the API's resource builders: the same attributes,
    values and relationships as the API's newest version shows (checksum included)."""
    org = as_json(run("orgs", "create", "Acme", "--json"))
    # Pinned already, so that the API's first request does not pin it.
    key = as_json(run("keys", "create", "--org", org["id"], "--version", "2025-06-01", "--json"))
    hook = as_json(run("webhooks", "create", "--org", org["id"], "--url", "https://h.example/",
                       "--json"))
    auth = {"Authorization": f"Bearer {key['secret']}"}

    def from_api(path: str) -> dict[str, Any]:
        response = web.get(path, headers=auth)
        assert response.status_code == 200, response.data
        data = response.get_json()["data"]
        flat = {"id": data["id"], **data["attributes"]}
        for name, relationship in data.get("relationships", {}).items():
            flat[name] = None if relationship["data"] is None else relationship["data"]["id"]
        return flat

    assert {k: v for k, v in key.items() if k != "secret"} == from_api(
        f"/api/v1/api-keys/{key['id']}")
    assert hook == from_api(f"/api/v1/webhooks/{hook['id']}")
    assert org == from_api(f"/api/v1/organizations/{org['id']}")


def test_upload_and_mint_then_download(
    run: Run, web: Any, tmp_path: Path, clock: ManualClock
) -> None:
    org = as_json(run("orgs", "create", "Acme", "--json"))
    key = as_json(run("keys", "create", "--org", org["id"], "--json"))
    source = tmp_path / "photo.png"
    source.write_bytes(b"\x89PNG" + bytes(5000))
    uploaded = as_json(run("upload", str(source), "--org", org["id"], "--json"))
    assert uploaded["filename"] == "photo.png"
    assert uploaded["content-type"] == "image/png"
    assert uploaded["byte-size"] == 5004
    assert uploaded["created-by"] is None and uploaded["organization"] == org["id"]
    assert uploaded["checksum"] == {
        "algorithm": "sha256", "value": hashlib.sha256(source.read_bytes()).hexdigest()
    }
    minted = as_json(run("mint", uploaded["id"], "--key", key["id"], "--ttl", "60",
                         "--attachment", "--json"))
    assert "access_token=" in minted["url"] and minted["expires-at"].endswith("Z")
    legacy = as_json(run("mint", uploaded["id"], "--key", key["id"], "--version",
                         "2022-09-01", "--json"))
    assert "/api/v1/files/" in legacy["url"] and legacy["expires-at"] is None

    # The API shows the file as the command line did (but for the URL it mints).
    response = web.get(f"/api/v1/files/{uploaded['id']}",
                       headers={"Authorization": f"Bearer {key['secret']}"})
    attributes = response.get_json()["data"]["attributes"]
    del attributes["url"], attributes["url-expires-at"]
    assert {k: uploaded[k] for k in attributes} == attributes

    response = web.get(download_path(minted["url"]))
    assert response.status_code == 200
    assert response.data == source.read_bytes()
    assert response.headers["Content-Disposition"].startswith("attachment;")
    # The command minted on the test's clock: the URL dies when that clock passes its TTL.
    clock.advance(60 + 31)
    expired = web.get(download_path(minted["url"]))
    assert expired.status_code == 403
    assert expired.get_json()["errors"][0]["code"] == "expired_token"


def test_mint_longer_than_the_ttl_is_refused(run: Run, tmp_path: Path) -> None:
    _, key, file = org_key_file(run, tmp_path, "--ttl", "60")
    for ttl in ("61", "30000"):
        error = one_line_error(run("mint", file["id"], "--key", key["id"], "--ttl", ttl, ok=False))
        assert error.startswith("Error: --ttl: may not exceed the file-url-ttl of")
    # Over a day is refused as such, before the principal is looked at.
    error = one_line_error(run("mint", file["id"], "--key", key["id"], "--ttl", "86401", ok=False))
    assert "--ttl" in error and "86400" in error


def test_upload_refuses_a_bad_filename_and_leaves_nothing(run: Run, tmp_path: Path) -> None:
    org = as_json(run("orgs", "create", "Acme", "--json"))
    source = tmp_path / "a.txt"
    source.write_text("a")
    result = run("upload", str(source), "--org", org["id"], "--filename", "a\nb", ok=False)
    assert "filename" in one_line_error(result)
    assert not any(p.is_file() for p in (tmp_path / "objects").rglob("*"))


@pytest.mark.parametrize(
    ("asked", "style"),
    [("2022-09-01", "legacy"), ("2023-01-04", "legacy"), ("2023-01-05", "current"),
     ("2024-03-01", "current"), ("2026-01-01", "current")],
)
def test_mint_version_is_read_as_the_api_reads_it(
    run: Run, tmp_path: Path, asked: str, style: str
) -> None:
    """A well-formed date that is not a release means the release on or before it (§6)."""
    _, key, file = org_key_file(run, tmp_path)
    minted = as_json(run("mint", file["id"], "--key", key["id"], "--version", asked, "--json"))
    assert minted["style"] == style


@pytest.mark.parametrize(
    ("asked", "says"),
    [
        ("2024-13-01", "must be a date as YYYY-MM-DD or 'unstable', not '2024-13-01'"),
        ("yesterday", "must be a date as YYYY-MM-DD or 'unstable', not 'yesterday'"),
        ("2026-01-02", "names 2026-01-02, a date in the future"),  # the test clock's tomorrow
        ("2022-08-31", "names 2022-08-31, before the first version (2022-09-01)"),
        ("unstable", "asks for 'unstable', which is not enabled"),
    ],
)
def test_a_version_the_api_refuses_is_one_line(
    run: Run, tmp_path: Path, asked: str, says: str
) -> None:
    org, key, file = org_key_file(run, tmp_path)
    for command in (
        ["mint", file["id"], "--key", key["id"], "--version", asked],
        ["keys", "create", "--org", org["id"], "--version", asked],
    ):
        error = one_line_error(run(*command, ok=False))
        assert error.startswith(f"Error: --version {says}"), error
        assert "Supported versions: 2025-06-01, 2023-01-05, 2022-09-01." in error
    error = one_line_error(run("keys", "set-version", key["id"], asked, ok=False))
    assert error.startswith(f"Error: VERSION {says}")
    assert len(as_json(run("keys", "list", "--org", org["id"], "--json"))["api-keys"]) == 1


def test_a_pinned_date_is_stored_as_its_release(run: Run) -> None:
    org = as_json(run("orgs", "create", "Acme", "--json"))
    key = as_json(run("keys", "create", "--org", org["id"], "--version", "2024-03-01", "--json"))
    assert key["api-version"] == "2023-01-05"
    hook = as_json(run("webhooks", "create", "--org", org["id"], "--url", "https://h.example/",
                       "--json"))
    assert as_json(run("webhooks", "set-version", hook["id"], "2025-12-31", "--json"))[
        "api-version"] == "2025-06-01"


def test_unstable_is_accepted_where_enabled(
    base_settings: Settings, clock: ManualClock, run: Run
) -> None:
    org = as_json(run("orgs", "create", "Acme", "--json"))
    enabled = CliContext(settings=base_settings.with_changes(enable_unstable=True), clock=clock)
    result = CliRunner().invoke(
        cli, ["keys", "create", "--org", org["id"], "--version", "unstable", "--json"],
        obj=enabled,
    )
    assert result.exit_code == 0, result.stderr
    assert as_json(result)["api-version"] == "unstable"


def test_orgs_list(run: Run, clock: ManualClock) -> None:
    assert as_json(run("orgs", "list", "--json")) == {"organizations": []}
    assert run("orgs", "list").stdout == "\n"
    first = as_json(run("orgs", "create", "Acme", "--json"))
    clock.advance(1)
    second = as_json(run("orgs", "create", "Zeta Ltd", "--json"))
    assert as_json(run("orgs", "list", "--json")) == {"organizations": [first, second]}
    lines = run("orgs", "list").stdout.splitlines()
    assert lines == [
        f"{first['id']}  2026-01-01T00:00:00.000Z  Acme",
        f"{second['id']}  2026-01-01T00:00:01.000Z  Zeta Ltd",
    ]


def test_files_list_pages_through_every_file(
    run: Run, services: Services, clock: ManualClock
) -> None:
    org = as_json(run("orgs", "create", "Acme", "--json"))
    other = as_json(run("orgs", "create", "Other", "--json"))
    assert as_json(run("files", "list", "--org", org["id"], "--json")) == {"files": []}
    made = []
    for index in range(205):  # past two pages of the registry's listing
        clock.advance(index % 2)  # equal timestamps too
        made.append(services.registry.create_file(
            org["id"], filename=f"f{index}.txt", content_type="text/plain", byte_size=index,
            checksum="0" * 64, storage_key=f"imports/{org['id']}/f{index}",
        ))
    services.registry.create_file(
        other["id"], filename="theirs.txt", content_type="text/plain", byte_size=1,
        checksum="0" * 64, storage_key="imports/other/theirs",
    )
    listed = as_json(run("files", "list", "--org", org["id"], "--json"))["files"]
    newest_first = sorted(made, key=lambda f: (f.created_at, f.id), reverse=True)
    assert [f["id"] for f in listed] == [f.id for f in newest_first]
    text = run("files", "list", "--org", org["id"]).stdout.splitlines()
    assert len(text) == 205 and text[0].startswith(listed[0]["id"])


def test_files_list_of_an_unknown_organization_is_an_error(run: Run) -> None:
    assert "organization org_" in one_line_error(
        run("files", "list", "--org", "org_" + "x" * 22, ok=False))
    assert "--org" in one_line_error(run("files", "list", "--org", "acme", ok=False))
    assert "organization org_" in one_line_error(
        run("keys", "list", "--org", "org_" + "x" * 22, ok=False))


def test_files_show_and_delete(run: Run, web: Any, tmp_path: Path) -> None:
    org = as_json(run("orgs", "create", "Acme", "--json"))
    key = as_json(run("keys", "create", "--org", org["id"], "--json"))
    source = tmp_path / "report.pdf"
    source.write_bytes(b"%PDF-1.7 report")
    uploaded = as_json(run("upload", str(source), "--org", org["id"], "--json"))
    assert as_json(run("files", "show", uploaded["id"], "--json")) == uploaded
    text = run("files", "show", uploaded["id"]).stdout
    assert "filename:      report.pdf\n" in text
    assert "created-by:    -\n" in text
    objects = [p for p in (tmp_path / "objects").rglob("*") if p.is_file()]
    assert len(objects) == 1
    url = as_json(run("mint", uploaded["id"], "--key", key["id"], "--json"))["url"]
    assert web.get(download_path(url)).status_code == 200

    assert as_json(run("files", "delete", uploaded["id"], "--json")) == uploaded
    # Row and object are gone, as after the API's DELETE: every URL to it dies.
    assert not objects[0].exists()
    assert web.get(download_path(url)).status_code == 404
    response = web.get(f"/api/v1/files/{uploaded['id']}",
                       headers={"Authorization": f"Bearer {key['secret']}"})
    assert response.status_code == 404
    for command in ("show", "delete"):
        error = one_line_error(run("files", command, uploaded["id"], ok=False))
        assert error == f"Error: file {uploaded['id']} not found"
    assert "FILE" in one_line_error(run("files", "show", "report.pdf", ok=False))


def test_help_loads_neither_flask_nor_sqlalchemy_nor_boto3() -> None:
    """``files-service --help`` must not wait for the heavy libraries: the command line
    imports them where a command uses them. (Its time is measured in the benchmarks.)"""
    code = (
        "import sys; sys.argv = ['files-service', '--help']\n"
        "from files_service.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('flask', 'sqlalchemy', 'boto3', 'botocore', 'werkzeug')"
        " if m in sys.modules))\n"
        "print(sorted(m for m in sys.modules if m.startswith('files_service')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "Commands:" in out and "files" in out
    heavy, ours = out.strip().splitlines()[-2:]
    assert heavy == "[]"
    # Not even the settings, which bring the versioning and JSON:API cores along.
    assert ours == str(["files_service", "files_service.cli", "files_service.errors",
                        "files_service.ids"])


def test_ttl_help_names_the_registry_default() -> None:
    assert f"default: {DEFAULT_FILE_URL_TTL}," in DEFAULT_TTL_HELP


def test_versions(run: Run) -> None:
    rows = as_json(run("versions", "--json"))["versions"]
    assert [r["identifier"] for r in rows][:3] == ["2025-06-01", "2023-01-05", "2022-09-01"]


def test_demo_prints_a_working_url(run: Run, web: Any) -> None:
    demo = as_json(run("demo", "--json"))
    response = web.get(download_path(demo["url"]))
    assert response.status_code == 200
    assert response.data.startswith(b"Hello from files_service!")


# -- through the environment, as the installed command runs -----------------------------------


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "FILES_DATABASE_URL": f"sqlite:///{tmp_path / 'files.db'}",
        "FILES_STORAGE": f"local://{tmp_path / 'objects'}",
        "FILES_VAR_DIR": str(tmp_path / "var"),
        "FILES_SIGNING_KEYS": "c1:" + "c" * 32,
    }


def test_settings_come_from_the_environment_without_obj(env: dict[str, str]) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["init"], env=env).exit_code == 0
    result = runner.invoke(cli, ["orgs", "create", "Acme", "--json"], env=env)
    assert result.exit_code == 0, result.stderr
    assert as_json(result)["name"] == "Acme"
    assert Path(env["FILES_DATABASE_URL"].removeprefix("sqlite:///")).is_file()


def test_each_command_imports_what_it_needs_in_a_fresh_process(env: dict[str, str]) -> None:
    """Commands import lazily, so each must work as the first thing a process runs (the
    click runner shares one interpreter across tests, which can hide an import cycle)."""
    entry = [sys.executable, "-c", "from files_service.cli import main; main()"]
    for args, says in [
        (["keys", "create", "--org", "org_" + "x" * 22, "--ttl", "0"], "--ttl"),
        (["mint", "file_" + "x" * 22, "--key", "key_" + "x" * 22, "--version", "v1"],
         "--version must be a date"),
        (["files", "show", "report.pdf"], "FILE"),
    ]:
        done = subprocess.run(
            [*entry, *args], env={**os.environ, **env}, capture_output=True, text=True
        )
        assert done.returncode == 1, done.stderr
        assert done.stdout == "" and len(done.stderr.splitlines()) == 1, done.stderr
        assert says in done.stderr


def test_bad_setting_is_one_line(env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["init"], env={**env, "FILES_DELIVERY": "pigeon"})
    assert one_line_error(result) == (
        "Error: FILES_DELIVERY: must be one of stream, redirect, accel; got 'pigeon'"
    )


# -- storage quotas --------------------------------------------------------------------------


def test_orgs_set_quota_bounds_what_an_organization_stores(run: Run, tmp_path: Path) -> None:
    org = as_json(run("orgs", "create", "Acme", "--json"))
    assert (org["storage-quota"], org["storage-used"]) == (None, 0)
    done = as_json(run("orgs", "set-quota", org["id"], "1000", "--json"))
    assert (done["storage-quota"], done["storage-used"]) == (1000, 0)
    source = tmp_path / "a.bin"
    source.write_bytes(bytes(600))
    as_json(run("upload", str(source), "--org", org["id"], "--json"))
    refused = one_line_error(run("upload", str(source), "--org", org["id"], ok=False))
    assert "quota" in refused
    assert len([p for p in (tmp_path / "objects").rglob("*") if p.is_file()]) == 1
    assert "storage-used=600 bytes" in run("orgs", "set-quota", org["id"], "none").stdout
    as_json(run("upload", str(source), "--org", org["id"], "--json"))
    lifted = as_json(run("orgs", "set-quota", org["id"], "none", "--json"))
    assert (lifted["storage-quota"], lifted["storage-used"]) == (None, 1200)


@pytest.mark.parametrize("quota", ["1.5", "10GB", "", "١٢", str(2**63), "9" * 5000])
def test_orgs_set_quota_refuses_what_is_no_number_of_bytes(run: Run, quota: str) -> None:
    org = as_json(run("orgs", "create", "Acme", "--json"))
    assert "BYTES" in one_line_error(run("orgs", "set-quota", org["id"], quota, ok=False))
    assert as_json(run("orgs", "set-quota", org["id"], "7", "--json"))["storage-quota"] == 7


def test_orgs_set_quota_of_an_unknown_organization(run: Run) -> None:
    missing = "org_" + "x" * 22
    assert missing in one_line_error(run("orgs", "set-quota", missing, "1", ok=False))


def test_init_migrates_a_database_of_the_previous_schema(
    run: Run, base_settings: Settings
) -> None:
    org = as_json(run("orgs", "create", "Acme", "--json"))
    engine = open_engine(base_settings.database_url)
    try:
        with engine.begin() as conn:  # as the release before quotas left it
            conn.exec_driver_sql("DROP TABLE upload_urls")
            conn.exec_driver_sql("ALTER TABLE organizations DROP COLUMN storage_quota")
            conn.execute(update(schema_version).values(version=1))
    finally:
        engine.dispose()
    assert run("init").stdout == (
        f"registry schema migrated from version 1 to {SCHEMA_VERSION}\n")
    assert as_json(run("orgs", "set-quota", org["id"], "5", "--json"))["storage-quota"] == 5


def test_upload_url_mints_a_url_a_browser_uploads_to(run: Run, tmp_path: Path, web: Any) -> None:
    org, key, _ = org_key_file(run, tmp_path, "--version", "2025-06-01")
    minted = as_json(run("upload-url", "--key", key["id"], "--filename", "photo.png",
                         "--content-type", "image/*", "--max-bytes", "100", "--ttl", "600",
                         "--json"))
    assert minted["expires-at"] == "2026-01-01T00:10:00.000Z"
    assert (minted["content-type"], minted["max-bytes"]) == ("image/*", 100)
    plain = run("upload-url", "--key", key["id"], "--filename", "a.txt").stdout.strip()
    assert plain.startswith("https://files.example.com/uploads/")
    path = minted["url"].removeprefix("https://files.example.com")
    assert web.put(path, data=b"x" * 101, content_type="image/png").status_code == 413
    created = web.put(path, data=b"png", content_type="image/png")
    assert created.status_code == 201
    data = created.get_json(force=True)["data"]
    assert data["id"] == minted["file-id"]
    assert data["relationships"]["created-by"]["data"]["id"] == key["id"]
    assert data["relationships"]["organization"]["data"]["id"] == org["id"]


def test_upload_url_for_a_webhook_makes_a_file_without_creator(
    run: Run, tmp_path: Path, web: Any
) -> None:
    org, _, _ = org_key_file(run, tmp_path)
    hook = as_json(run("webhooks", "create", "--org", org["id"], "--url", "https://x.example/h",
                       "--ttl", "300", "--version", "2025-06-01", "--json"))
    minted = as_json(run("upload-url", "--webhook", hook["id"], "--filename", "a.txt", "--json"))
    assert minted["expires-at"] == "2026-01-01T00:05:00.000Z"  # the webhook's TTL is shorter
    created = web.put(minted["url"].removeprefix("https://files.example.com"), data=b"a",
                      content_type="text/plain")
    assert created.status_code == 201, created.data
    assert created.get_json(force=True)["data"]["relationships"]["created-by"]["data"] is None


@pytest.mark.parametrize(("options", "named"), [
    (("--filename", "a/b"), "--filename"),
    (("--filename", "a", "--content-type", "image"), "--content-type"),
    (("--filename", "a", "--max-bytes", "0"), "--max-bytes"),
    (("--filename", "a", "--max-bytes", "x"), "--max-bytes"),
    (("--filename", "a", "--max-bytes", "9" * 5000), "--max-bytes"),
    (("--filename", "a", "--ttl", "9" * 5000), "--ttl"),
    (("--filename", "a", "--ttl", "21601"), "--ttl"),
])
def test_upload_url_refuses_bad_options_in_one_line(
    run: Run, tmp_path: Path, options: tuple[str, ...], named: str
) -> None:
    _, key, _ = org_key_file(run, tmp_path)
    error = one_line_error(run("upload-url", "--key", key["id"], *options, ok=False))
    assert error.startswith(f"Error: {named}"), error
