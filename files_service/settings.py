"""The service's settings: one frozen, typed object, built from the environment here and only
here (§8). Every value is checked once, at start; a bad one raises ``SettingsError`` naming the
variable, which the entry points turn into one line on stderr and a non-zero exit."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from .errors import SettingsError
from .ratelimit import RateLimit, parse_rate_limit
from .tokens import SigningKey
from .validation import whole_number
from .versioning.resolve import VersionDates, parse_version_dates

ENVIRONMENTS = ("development", "production")
DELIVERY_MODES = ("stream", "redirect", "accel")
CDN_CACHE_MODES = ("private", "public")
RETIRED_POLICIES = ("reject", "fall-forward")
MIN_SECRET_BYTES = 32  # HMAC-SHA256's own size: a shorter secret is guessable offline
DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024**3  # 10 GiB
LARGEST_UPLOAD_BYTES = 5 * 1024**4  # 5 TiB, S3's largest object
_KID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
# Variables that are read elsewhere by design: the test suite's database, and libraries' own.
_NOT_OURS = ("FILES_TEST_",)


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    database_url: str = "sqlite:///var/files.db"
    storage_url: str = "local://var/objects"
    s3_endpoint_url: str | None = None
    s3_connect_timeout: float = 5.0
    s3_read_timeout: float = 30.0
    s3_max_waiting: int = 6  # threads of a worker that may wait on S3 at once (storage/s3.py)
    signing_keys: tuple[SigningKey, ...] = ()
    api_base_url: str = "http://127.0.0.1:8000"
    download_base_url: str = "http://127.0.0.1:8000"
    delivery: str = "stream"
    accel_location: str = "/_protected"
    cdn_cache: str = "private"
    trusted_proxies: int = 0
    rate_limit: RateLimit | None = None  # failed attempts per client address; None: off
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES  # the largest file an upload may carry
    url_bucket_seconds: int = 300
    registry_cache_seconds: int = 30
    retired_versions: str = "reject"
    enable_unstable: bool = False
    version_dates: Mapping[str, VersionDates] = field(default_factory=dict)
    var_dir: str = "var"
    workers: int = 2  # gunicorn worker processes of `files-service serve` (and the image)
    metrics_dir: str | None = None  # prometheus-client's multiprocess directory, if any

    @property
    def production(self) -> bool:
        return self.env == "production"

    def with_changes(self, **changes: object) -> Settings:
        """A copy with some fields replaced (for tests), checked like the original."""
        new = replace(self, **changes)  # type: ignore[arg-type]
        new.check()
        return new

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``FILES_*`` variables; anything unknown or malformed raises ``SettingsError``."""
        env = dict(os.environ if environ is None else environ)
        reader = _Reader(env)
        settings = cls(
            env=reader.choice("FILES_ENV", ENVIRONMENTS, "development"),
            database_url=reader.text("FILES_DATABASE_URL", "sqlite:///var/files.db"),
            storage_url=reader.text("FILES_STORAGE", "local://var/objects"),
            s3_endpoint_url=reader.url("FILES_S3_ENDPOINT_URL", None),
            s3_connect_timeout=reader.number("FILES_S3_CONNECT_TIMEOUT", 5.0, 0.1, 300),
            s3_read_timeout=reader.number("FILES_S3_READ_TIMEOUT", 30.0, 0.1, 3600),
            s3_max_waiting=reader.integer("FILES_S3_MAX_WAITING", 6, 1, 1000),
            signing_keys=reader.signing_keys("FILES_SIGNING_KEYS"),
            api_base_url=reader.base_url("FILES_API_BASE_URL", "http://127.0.0.1:8000"),
            download_base_url=reader.base_url(
                "FILES_DOWNLOAD_BASE_URL", "http://127.0.0.1:8000"
            ),
            delivery=reader.choice("FILES_DELIVERY", DELIVERY_MODES, "stream"),
            accel_location=reader.text("FILES_ACCEL_LOCATION", "/_protected"),
            cdn_cache=reader.choice("FILES_CDN_CACHE", CDN_CACHE_MODES, "private"),
            trusted_proxies=reader.integer("FILES_TRUSTED_PROXIES", 0, 0, 10),
            rate_limit=reader.rate_limit("FILES_RATE_LIMIT"),
            max_upload_bytes=reader.integer(
                "FILES_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES, 1, LARGEST_UPLOAD_BYTES
            ),
            url_bucket_seconds=reader.integer("FILES_URL_BUCKET_SECONDS", 300, 0, 86400),
            registry_cache_seconds=reader.integer("FILES_REGISTRY_CACHE_SECONDS", 30, 0, 3600),
            retired_versions=reader.choice("FILES_RETIRED_VERSIONS", RETIRED_POLICIES, "reject"),
            enable_unstable=reader.flag("FILES_ENABLE_UNSTABLE", False),
            version_dates=reader.version_dates("FILES_VERSION_DATES"),
            var_dir=reader.text("FILES_VAR_DIR", "var"),
            workers=reader.integer("FILES_WORKERS", 2, 1, 64),
            metrics_dir=env.get("PROMETHEUS_MULTIPROC_DIR") or None,
        )
        reader.refuse_unknown()
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse values that are malformed or cannot work together (§8)."""
        if self.env not in ENVIRONMENTS:
            raise SettingsError("FILES_ENV", f"must be one of {', '.join(ENVIRONMENTS)}")
        if self.delivery not in DELIVERY_MODES:
            raise SettingsError("FILES_DELIVERY", f"must be one of {', '.join(DELIVERY_MODES)}")
        if self.cdn_cache not in CDN_CACHE_MODES:
            raise SettingsError("FILES_CDN_CACHE", "must be 'private' or 'public'")
        scheme = urlsplit(self.storage_url).scheme
        if scheme not in ("local", "s3", "memory"):
            raise SettingsError(
                "FILES_STORAGE", "must be local://DIR or s3://BUCKET[/PREFIX]"
            )
        if scheme == "s3" and not urlsplit(self.storage_url).netloc:
            raise SettingsError("FILES_STORAGE", "s3:// needs a bucket: s3://BUCKET[/PREFIX]")
        if self.delivery == "redirect" and scheme != "s3":
            raise SettingsError(
                "FILES_DELIVERY",
                "redirect needs s3:// storage (local files have no URL to redirect to)",
            )
        db_scheme = self.database_url.split(":", 1)[0].split("+", 1)[0]
        if db_scheme not in ("sqlite", "postgresql", "postgres"):
            raise SettingsError(
                "FILES_DATABASE_URL", "must be sqlite:///PATH or postgresql://…"
            )
        if self.rate_limit is not None and not isinstance(self.rate_limit, RateLimit):
            raise SettingsError("FILES_RATE_LIMIT", "must be <attempts>/<seconds>, e.g. 20/60")
        if (
            isinstance(self.max_upload_bytes, bool)
            or not isinstance(self.max_upload_bytes, int)
            or not 1 <= self.max_upload_bytes <= LARGEST_UPLOAD_BYTES
        ):
            raise SettingsError(
                "FILES_MAX_UPLOAD_BYTES",
                f"must be a whole number of bytes from 1 to {LARGEST_UPLOAD_BYTES}",
            )
        if not self.accel_location.startswith("/") or self.accel_location.endswith("/"):
            raise SettingsError(
                "FILES_ACCEL_LOCATION", "must start with '/' and not end with '/'"
            )
        _refuse_weak_secrets("FILES_SIGNING_KEYS", self.signing_keys)
        if self.production and not self.signing_keys:
            raise SettingsError("FILES_SIGNING_KEYS", "is required in production (kid:secret,…)")
        self._refuse_storage_holding_own_files()

    def _refuse_storage_holding_own_files(self) -> None:
        """A local storage root must not hold the service's own files: anyone who may register
        a storage key could then read (and delete) the database or the signing key. Paths are
        compared resolved, symlinks and all. The root may lie inside ``var/`` (the default,
        ``var/objects``, does): no key leads out of the root (``storage/local.py``)."""
        root = local_storage_root(self.storage_url)
        if root is None:
            return
        real_root = os.path.realpath(root)
        own = [
            ("FILES_VAR_DIR", self.var_dir),
            ("FILES_DATABASE_URL", sqlite_path(self.database_url)),
        ]
        if self.metrics_dir:
            own.append(("PROMETHEUS_MULTIPROC_DIR", self.metrics_dir))
        for name, path in own:
            if path is not None and _within(os.path.realpath(os.path.expanduser(path)), real_root):
                raise SettingsError(
                    "FILES_STORAGE",
                    f"the storage folder {root!r} holds the service's own files ({name} is "
                    f"{path!r}); give objects a folder of their own, such as var/objects",
                )

    def resolved_signing_keys(self) -> tuple[SigningKey, ...]:
        """The key ring. In development with none set, one generated once into ``var/``."""
        if self.signing_keys:
            return self.signing_keys
        if self.production:  # check() already refuses this; never generate in production
            raise SettingsError("FILES_SIGNING_KEYS", "is required in production")
        path = Path(self.var_dir) / "signing-key"
        try:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write("dev:" + secrets.token_urlsafe(32) + "\n")
            text = path.read_text().strip()
        except OSError as exc:
            raise SettingsError(
                "FILES_VAR_DIR",
                f"cannot keep the development signing key in {path}: {exc.strerror}",
            ) from None
        keys = parse_signing_keys(str(path), text)
        _refuse_weak_secrets(str(path), keys)
        return keys


def local_storage_root(storage_url: str) -> str | None:
    """The folder of a ``local://DIR`` storage URL as written (relative to the working
    directory unless absolute); ``None`` for any other storage."""
    scheme, separator, rest = storage_url.partition("://")
    if not separator or scheme != "local" or not rest:
        return None
    return rest


def sqlite_path(database_url: str) -> str | None:
    """The file of a ``sqlite:///PATH`` database URL as written; ``None`` for an in-memory
    database or another database."""
    scheme, separator, rest = database_url.partition("://")
    if not separator or scheme.split("+", 1)[0] != "sqlite":
        return None
    database = rest.partition("/")[2].partition("?")[0]  # what follows the (empty) host
    database = database.removeprefix("file:")
    return None if database in ("", ":memory:") else database


def _within(path: str, folder: str) -> bool:
    """Whether the resolved ``path`` is ``folder`` or lies under it (both resolved)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _refuse_weak_secrets(name: str, keys: tuple[SigningKey, ...]) -> None:
    for key in keys:
        if len(key.secret) < MIN_SECRET_BYTES:
            raise SettingsError(
                name,
                f"key {key.kid!r} is weak: signing secrets need at least {MIN_SECRET_BYTES} "
                f"bytes, in every mode (it has {len(key.secret)})",
            )


