"""Settings (§8): read once from the environment; bad values refused with the variable named."""

import pytest

from files_service.errors import SettingsError
from files_service.settings import Settings
from files_service.tokens import SigningKey

STRONG = "k1:" + "s" * 32


def test_defaults_are_the_embedded_ones():
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///var/files.db"
    assert settings.storage_url == "local://var/objects"
    assert settings.delivery == "stream"
    assert settings.cdn_cache == "private"
    assert settings.url_bucket_seconds == 300
    assert settings.registry_cache_seconds == 30
    assert settings.api_base_url == settings.download_base_url == "http://127.0.0.1:8000"


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"FILES_DELIVERY": "teleport"}, "FILES_DELIVERY"),
        ({"FILES_CDN_CACHE": "shared"}, "FILES_CDN_CACHE"),
        ({"FILES_URL_BUCKET_SECONDS": "-1"}, "FILES_URL_BUCKET_SECONDS"),
        ({"FILES_URL_BUCKET_SECONDS": "5m"}, "FILES_URL_BUCKET_SECONDS"),
        ({"FILES_TRUSTED_PROXIES": "many"}, "FILES_TRUSTED_PROXIES"),
        ({"FILES_ENV": "staging"}, "FILES_ENV"),
        ({"FILES_ENABLE_UNSTABLE": "maybe"}, "FILES_ENABLE_UNSTABLE"),
        ({"FILES_STORAGE": "ftp://x"}, "FILES_STORAGE"),
        ({"FILES_DATABASE_URL": "mysql://x"}, "FILES_DATABASE_URL"),
        ({"FILES_DOWNLOAD_BASE_URL": "files.example.com"}, "FILES_DOWNLOAD_BASE_URL"),
        ({"FILES_SIGNING_KEYS": "nocolon"}, "FILES_SIGNING_KEYS"),
        ({"FILES_SIGNING_KEYS": "a:x,a:y"}, "FILES_SIGNING_KEYS"),
        ({"FILES_SIGNING_KEYS": "bad.kid:x"}, "FILES_SIGNING_KEYS"),
        ({"FILES_DELIVERY": "redirect"}, "FILES_DELIVERY"),  # with local storage
        ({"FILES_DELIVRY": "stream"}, "FILES_DELIVRY"),  # a typo is not silently ignored
        ({"FILES_WORKERS": "0"}, "FILES_WORKERS"),
        ({"FILES_WORKERS": "four"}, "FILES_WORKERS"),
        # Past int()'s own limit of 4,300 digits: the same one-line refusal, no traceback.
        ({"FILES_MAX_UPLOAD_BYTES": "9" * 5000}, "FILES_MAX_UPLOAD_BYTES"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(env, name):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert caught.value.name == name
    assert str(caught.value).startswith(name + ":")


def test_redirect_works_with_s3():
    settings = Settings.from_env({"FILES_DELIVERY": "redirect", "FILES_STORAGE": "s3://b/p"})
    assert settings.delivery == "redirect"


def test_production_needs_signing_keys():
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"FILES_ENV": "production"})
    assert caught.value.name == "FILES_SIGNING_KEYS"


@pytest.mark.parametrize("env", ["development", "production"])
@pytest.mark.parametrize(
    "keys", ["k1:a", "k1:" + "s" * 31, f"{STRONG},k0:short", "k1:" + "é" * 15 + "s"]
)
def test_weak_secrets_are_refused_in_every_mode(env, keys):
    with pytest.raises(SettingsError, match="at least 32 bytes") as caught:
        Settings.from_env({"FILES_ENV": env, "FILES_SIGNING_KEYS": keys})
    assert caught.value.name == "FILES_SIGNING_KEYS"
    secret = keys.rsplit(":", 1)[1]
    assert len(secret) < 5 or secret not in str(caught.value)  # the secret itself is not shown


def test_a_secret_of_32_bytes_is_enough():
    assert Settings.from_env({"FILES_SIGNING_KEYS": "k1:" + "é" * 16}).signing_keys


def test_weak_secrets_are_refused_when_set_in_code(tmp_path):
    with pytest.raises(SettingsError, match="FILES_SIGNING_KEYS"):
        Settings(var_dir=str(tmp_path)).with_changes(signing_keys=(SigningKey("k", b"x"),))


def test_a_weak_generated_key_file_is_refused(tmp_path):
    (tmp_path / "signing-key").write_text("dev:short\n")
    with pytest.raises(SettingsError, match="signing-key: key 'dev' is weak"):
        Settings.from_env({"FILES_VAR_DIR": str(tmp_path)}).resolved_signing_keys()


def test_production_accepts_strong_secrets_first_signs():
    settings = Settings.from_env(
        {"FILES_ENV": "production", "FILES_SIGNING_KEYS": f"{STRONG},k0:" + "o" * 40}
    )
    assert [k.kid for k in settings.signing_keys] == ["k1", "k0"]


def test_secrets_never_show_in_repr():
    settings = Settings.from_env({"FILES_SIGNING_KEYS": STRONG})
    assert "s" * 32 not in repr(settings)


