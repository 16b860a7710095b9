"""Gunicorn settings for files_service (``gunicorn -c python:files_service.gunicorn_conf``).

The access log leaves out query strings and redacts legacy-path tokens, and the error log is
scrubbed the same way: a download URL is a bearer secret and must never reach a log."""

from __future__ import annotations

import os
import traceback
from typing import Any

from gunicorn.glogging import Logger

from files_service.redact import redact

# gthread: a slow client holds a thread, not a whole worker. In stream mode a download holds
# its thread for as long as the client takes to read it; 8 per worker stays under botocore's
# pool of 10 connections per S3 client, so no download waits for, or churns, a connection.
# (In accel and redirect modes a request is over in milliseconds.)
worker_class = "gthread"
threads = 8
# Forwarded headers are believed only by the app's ProxyFix, for exactly FILES_TRUSTED_PROXIES
# hops (§8). Gunicorn's own defaults would trust X-Forwarded-Proto from any loopback peer
# (an nginx on the same host passes on what the client sent), whatever that setting says.
forwarded_allow_ips = ""  # nobody
secure_scheme_headers: dict[str, str] = {}
timeout = 60
graceful_timeout = 20
keepalive = 5
# gunicorn 23+ opens a control socket under $HOME by default: one path shared by every
# instance on the machine (and racing between them); this service has no use for it.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
# The access line: address "method path protocol" status bytes seconds. No query string, no
# Referer (either may carry a token). RedactingLogger.access builds it directly; this format
# says the same to gunicorn's stock logger (the benchmark's naive baseline uses it).
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

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """One line per request, built from just the fields it shows: gunicorn's generic
        ``atoms()`` gathers every header and the environ for each request, which cost more
        than the whole download handler. The query string is never logged, and a legacy
        download path has its token redacted."""
        if not self.access_log_enabled:
            return
        path = environ.get("PATH_INFO", "")
        if path.startswith("/api/v1/files/"):
            path = redact(path)
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        line = (
            f'{environ.get("REMOTE_ADDR", "-")} "{environ.get("REQUEST_METHOD", "-")} {path} '
            f'{environ.get("SERVER_PROTOCOL", "-")}" {status} {sent if sent is not None else "-"} '
            f"{request_time.seconds}.{request_time.microseconds:06d}s"
        )
        try:
            self.access_log.info(line)
        except Exception:
            self.error(traceback.format_exc())


logger_class = RedactingLogger


def child_exit(server: Any, worker: Any) -> None:
    """Tell prometheus-client's multiprocess mode that a worker is gone."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
