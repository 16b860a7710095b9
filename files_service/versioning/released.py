"""The released versions of the API and the changes each brought (§6).

To release a version: add its date at the front of ``VERSIONS``, give its change a module under
``changes/`` named for the date, and list that change in ``changes.ALL``.
"""

from __future__ import annotations

from .bundle import VersionBundle
from .changes import ALL

VERSIONS: tuple[str, ...] = ("2025-06-01", "2023-01-05", "2022-09-01")

BUNDLE = VersionBundle(
    versions=VERSIONS,
    changes=ALL,
    first_description="First version: file URLs in the legacy style.",
)
