"""``python -m files_service.versioning [PATH]``: regenerate ``CHANGELOG.md`` from the change
objects (to stdout without a PATH)."""

from .changelog import main

raise SystemExit(main())
