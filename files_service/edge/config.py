"""``files-service edge-config``: the front tier's whole nginx configuration, generated from the
service's own settings (SPEC §8, §9), so that nothing in it is copied by hand.

It writes into one directory, which is also nginx's prefix (``nginx -p DIR -c DIR/nginx.conf``
runs it as any user; nginx keeps its pid, logs, temporary files and cache there)::

    nginx.conf                 from nginx.conf.j2: listeners, locations, timeouts, logs
    files_edge.js              the njs download handler (a copy of this package's)
    files_edge_settings.js     the service's answers the handler gives as they are: refusal
                               documents rendered by the service's own code, fixed headers,
                               limits and leeway of the token check (what only refusals,
                               error pages and preflights use built when a request asks)
    files_edge_keys.js         the key ring's current-style HMAC keys (mode 0600: nginx's
                               master reads it when it loads the configuration)
    logs/ temp/ cache/

Every file is written whole and then renamed into place, so a running nginx that reloads
never reads half of one.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    MethodNotAllowed,
    NotFound,
    RequestTimeout,
    TooManyRequests,
)

from ..clock import SystemClock
from ..delivery import CORS_HEADERS, PREFLIGHT_ALLOWED_HEADERS, SECURITY_HEADERS, cache_control
from ..delivery.caching import _MAX_ECHOED_HEADERS, _MAX_HEADER_NAME
from ..download.handler import ALLOW
from ..download.refusals import RETRY_AFTER, refusal
from ..errors import SettingsError, ValidationError
from ..jsonapi import MEDIA_TYPE, ApiError, internal_error, render_error
from ..redact import TOKEN_PATTERN
from ..settings import Settings
from ..storage import open_storage
from ..tokens import CURRENT, LEEWAY_SECONDS, MAX_AHEAD_SECONDS, MAX_TOKEN_CHARS, TokenService
from ..web_errors import from_http_exception
from .lookup import PREFIX as LOOKUP_PREFIX

__all__ = ["EdgeOptions", "render", "write"]

# Debian's nginx loads dynamic modules from here (libnginx-mod-http-js installs the module).
MODULES_DIR = "/usr/lib/nginx/modules"
JS_MODULE = f"{MODULES_DIR}/ngx_http_js_module.so"
DEFAULT_LISTEN = "127.0.0.1:8080"
DEFAULT_UPSTREAM = "http://127.0.0.1:8000"
DEFAULT_CONNS_PER_ADDRESS = 256
# The service's routes the public listener refuses (SPEC §9: the internal listener has them).
INTERNAL_ONLY = ("/metrics", "/readyz")
PLACEHOLDERS = {"expiredAt": "@@expired-at@@", "serverTime": "@@server-time@@"}
# The only headers of S3's answer that reach the client: the length and range of the bytes
# (Content-Type is the service's, set before S3 answers).
STORAGE_HEADERS_KEPT = ("content-length", "content-range", "content-type")
LOCATIONS = {
    "whole": "/_edge/bytes/whole",
    "part": "/_edge/bytes/part",
    "s3": "/_edge/bytes/s3",
}
# The errors nginx itself may answer with, outside the download paths (a malformed request, a
# location only this nginx may use, TRACE, a body that stopped arriving, too many connections
# from one address): each as the service's own JSON:API document for that status.
ROUTE_ERRORS: dict[int, HTTPException | ApiError] = {
    400: BadRequest(), 404: NotFound(), 405: MethodNotAllowed(), 408: RequestTimeout(),
    429: TooManyRequests(), 500: internal_error(),
}
# The settings' entry built only when a request asks for it (_settings_module).
RARE = "rare"
GENERATED = "// Written by `files-service edge-config`; do not edit (run it again).\n"
_HOST_PORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(?P<port>[0-9]{1,5})$")


@dataclass(frozen=True)
class EdgeOptions:
    """What the command line says beyond the settings."""

    out: Path
    listen: str = DEFAULT_LISTEN
    upstreams: tuple[str, ...] = (DEFAULT_UPSTREAM,)
    internal: str | None = None  # default: unix:<out>/internal.sock
    conns_per_address: int = DEFAULT_CONNS_PER_ADDRESS


@dataclass(frozen=True)
class Written:
    """What ``write`` wrote."""

    out: Path
    files: tuple[str, ...]
    listen: str
    internal: str


def write(settings: Settings, options: EdgeOptions) -> Written:
    """Write the configuration for ``settings`` into ``options.out`` (created if missing)."""
    out = options.out.resolve()
    files = render(settings, options)
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("logs", "temp", "cache"):
        (out / sub).mkdir(exist_ok=True)
    for name, (text, mode) in files.items():
        _write_atomically(out / name, text, mode)
    return Written(out, tuple(files), _listen(options.listen, "--listen"), _internal(options))


def render(settings: Settings, options: EdgeOptions) -> dict[str, tuple[str, int]]:
    """Every file of the configuration: name -> (text, mode)."""
    out = options.out.resolve()
    storage = _storage(settings)
    context = {
        "dir": str(out),
        "js_module": JS_MODULE,
        "listen": _listen(options.listen, "--listen"),
        "internal": _internal(options),
        "upstreams": [_upstream(value) for value in options.upstreams],
        "upstream_display": ", ".join(options.upstreams),
        "cache_seconds": settings.registry_cache_seconds,
        "conns_per_address": options.conns_per_address,
        "storage": storage,
        "token_pattern": TOKEN_PATTERN,
        "common_headers": [*SECURITY_HEADERS, *CORS_HEADERS],
        "route_errors": ROUTE_ERRORS,
    }
    # An nginx configuration, not HTML: nothing to escape, and every value is checked above.
    template = jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True,
        lstrip_blocks=True, autoescape=False,  # noqa: S701
    ).from_string(_package_text("nginx.conf.j2"))
    return {
        "nginx.conf": (template.render(context), 0o644),
        "files_edge.js": (_package_text("files_edge.js"), 0o644),
        "files_edge_settings.js": (_settings_module(handler_settings(settings)), 0o644),
        "files_edge_keys.js": (_module(key_ring(settings)), 0o600),
    }


def handler_settings(settings: Settings) -> dict[str, Any]:
    """What files_edge.js answers as the service does, taken from the service's own code."""
    retry = [("Retry-After", RETRY_AFTER)]
    refusals = {
        "invalid_token": refusal(403, "invalid_token"),
        "revoked_token": refusal(403, "revoked_token"),
        "not_found": refusal(404, "not_found"),
        "method_not_allowed": refusal(405, "method_not_allowed", headers=[("Allow", ALLOW)]),
        "range_not_satisfiable": refusal(416, "range_not_satisfiable"),
        "storage_unavailable": refusal(503, "storage_unavailable", headers=retry),
        "registry_unavailable": refusal(503, "registry_unavailable", headers=retry),
        "expired_token": refusal(
            403, "expired_token",
            meta={"expired-at": PLACEHOLDERS["expiredAt"],
                  "server-time": PLACEHOLDERS["serverTime"]},
        ),
    }
    return {
        "leewaySeconds": LEEWAY_SECONDS,
        "maxAheadSeconds": MAX_AHEAD_SECONDS,
        "maxTokenChars": MAX_TOKEN_CHARS,
        "cacheControl": _cache_control_templates(settings.cdn_cache),
        "common": [list(pair) for pair in (*SECURITY_HEADERS, *CORS_HEADERS)],
        "internalOnly": list(INTERNAL_ONLY),
        "lookupPrefix": LOOKUP_PREFIX,
        "locations": LOCATIONS,
        "storageHeadersKept": list(STORAGE_HEADERS_KEPT),
        # What only refusals, error pages and preflights need: see _settings_module.
        RARE: {
            "preflight": {
                "methods": ALLOW,
                "allowedHeaders": list(PREFLIGHT_ALLOWED_HEADERS),
                "maxAge": "86400",
                "vary": "Access-Control-Request-Headers",
                "maxEchoed": _MAX_ECHOED_HEADERS,
                "maxHeaderName": _MAX_HEADER_NAME,
            },
            "errorContentType": MEDIA_TYPE,
            "refusals": {
                code: {"status": err.status, "headers": [list(h) for h in err.headers],
                       "body": _body(err)}
                for code, err in refusals.items()
            },
            "expiredTemplate": _body(refusals["expired_token"]),
            "placeholders": PLACEHOLDERS,
            "routeErrors": {
                str(status): _route_body(exc) for status, exc in ROUTE_ERRORS.items()
            },
        },
    }


