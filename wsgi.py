"""The WSGI entry point: ``gunicorn wsgi:app`` (or any WSGI server).

A bad setting or a database that cannot be reached stops the process here, with one line on
stderr and a non-zero exit (§8). Under the service's gunicorn settings (``preload_app``) this
runs once, in gunicorn's master, before any worker is forked: the whole server exits instead
of restarting workers that cannot start."""

import sys

from files_service import create_app, get_services
from files_service.errors import FilesError

# gunicorn's "the application failed to load": a gunicorn that loads the app in each worker
# (without preload_app) then stops too, rather than restarting the worker again and again.
APP_LOAD_ERROR = 4

try:
    app = create_app()
except FilesError as exc:  # one clear line, not a traceback
    print(f"files-service: cannot start: {exc}", file=sys.stderr)
    sys.exit(APP_LOAD_ERROR)
# The start-up check's database connection is closed, not inherited by forked workers.
get_services(app).close()
