"""What §2 fixes for principals (api-keys and webhooks), shared by the pure core and the
registry: the bounds of a ``file-url-ttl`` and the two states of a principal. Only an active
principal authenticates, mints, or has its URLs served."""

from __future__ import annotations

DEFAULT_FILE_URL_TTL = 21600  # 6 hours
MAX_FILE_URL_TTL = 86400  # one day
ACTIVE = "active"
REVOKED = "revoked"
