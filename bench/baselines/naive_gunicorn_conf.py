"""Gunicorn settings of the naive baseline: the service's own (worker class, threads, timeouts,
keep-alive, access log and its format), imported rather than copied so that the two can never
drift apart. Left out: the service's redacting logger and its prometheus hook, which are
features of the service, not gunicorn settings; the worker count is given on the command line,
as ``files-service serve`` gives it."""

from files_service.gunicorn_conf import (
    access_log_format,
    accesslog,
    errorlog,
    graceful_timeout,
    keepalive,
    threads,
    timeout,
    worker_class,
)

__all__ = [
    "access_log_format",
    "accesslog",
    "errorlog",
    "graceful_timeout",
    "keepalive",
    "threads",
    "timeout",
    "worker_class",
]