def _cache_control_templates(mode: str) -> dict[str, str]:
    """``Cache-Control`` as delivery.cache_control writes it, with ``{seconds}`` where the
    seconds left go (files_edge.js computes those as it does), and for none left."""
    sentinel = 987654321
    live = cache_control(sentinel, 0, mode=mode)
    assert str(sentinel) in live, "cache_control no longer states the seconds left"
    return {"live": live.replace(str(sentinel), "{seconds}"),
            "dead": cache_control(0, 1, mode=mode)}


def key_ring(settings: Settings) -> list[list[str]]:
    """``[kid, current-style HMAC key (base64)]`` of each key of the ring (a list: a kid may
    be any name, ``__proto__`` included, which a JavaScript object literal would not keep)."""
    tokens = TokenService(settings.resolved_signing_keys(), SystemClock())
    return [
        [kid, base64.b64encode(key).decode("ascii")]
        for kid, key in tokens.verification_keys(CURRENT).items()
    ]


def _body(err: ApiError) -> str:
    """The body the service sends for ``err`` (jsonapi.render_error, every edge's)."""
    return render_error(err).body.decode("utf-8")


def _route_body(error: HTTPException | ApiError) -> str:
    """The body the service sends for a route error such as a 404 (web_errors), or for an
    unexpected failure."""
    return _body(error if isinstance(error, ApiError) else from_http_exception(error))


