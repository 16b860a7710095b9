"""Gunicorn settings for files_service (``gunicorn -c python:files_service.gunicorn_conf``).

The access log leaves out query strings and redacts tokens in paths, and the error log is
scrubbed the same way: a download URL is a bearer secret and must never reach a log. Neither
log writes a control character a client sent: each is escaped, so no request forges a line."""

from __future__ import annotations

import os
from typing import Any

from gunicorn.glogging import Logger

from files_service.redact import RedactingFilter, escape_controls, loggable_path

# gthread: a slow client holds a thread, not a whole worker. In stream mode a download holds
# its thread for as long as the client takes to read it; 8 per worker stays under botocore's
# pool of 10 connections per S3 client, so no download waits for, or churns, a connection.
# (In accel and redirect modes a request is over in milliseconds.) gthread, less its wait for
# clients that keep their socket open after a "Connection: close" answer on the thread that
# accepts for the whole worker: see files_service/gunicorn_worker.py.
worker_class = "files_service.gunicorn_worker.ThreadWorker"
threads = 8
# Forwarded headers are believed only by the app's ProxyFix, for exactly FILES_TRUSTED_PROXIES
# hops (§8). Gunicorn's own defaults would trust X-Forwarded-Proto from any loopback peer
# (an nginx on the same host passes on what the client sent), whatever that setting says.
forwarded_allow_ips = ""  # nobody
secure_scheme_headers: dict[str, str] = {}
timeout = 60
# The app is built once, in the master, before any worker is forked: a bad setting or an
# unreachable database stops the whole server with one line and a non-zero exit (§8, and
# wsgi.py), where gunicorn would otherwise restart workers that cannot start several times a
# second, forever. A worker that gunicorn restarts later is forked from the built app and so
# starts whatever the database is doing by then.
preload_app = True
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
    """Gunicorn's logger, made safe for what clients send: every error-log record goes through
    ``RedactingFilter`` (secrets redacted, control characters escaped, tracebacks indented),
    and the access line is built from fields each escaped the same way."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        # On the logger rather than a handler: it then holds for whatever handlers gunicorn
        # (re)builds, at every level and for log(), exception() alike.
        if not any(isinstance(f, RedactingFilter) for f in self.error_log.filters):
            self.error_log.addFilter(RedactingFilter())

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """One line per request, built from just the fields it shows: gunicorn's generic
        ``atoms()`` gathers every header and the environ for each request, which cost more
        than the whole download handler. The query string is never logged; a token in the
        path is redacted, whatever the path's spelling; and no field can break the line."""
        if not self.access_log_enabled:
            return
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        line = (
            f'{escape_controls(environ.get("REMOTE_ADDR", "-"))} '
            f'"{escape_controls(environ.get("REQUEST_METHOD", "-"))} '
            f'{loggable_path(environ.get("PATH_INFO", ""))} '
            f'{escape_controls(environ.get("SERVER_PROTOCOL", "-"))}" '
            f'{escape_controls(str(status))} {sent if sent is not None else "-"} '
            f"{request_time.seconds}.{request_time.microseconds:06d}s"
        )
        try:
            self.access_log.info(line)
        except Exception:
            self.exception("could not write an access log line")


logger_class = RedactingLogger


def child_exit(server: Any, worker: Any) -> None:
    """Tell prometheus-client's multiprocess mode that a worker is gone."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
