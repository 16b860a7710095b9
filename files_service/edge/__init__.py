"""The front tier (SPEC §9): an nginx with njs in front of the service that checks download
tokens itself and sends the bytes from storage, asking the service about a file and its
principal at most once per ``FILES_REGISTRY_CACHE_SECONDS``.

    config.py        ``files-service edge-config``: nginx's whole configuration, generated
                     from the service's settings (nginx.conf.j2, files_edge.js, and the
                     generated settings and key modules)
    files_edge.js    the njs download handler nginx runs
    lookup.py        ``/_edge/lookup/…``: the service's answer about a file and principal

docs/delivery.md shows the layout and what the command writes.
"""

from __future__ import annotations

from .lookup import init_app

__all__ = ["init_app"]