def test_development_key_is_generated_once(tmp_path):
    settings = Settings.from_env({"FILES_VAR_DIR": str(tmp_path)})
    first = settings.resolved_signing_keys()
    again = Settings.from_env({"FILES_VAR_DIR": str(tmp_path)}).resolved_signing_keys()
    assert first == again
    assert len(first[0].secret) >= 32
    assert (tmp_path / "signing-key").stat().st_mode & 0o077 == 0


def test_test_variables_are_not_settings():
    Settings.from_env({"FILES_TEST_DATABASE_URL": "postgresql://x"})


def test_frozen():
    settings = Settings.from_env({})
    with pytest.raises(AttributeError):
        settings.delivery = "accel"  # type: ignore[misc]


# -- a storage root that holds the service's own files (§8) ------------------------------------


def layout(tmp_path, storage: str, var: str = "srv/var", db: str = "srv/var/files.db"):
    """Settings from the environment with these paths under ``tmp_path``."""
    return Settings.from_env({
        "FILES_STORAGE": f"local://{tmp_path / storage}",
        "FILES_VAR_DIR": str(tmp_path / var),
        "FILES_DATABASE_URL": f"sqlite:///{tmp_path / db}",
    })


@pytest.mark.parametrize(
    ("storage", "var", "db", "named"),
    [
        ("srv/var", "srv/var", "srv/var/files.db", "FILES_VAR_DIR"),  # the var folder itself
        ("srv", "srv/var", "srv/var/files.db", "FILES_VAR_DIR"),  # a folder holding it
        ("srv/var/", "srv/var", "srv/db/files.db", "FILES_VAR_DIR"),  # spelled with a slash
        ("srv/objects", "var", "srv/objects/files.db", "FILES_DATABASE_URL"),
        ("srv/objects", "var", "srv/objects/db/files.db", "FILES_DATABASE_URL"),
        ("srv/objects", "srv/objects/x/../var", "db/files.db", "FILES_VAR_DIR"),
        ("srv/./objects/..", "srv/var", "db/files.db", "FILES_VAR_DIR"),
    ],
)
def test_a_storage_root_holding_the_services_own_files_is_refused(
    tmp_path, storage, var, db, named
):
    with pytest.raises(SettingsError) as caught:
        layout(tmp_path, storage, var, db)
    assert caught.value.name == "FILES_STORAGE"
    assert named in caught.value.message


def test_symlinks_do_not_hide_the_services_own_files(tmp_path):
    (tmp_path / "srv" / "var").mkdir(parents=True)
    (tmp_path / "link-to-var").symlink_to(tmp_path / "srv" / "var")
    (tmp_path / "link-to-srv").symlink_to(tmp_path / "srv")
    (tmp_path / "objects").mkdir()
    (tmp_path / "var-in-objects").symlink_to(tmp_path / "objects")
    for storage, var in [
        ("link-to-var", "srv/var"),  # the root is the var folder, by another name
        ("link-to-srv", "srv/var"),  # the root holds it, by another name
        ("objects", "var-in-objects/var"),  # var's path leads into the root
    ]:
        with pytest.raises(SettingsError, match="FILES_STORAGE"):
            layout(tmp_path, storage, var, "db/files.db")


def test_relative_paths_are_compared_from_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError, match="FILES_STORAGE"):
        Settings.from_env({"FILES_STORAGE": "local://."})  # holds ./var and ./var/files.db
    with pytest.raises(SettingsError, match="FILES_STORAGE"):
        Settings.from_env({"FILES_STORAGE": f"local://{tmp_path}", "FILES_VAR_DIR": "var"})
    with pytest.raises(SettingsError, match="FILES_STORAGE"):
        Settings.from_env({"FILES_STORAGE": "local:///"})


def test_a_storage_root_inside_var_or_beside_it_is_fine(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    defaults = Settings.from_env({})  # local://var/objects, var/, sqlite:///var/files.db
    assert defaults.storage_url == "local://var/objects" and defaults.var_dir == "var"
    layout(tmp_path, "srv/objects")  # a sibling of srv/var
    layout(tmp_path, "srv/var/objects")  # inside var, the database beside it
    layout(tmp_path, "srv/var-objects")  # a name that merely starts like var's
    Settings.from_env({"FILES_STORAGE": "local://.", "FILES_VAR_DIR": str(tmp_path.parent),
                       "FILES_DATABASE_URL": "postgresql://db/files"})
    Settings.from_env({"FILES_STORAGE": "s3://bucket", "FILES_VAR_DIR": "."})


def test_max_upload_bytes_defaults_to_10_gib_and_is_checked():
    assert Settings.from_env({}).max_upload_bytes == 10 * 1024**3
    assert Settings.from_env({"FILES_MAX_UPLOAD_BYTES": "1048576"}).max_upload_bytes == 1048576
    for bad in ("0", "-1", "10G", "1e9", "1.5", "١٢", "99999999999999999999"):
        with pytest.raises(SettingsError) as caught:
            Settings.from_env({"FILES_MAX_UPLOAD_BYTES": bad})
        assert caught.value.name == "FILES_MAX_UPLOAD_BYTES", bad
    with pytest.raises(SettingsError) as caught:
        Settings().with_changes(max_upload_bytes=0)
    assert caught.value.name == "FILES_MAX_UPLOAD_BYTES"
