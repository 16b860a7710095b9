"""Which file types a browser runs no script from: the only ones ``FILES_DELIVERY=redirect``
sends to the storage's own origin (docs/delivery.md, "Active content").

A redirect hands the browser to the storage's host (the bucket's origin), whose answer carries
only what a presigned URL can ask for (type, disposition, caching): no ``Content-Security-
Policy: sandbox`` and no ``nosniff``. An HTML or SVG file served there would run its script
with that origin. So the list is of types known to be inert, not of types known to be active:
a type nobody thought of is streamed by the service, with the §4 headers, rather than trusted.

Inert (compared case-insensitively on the type without its parameters):

- ``image/*``, ``audio/*``, ``video/*``, ``font/*``: rendered as media, never as a document
  (browsers sniff them, if at all, only into other media types);
- ``application/vnd.*`` (office documents and the like: downloaded or handed to another
  program), and the types of ``INERT_TYPES``;

except any ``…+xml`` type (``image/svg+xml`` is a document with script) and any type with
``*`` in it. A value that is not one well-formed ``type/subtype``, or that holds a comma (a
browser reads ``image/png,text/html`` as a list and takes the last), is not inert: so
``text/html``, XHTML, XML, XSL, JavaScript, ``multipart/*``, ``message/*`` and the types
browsers sniff into HTML (``unknown/unknown``, ``application/unknown``, ``*/*``) never are.
"""

from __future__ import annotations

import functools

from ..validation import media_essence

__all__ = ["INERT_TOP_LEVEL_TYPES", "INERT_TYPES", "is_inert"]

INERT_TOP_LEVEL_TYPES = frozenset({"image", "audio", "video", "font"})
INERT_TYPES = frozenset({
    "text/plain",  # sniffed, at most, into application/octet-stream
    "text/csv",
    "application/octet-stream",
    "application/pdf",  # PDF viewers run a PDF's script apart from the page's origin
    "application/json",
    "application/zip",
    "application/gzip",
    "application/x-tar",
    "application/x-7z-compressed",
    "application/msword",
})



@functools.lru_cache(maxsize=1024)
def is_inert(content_type: str) -> bool:
    """Whether a browser shown ``content_type`` (a file's ``Content-Type``) runs no script
    from the response, whatever its bytes (see the module docstring for the list)."""
    parsed = media_essence(content_type)
    if parsed is None:
        return False
    top, sub = parsed
    essence = f"{top}/{sub}"
    if sub.endswith("+xml"):
        return False
    return (
        top in INERT_TOP_LEVEL_TYPES
        or essence in INERT_TYPES
        or (top == "application" and sub.startswith("vnd."))
    )
