"""files_service: signed, expiring download URLs for files in object storage.

``create_app`` wires settings, registry, storage, tokens and the blueprints; ``wsgi.py`` exposes
the result as ``app`` for any WSGI server.

Importing the package loads nothing: the pure core (``tokens``, ``jsonapi``, ``versioning``,
``delivery``, ``validation``) can be imported without Flask, SQLAlchemy or boto3
(``tests/test_import_purity.py`` proves it), and the command line without even the settings
(``files-service --help`` stays fast), so ``create_app`` imports what it wires when it is
called, and ``Settings`` is loaded when first asked for."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from .clock import Clock
    from .ratelimit import FailureLimiter
    from .registry import Registry
    from .services import Services
    from .settings import Settings
    from .storage import Storage

__all__ = ["Settings", "create_app", "get_rate_limiter", "get_services"]

EXTENSION = "files_service"
RATE_LIMIT_EXTENSION = "files_service.ratelimit"


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    registry: Registry | None = None,
    storage: Storage | None = None,
    check: bool = True,
) -> Flask:
    """Build the WSGI app. ``settings`` default to ``Settings.from_env()``; tests pass theirs,
    and may pass a clock, registry or storage. With ``check`` the registry must be reachable and
    its schema current, or this raises (``SettingsError`` / ``RegistryError``)."""
    from flask import Flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    from . import api, edge, health, uploads, web_errors
    from .download import DownloadApp, DownloadDispatcher
    from .ratelimit import FailureLimiter
    from .reasons import StandardReasons
    from .redact import configure_logging
    from .services import build_services
    from .settings import Settings

    configure_logging()
    settings = settings or Settings.from_env()
    services = build_services(settings, clock=clock, registry=registry, storage=storage)
    if check:
        services.registry.check()
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=None, JSON_SORT_KEYS=False)
    # Werkzeug would answer a path with doubled slashes (/api/v1//files) with a 308 to the
    # merged one: an HTML page, its Location built from the request's Host header. Such a
    # path is simply not found here. (Set before any route is added: rules take it then.)
    app.url_map.merge_slashes = False
    app.extensions[EXTENSION] = services
    # One per app (so per worker process): see files_service.ratelimit.
    limiter = (
        FailureLimiter(settings.rate_limit, services.clock) if settings.rate_limit else None
    )
    app.extensions[RATE_LIMIT_EXTENSION] = limiter

    web_errors.init_app(app)
    health.init_app(app)
    edge.init_app(app)
    api.init_app(app)
    uploads.init_app(app)

    # The app's own one-segment routes (/healthz, /metrics, …): without a token they stay
    # the app's; any other one-segment path is a download.
    reserved = frozenset(
        rule.rule for rule in app.url_map.iter_rules()
        if rule.rule.count("/") == 1 and "<" not in rule.rule
    )
    # Werkzeug says "401 UNAUTHORIZED"; the download app already says "401 Unauthorized".
    flask_app = StandardReasons(app.wsgi_app)
    outer: Any = DownloadDispatcher(flask_app, DownloadApp(services, limiter), reserved)
    if settings.trusted_proxies:
        # Around the downloads too, so that both see the same client address (REMOTE_ADDR,
        # for FILES_RATE_LIMIT); downloads read nothing else ProxyFix rewrites.
        n = settings.trusted_proxies
        outer = ProxyFix(outer, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)
    app.wsgi_app = outer  # type: ignore[method-assign]
    return app


def get_services(app: Flask) -> Services:
    """The services an app was built with."""
    return app.extensions[EXTENSION]  # type: ignore[no-any-return]


def get_rate_limiter(app: Flask) -> FailureLimiter | None:
    """The app's limiter of failed attempts (``FILES_RATE_LIMIT``), or ``None`` where off."""
    return app.extensions.get(RATE_LIMIT_EXTENSION)


def __getattr__(name: str) -> Any:
    # ``from files_service import Settings`` keeps working, without loading it on every import.
    if name == "Settings":
        from .settings import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
