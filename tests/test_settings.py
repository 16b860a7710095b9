"""Settings (§8): read once from the environment; bad values refused with the variable named."""

import pytest

from files_service.errors import SettingsError
from files_service.settings import Settings

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


def test_production_refuses_weak_secrets():
    with pytest.raises(SettingsError, match="weak"):
        Settings.from_env({"FILES_ENV": "production", "FILES_SIGNING_KEYS": "k1:short"})


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
