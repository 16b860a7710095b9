"""Streaming a ``multipart/form-data`` upload (§5) straight into storage.

``request.files`` is never used: Werkzeug spools a large file part to a temporary file of its
full size. Here the body is read from the WSGI stream in ``READ_SIZE`` chunks through
Werkzeug's sans-IO ``MultipartDecoder`` and the ``file`` part's bytes go to storage as they
arrive, so memory stays flat and no copy of the upload is made whatever its size.

The form, its parts in either order (``curl -F file=@x -F metadata=…`` and ``requests``'
``files=`` send the metadata last):

- ``file`` (required, exactly one): the content. Its ``filename`` is the file's name and its
  ``Content-Type`` the file's media type, unless it is missing or the generic
  ``application/octet-stream``: then one is guessed from the name.
- ``metadata`` (optional, at most one): a JSON object, at most ``MAX_FIELD_BYTES``. Before the
  file it is known (and checked) before a byte of the file moves; after it, it is read once
  the file is in storage, and the row is written only then.

No other part is accepted. The whole body, up to its closing boundary, is read before the
write completes: a body that breaks off, is malformed, or has a part it should not have fails
the write, which then leaves nothing in storage and no row in the registry.

Errors name the part at fault with ``source.pointer`` as if the form were a JSON object:
``/file``, ``/file/filename``, ``/file/content-type``, ``/metadata``; ``""`` is the body as a
whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import (
    Data,
    Epilogue,
    Event,
    Field,
    File,
    MultipartDecoder,
    NeedData,
    State,
)

from ..jsonapi import ApiError, bad_header, bad_pointer, json_pointer, payload_too_large, shorten
from .negotiation import json_object, read_body

READ_SIZE = 64 * 1024
MAX_FIELD_BYTES = 64 * 1024
MAX_OVERHEAD_BYTES = 64 * 1024  # preamble, part headers, epilogue: whatever the decoder buffers
MAX_PARTS = 8
MAX_FRAMING_BYTES = 1024 * 1024
"""More than any body this module accepts carries besides the file's bytes: a preamble, two
parts' headers and an epilogue of at most ``MAX_OVERHEAD_BYTES`` each, a metadata part of at
most ``MAX_FIELD_BYTES`` and three boundary lines (each within one ``READ_SIZE`` read, or the
decoder takes it for content). A body declaring a length over the upload limit by more than
this is refused before it is read."""
FILE_PART = "file"
METADATA_PART = "metadata"
POINTERS = {
    "filename": "/file/filename",
    "content-type": "/file/content-type",
    "metadata": "/metadata",
}
"""Where the domain's validation errors on an upload point (``from_validation``)."""


def boundary_of(content_type: str | None) -> bytes:
    """The ``boundary`` of a ``multipart/form-data`` Content-Type; 400 where there is none."""
    _, options = parse_options_header(content_type or "")
    boundary = options.get("boundary", "")
    if not boundary or len(boundary) > 200 or not boundary.isascii():
        raise bad_header(
            "Content-Type", "multipart/form-data needs a boundary parameter (1 to 200 ASCII "
            "characters)."
        )
    return boundary.encode("ascii")


@dataclass(frozen=True)
class UploadHead:
    """What is known when the file part starts: its name and type, and the metadata where
    that part came first (``None`` otherwise)."""

    filename: str
    content_type: str | None
    metadata: dict[str, Any] | None