def parse_signing_keys(name: str, text: str) -> tuple[SigningKey, ...]:
    """Parse ``kid:secret,kid:secret`` (the first signs, all verify)."""
    keys: list[SigningKey] = []
    for item in text.split(","):
        kid, sep, secret = item.strip().partition(":")
        if not sep or not secret:
            raise SettingsError(name, "must be kid:secret pairs separated by commas")
        if not _KID.match(kid):
            raise SettingsError(name, f"key id {kid!r} must be 1-16 of A-Z a-z 0-9 _ -")
        if any(k.kid == kid for k in keys):
            raise SettingsError(name, f"key id {kid!r} appears twice")
        keys.append(SigningKey(kid, secret.encode("utf-8")))
    return tuple(keys)


class _Reader:
    """Reads and coerces variables, remembering which ``FILES_*`` names it has seen."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.seen: set[str] = set()

    def raw(self, name: str) -> str | None:
        self.seen.add(name)
        value = self.env.get(name)
        return None if value is None or value.strip() == "" else value.strip()

    def text(self, name: str, default: str) -> str:
        value = self.raw(name)
        return default if value is None else value

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(name, default)
        if value not in choices:
            raise SettingsError(name, f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.raw(name)
        if value is None:
            return default
        number = whole_number(value)
        if number is None:
            raise SettingsError(name, f"must be a whole number from {low} to {high}")
        if not low <= number <= high:
            raise SettingsError(name, f"must be from {low} to {high}; got {number}")
        return number

    def number(self, name: str, default: float, low: float, high: float) -> float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise SettingsError(name, f"must be a number of seconds; got {value!r}") from None
        if not low <= number <= high:
            raise SettingsError(name, f"must be from {low} to {high}; got {value}")
        return number

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(name, f"must be 1 or 0; got {value!r}")

    def url(self, name: str, default: str | None) -> str | None:
        value = self.raw(name)
        if value is None:
            return default
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingsError(name, f"must be an http(s) URL; got {value!r}")
        return value

    def base_url(self, name: str, default: str) -> str:
        value = self.url(name, default) or default
        parts = urlsplit(value)
        if parts.query or parts.fragment:
            raise SettingsError(name, "must not have a query or fragment")
        return value.rstrip("/")

    def signing_keys(self, name: str) -> tuple[SigningKey, ...]:
        value = self.raw(name)
        return () if value is None else parse_signing_keys(name, value)

    def rate_limit(self, name: str) -> RateLimit | None:
        value = self.raw(name)
        if value is None or value.lower() == "off":
            return None
        try:
            return parse_rate_limit(value)
        except ValueError as exc:
            raise SettingsError(name, str(exc)) from None

    def version_dates(self, name: str) -> dict[str, VersionDates]:
        try:
            return parse_version_dates(self.text(name, ""))
        except ValueError as exc:
            raise SettingsError(name, str(exc)) from None

    def refuse_unknown(self) -> None:
        for name in sorted(self.env):
            if (
                name.startswith("FILES_")
                and name not in self.seen
                and not name.startswith(_NOT_OURS)
            ):
                raise SettingsError(name, "is not a setting of files_service (a typo?)")
