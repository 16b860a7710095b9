"""files_service: signed, expiring download URLs for files in object storage.

``create_app`` wires settings, registry, storage, tokens and the blueprints; ``wsgi.py`` exposes
the result as ``app`` for any WSGI server."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from .clock import Clock
from .download import DownloadApp, DownloadDispatcher
from .redact import configure_logging
from .registry import Registry
from .services import Services, build_services
from .settings import Settings
from .storage import Storage

__all__ = ["Services", "Settings", "create_app", "get_services"]

EXTENSION = "files_service"


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
    configure_logging()
    settings = settings or Settings.from_env()
    services = build_services(settings, clock=clock, registry=registry, storage=storage)
    if check:
        services.registry.check()
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=None, JSON_SORT_KEYS=False)
    app.extensions[EXTENSION] = services

    from . import health, web_errors

    web_errors.init_app(app)
    health.init_app(app)
    try:
        from . import api
    except ImportError:  # pragma: no cover - the API arrives with its own change
        api = None  # type: ignore[assignment]
    if api is not None and hasattr(api, "init_app"):
        api.init_app(app)

    inner = app.wsgi_app
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        inner = ProxyFix(inner, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)
    # The app's own one-segment routes (/healthz, /metrics, …): without a token they stay
    # the app's; any other one-segment path is a download.
    reserved = frozenset(
        rule.rule for rule in app.url_map.iter_rules()
        if rule.rule.count("/") == 1 and "<" not in rule.rule
    )
    app.wsgi_app = DownloadDispatcher(  # type: ignore[method-assign]
        inner, DownloadApp(services), reserved
    )
    return app


def get_services(app: Flask) -> Services:
    """The services an app was built with."""
    return app.extensions[EXTENSION]  # type: ignore[no-any-return]
