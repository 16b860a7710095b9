"""``/healthz`` (the process is up), ``/readyz`` (database and storage reachable) and
``/metrics`` (Prometheus)."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, current_app, jsonify

from .errors import RegistryError, StorageError
from .services import Services

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


def _services() -> Services:
    from . import get_services

    return get_services(current_app)


@bp.get("/")
def index() -> Response:
    """Where a curious visitor lands: what this is and where to look."""
    return jsonify(
        service="files_service",
        api="/api/v1",
        versions="/api/v1/versions",
        health="/healthz",
    )


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    services = _services()
    checks = {"database": "ok", "storage": "ok"}
    try:
        services.registry.check()
    except RegistryError as exc:
        log.warning("readiness: database: %s", exc)
        checks["database"] = "unavailable"
    try:
        services.storage.check()
    except StorageError as exc:
        log.warning("readiness: storage: %s", exc)
        checks["storage"] = "unavailable"
    ready = all(v == "ok" for v in checks.values())
    response = jsonify(status="ready" if ready else "unavailable", checks=checks)
    response.headers["Cache-Control"] = "no-store"
    return response, 200 if ready else 503


@bp.get("/metrics")
def metrics() -> Response:
    body = _services().metrics.exposition()
    return Response(body, mimetype="text/plain", headers={"Cache-Control": "no-store"})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
