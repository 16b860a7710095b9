"""What every API request goes through, before and after its view.

Before: refuse an address over ``FILES_RATE_LIMIT`` (429), authenticate the API key (401),
find the principal (the webhook of a ``webhook-id`` mint, else the key), resolve the version
(400 where it is at fault), pinning the principal on its first unversioned request, then
check ``Accept`` (406). After, on every response, errors included: ``Files-Version`` (see
``response_version``), ``Vary: Files-Version, Accept``, the deprecation headers of a
deprecated version and ``Cache-Control: no-store`` (responses hold freshly minted URLs and
are the caller's alone)."""

from __future__ import annotations

import time

from flask import Flask, Response, current_app, g, request

from ..errors import NotFound
from ..jsonapi import ApiError, bad_parameter, check_accept
from ..limits import ACTIVE
from ..ratelimit import FailureLimiter
from ..registry.models import Principal, Webhook
from ..services import Services
from ..versioning import Resolution
from .auth import authenticate
from .blueprint import MINTING_ENDPOINTS
from .context import ApiRequest, api_config, current_request_or_none
from .errors import is_api_path
from .mint_query import webhook_id_param
from .negotiation import check_accept_json
from .version import explicit_resolution, merge_vary, resolve_for, response_headers

OPENAPI_ENDPOINT = "api.openapi_document_view"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _services() -> Services:
    from .. import get_services

    return get_services(current_app)


def _limiter() -> FailureLimiter | None:
    from .. import get_rate_limiter

    return get_rate_limiter(current_app)


def failed_attempt() -> None:
    """Count a refusal that lets a caller guess at what it may not see (a storage key outside
    its import folder) as a failed attempt of its address, like a refused API key."""
    limiter = _limiter()
    if limiter is not None:
        limiter.failed(request.remote_addr)


def _minting_principal(api: ApiRequest) -> Principal:
    """The webhook a ``webhook-id`` mint names (of the caller's organization: 404 otherwise,
    never telling another organization's apart from none), else the API key."""
    key = api.key
    if request.endpoint not in MINTING_ENDPOINTS:
        return key
    webhook_id = webhook_id_param(list(request.args.items(multi=True)))
    if webhook_id is None:
        return key
    try:
        hook = api.services.registry.get_principal(webhook_id, Webhook)
    except NotFound:
        hook = None
    if hook is None or hook.organization_id != key.organization_id:
        raise ApiError(
            404, "not_found", f"There is no webhook {webhook_id} in your organization.",
            source={"parameter": "webhook-id"},
        )
    if hook.status != ACTIVE:
        raise bad_parameter("webhook-id", f"Webhook {webhook_id} is revoked: it cannot mint URLs.")
    return hook


def before_api_request() -> None:
    """Authenticate, resolve the version (and pin), check ``Accept``."""
    if not is_api_path(request.path):
        return
    services = _services()
    api = ApiRequest(services, api_config(), started=time.perf_counter())
    g.files_api = api
    api.api_key = authenticate(
        services, request.headers.get("Authorization"),
        limiter=_limiter(), address=request.remote_addr,
    )
    api.principal = _minting_principal(api)
    try:
        api.resolution = resolve_for(services, api.config.bundle, api.principal)
    except ApiError:
        api.version_at_fault = True
        raise
    if request.endpoint == OPENAPI_ENDPOINT:
        check_accept_json(request.headers.get("Accept"))
    else:
        check_accept(request.headers.get("Accept"))


def response_version(api: ApiRequest | None, services: Services) -> Resolution | None:
    """The version a response names: the one resolved; before the caller is known (401, or a
    ``webhook-id`` refused), the version the request named, where it named a good one; none
    where the version itself was at fault."""
    if api is not None and api.resolution is not None:
        return api.resolution
    if api is not None and api.version_at_fault:
        return None
    return explicit_resolution(services, api.config.bundle if api else api_config().bundle)


def after_api_request(response: Response) -> Response:
    """Add the version, ``Vary``, deprecation and caching headers; record the latency."""
    if not is_api_path(request.path):
        return response
    services = _services()
    api = current_request_or_none()
    link = f"{services.settings.api_base_url}/api/v1/versions"
    for name, value in response_headers(response_version(api, services), link):
        response.headers[name] = value
    response.headers["Vary"] = merge_vary(response.headers.get("Vary"))
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    if api is not None:
        method = request.method if request.method in _METHODS else "OTHER"
        services.metrics.api_requests.labels(method, str(response.status_code)).observe(
            time.perf_counter() - api.started
        )
    return response


def init_app(app: Flask) -> None:
    """Hook the pipeline into ``app`` (for ``/api/v1`` paths only)."""
    app.before_request(before_api_request)
    app.after_request(after_api_request)
