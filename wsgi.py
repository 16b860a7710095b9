"""The WSGI entry point: ``gunicorn wsgi:app`` (or any WSGI server)."""

import sys

from files_service import create_app
from files_service.errors import FilesError

try:
    app = create_app()
except FilesError as exc:  # one clear line, not a traceback, then a non-zero exit
    print(f"files-service: cannot start: {exc}", file=sys.stderr)
    sys.exit(1)