def _module(data: Mapping[str, Any] | list[Any]) -> str:
    return f"{GENERATED}export default {_js_value(data)};\n"


def _settings_module(data: Mapping[str, Any]) -> str:
    """The settings as a module whose top level builds only what every download needs: njs
    0.7 runs a module's top level for every request, and building the refusal documents each
    time cost about a tenth of a cached download's CPU (docs/benchmarks.md). The rest is
    returned by a function, ``rare()``, which files_edge.js calls when a request needs it."""
    every = _js_value({name: value for name, value in data.items() if name != RARE})
    assert every.endswith("\n}")
    rare = _js_value(data[RARE]).replace("\n", "\n    ")
    return (
        f"{GENERATED}export default {every[:-2]},\n"
        f"  \"{RARE}\": function () {{\n    return {rare};\n  }}\n}};\n"
    )


def _js_value(data: Mapping[str, Any] | list[Any]) -> str:
    """``data`` as a JavaScript literal (JSON, ASCII only)."""
    return json.dumps(data, indent=2, ensure_ascii=True)


def _package_text(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _write_atomically(path: Path, text: str, mode: int) -> None:
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(temp, mode)  # whatever the umask
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


# -- options and settings, checked --------------------------------------------------------


def _listen(value: str, option: str) -> str:
    """``HOST:PORT`` as nginx's ``listen`` takes it."""
    match = _HOST_PORT.match(value.strip())
    if match is None or not 1 <= int(match["port"]) <= 65535:
        raise ValidationError(option, f"must be HOST:PORT, e.g. 127.0.0.1:8080 (got {value!r})")
    return f"{match['host']}:{int(match['port'])}"


def _internal(options: EdgeOptions) -> str:
    """The internal listener: a unix socket, or a loopback address (never a public one)."""
    if options.internal is None:
        return f"unix:{options.out.resolve() / 'internal.sock'}"
    value = options.internal.strip()
    if value.startswith("unix:"):
        path = value[5:]
        if not path.startswith("/"):
            raise ValidationError("--internal", "a unix socket needs an absolute path")
        return value
    listen = _listen(value, "--internal")
    host = listen.rsplit(":", 1)[0].strip("[]")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ValidationError(
            "--internal", f"must be a unix:PATH or a loopback address, not {host!r}"
        )
    return listen


def _upstream(value: str) -> str:
    """One of the service's replicas as an nginx ``server``: ``HOST:PORT`` or ``unix:PATH``."""
    if value.startswith("unix:"):
        return value
    parts = urlsplit(value)
    if parts.scheme != "http" or not parts.netloc or parts.path not in ("", "/") or parts.query:
        raise ValidationError(
            "--upstream", f"must be http://HOST:PORT or unix:PATH (got {value!r})"
        )
    netloc = parts.netloc if parts.port else f"{parts.netloc}:80"
    return _listen(netloc, "--upstream")


@dataclass(frozen=True)
class _Storage:
    kind: str
    root: str = ""
    scheme: str = ""
    host: str = ""
    server: str = ""
    tls_name: str = ""
    connect_timeout: float = 0
    read_timeout: float = 0


def _storage(settings: Settings) -> _Storage:
    """Where the bytes are: the local root, or the S3 endpoint nginx proxies to."""
    try:
        storage = open_storage(
            settings.storage_url, s3_endpoint_url=settings.s3_endpoint_url,
            connect_timeout=settings.s3_connect_timeout, read_timeout=settings.s3_read_timeout,
            s3_max_waiting=settings.s3_max_waiting,
        )
    except ValueError as exc:
        raise SettingsError("FILES_STORAGE", str(exc)) from None
    root = getattr(storage, "root", None)
    if isinstance(root, str) and hasattr(storage, "path_for"):
        return _Storage("local", root=root)
    presign = getattr(storage, "presigned_get_url", None)
    if presign is None:
        raise SettingsError(
            "FILES_STORAGE", "the front tier serves local:// or s3:// storage only"
        )
    # Where the service's presigned URLs point (the endpoint, or the bucket's own host on
    # AWS): a signature covers the Host, so nginx must send exactly this one.
    url = urlsplit(presign("edge-config-probe", 60))
    default_port = 443 if url.scheme == "https" else 80
    host = url.hostname or ""
    server_host = f"[{host}]" if ":" in host else host
    return _Storage(
        "s3",
        scheme=url.scheme,
        host=url.netloc,
        server=f"{server_host}:{url.port or default_port}",
        tls_name=host,
        connect_timeout=settings.s3_connect_timeout,
        read_timeout=settings.s3_read_timeout,
    )
