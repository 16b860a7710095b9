"""Gunicorn settings for files_service (``gunicorn -c python:files_service.gunicorn_conf``).

The access log leaves out query strings and redacts legacy-path tokens, and the error log is
scrubbed the same way: a download URL is a bearer secret and must never reach a log."""

from __future__ import annotations

import os
import traceback
from typing import Any

from gunicorn.glogging import Logger

from files_service.redact import redact

# gthread: a slow client holds a thread, not a whole worker.
worker_class = "gthread"
threads = 8
timeout = 60
graceful_timeout = 20
keepalive = 5
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)ss'


class RedactingLogger(Logger):
    """Gunicorn's logger with every message and argument passed through ``redact``."""

    def _scrub(self, msg: Any, args: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
        return redact(str(msg)), tuple(redact(a) if isinstance(a, str) else a for a in args)

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        text, clean = self._scrub(msg, args)
        super().error(text, *clean, **kwargs)

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        text, clean = self._scrub(msg, args)
        super().warning(text, *clean, **kwargs)

    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        # Gunicorn's "Error handling request <uri>" quotes the URL: scrub the message and
        # the traceback, then log both as one error.
        text, clean = self._scrub(msg, args)
        kwargs.pop("exc_info", None)
        trace = redact(traceback.format_exc()).replace("%", "%%")
        super().error(text + "\n" + trace, *clean, **kwargs)

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q", "f", "{raw_uri}e"):
            if key in atoms and isinstance(atoms[key], str):
                atoms[key] = redact(atoms[key])
        atoms["q"] = ""  # the query string never reaches the access log
        return atoms


logger_class = RedactingLogger


def child_exit(server: Any, worker: Any) -> None:
    """Tell prometheus-client's multiprocess mode that a worker is gone."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
