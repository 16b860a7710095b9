"""API authentication (§5): ``Authorization: Bearer <api key secret>`` of an active key.

Every refusal is the same ``401`` with ``WWW-Authenticate: Bearer``: a missing header, another
scheme, an unknown secret and a revoked key cannot be told apart by what they get back (the
secret is looked up by its hash, so the lookup costs the same whatever is sent).

With ``FILES_RATE_LIMIT``, an address that has sent too many refused credentials gets ``429``
before any lookup (``files_service.ratelimit``)."""

from __future__ import annotations

from ..ids import bearer_secret
from ..jsonapi import ApiError
from ..limits import ACTIVE
from ..ratelimit import FailureLimiter, rate_limited
from ..registry.models import ApiKey
from ..services import Services

REALM = "files"
_DETAIL = (
    "Send 'Authorization: Bearer <API key secret>' with an active API key of your organization."
)


def unauthorized() -> ApiError:
    """The one 401 of the API."""
    return ApiError(
        401, "unauthorized", _DETAIL, source={"header": "Authorization"},
        headers=[("WWW-Authenticate", f'Bearer realm="{REALM}"')],
    )


def authenticate(
    services: Services,
    authorization: str | None,
    *,
    limiter: FailureLimiter | None = None,
    address: str | None = None,
) -> ApiKey:
    """The active API key whose secret the header carries; ``ApiError`` (401) otherwise, or
    (429) where ``limiter`` says ``address`` has failed too often."""
    if limiter is not None:
        wait = limiter.retry_after(address)
        if wait is not None:
            services.metrics.rate_limited.labels("api").inc()
            raise rate_limited(wait)
    secret = bearer_secret(authorization)
    key = services.registry.authenticate(secret) if secret else None
    if key is None or key.status != ACTIVE:
        services.metrics.auth_failures.labels("api_key").inc()
        if limiter is not None and authorization:  # a guess, not a request without any key
            limiter.failed(address)
        raise unauthorized()
    return key
