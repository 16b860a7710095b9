"""One module per dated change, named for its date. Add a new one to ``ALL``."""

from __future__ import annotations

from ..bundle import VersionChange
from . import v2023_01_05, v2025_06_01

ALL: tuple[VersionChange, ...] = (v2025_06_01.CHANGE, v2023_01_05.CHANGE)