class MultipartUpload:
    """One multipart body, read once: ``read_head`` up to the file part, then
    ``file_chunks`` for the content and the rest of the body; ``metadata`` once it is all
    read."""

    def __init__(self, stream: IO[bytes], boundary: bytes) -> None:
        self._stream = stream
        self._decoder = MultipartDecoder(boundary, max_parts=MAX_PARTS)
        self._started = False
        self._seen_metadata = False
        self._metadata: dict[str, Any] | None = None
        self._complete = False

    @property
    def metadata(self) -> dict[str, Any] | None:
        """The ``metadata`` part, before or after the file (``None`` without one); known once
        ``file_chunks`` has run to its end."""
        if not self._complete:
            raise RuntimeError("the metadata is known once the whole body is read")
        return self._metadata

    def read_head(self) -> UploadHead:
        """Read the parts before the file part; ``ApiError`` for a form we do not take."""
        while True:
            event = self._next()
            if isinstance(event, Epilogue):
                raise bad_pointer("/file", "The form has no 'file' part.")
            if isinstance(event, File | Field):
                name = event.name or ""
                if name == FILE_PART:
                    filename = event.filename if isinstance(event, File) else ""
                    if not filename:
                        raise bad_pointer(
                            "/file/filename",
                            "The 'file' part needs a filename in its Content-Disposition.",
                        )
                    content_type = event.headers.get("Content-Type") or None
                    return UploadHead(filename, content_type, self._metadata)
                self._other_part(name)

    def file_chunks(self) -> Iterator[bytes]:
        """The file part's bytes as they arrive, then the rest of the body: a ``metadata``
        part where none came before, then the closing boundary. Any error is raised from the
        iterator, so that the storage write consuming it fails and leaves nothing behind."""
        if self._started:
            raise RuntimeError("the file part can be read once")
        self._started = True
        while True:
            event = self._next()
            if isinstance(event, Data):
                if event.data:
                    yield event.data
                if not event.more_data:
                    break
        while True:
            event = self._next()
            if isinstance(event, Epilogue):
                self._complete = True
                return
            if isinstance(event, File | Field):
                name = event.name or ""
                if name == FILE_PART:
                    raise bad_pointer("/file", "The form may have only one 'file' part.")
                self._other_part(name)

    # -- internals ---------------------------------------------------------------------------

    def _other_part(self, name: str) -> None:
        """Read a part that is not the file: the one ``metadata`` part, or a refusal."""
        if name != METADATA_PART:
            raise _unknown_part(name)
        if self._seen_metadata:
            raise bad_pointer("/metadata", "The form may have only one 'metadata' part.")
        self._seen_metadata = True
        self._metadata = self._json_object(self._field_value(METADATA_PART))

    def _next(self) -> Event:
        """The decoder's next event, reading from the stream as it needs data."""
        decoder = self._decoder
        while True:
            try:
                event = decoder.next_event()
            except RequestEntityTooLarge:
                raise payload_too_large(f"A form may have at most {MAX_PARTS} parts.") from None
            except ValueError:
                raise bad_pointer("", "The multipart/form-data body is malformed.") from None
            if not isinstance(event, NeedData):
                return event
            decoder.receive_data(self._read())
            if (
                decoder.state in (State.PREAMBLE, State.PART, State.EPILOGUE)
                and len(decoder.buffer) > MAX_OVERHEAD_BYTES
            ):
                raise payload_too_large(
                    "The form's preamble, part headers or epilogue are too large."
                )

    def _read(self) -> bytes | None:
        """The next chunk of the body, or ``None`` at its end."""
        return read_body(self._stream, READ_SIZE) or None

    def _field_value(self, name: str) -> bytes:
        value = bytearray()
        while True:
            event = self._next()
            if isinstance(event, Data):
                value += event.data
                if len(value) > MAX_FIELD_BYTES:
                    raise payload_too_large(
                        f"The '{name}' part may be at most {MAX_FIELD_BYTES} bytes.", f"/{name}"
                    )
                if not event.more_data:
                    return bytes(value)

    @staticmethod
    def _json_object(raw: bytes) -> dict[str, Any]:
        detail = "The 'metadata' part must be a JSON object."
        return json_object(raw, "/metadata", not_json=detail, not_object=detail)


def _unknown_part(name: str) -> ApiError:
    shown = shorten(name, 40)
    return bad_pointer(
        json_pointer(shown),
        f"Unknown form part {shown!r}: the form takes 'file' and, optionally, 'metadata'.",
    )
