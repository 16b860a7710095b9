"""Which storage keys an organization reaches (§5 "Tenancy and limits").

The service owns two folders per organization and touches nothing else in storage:

- ``{organization id}/…``: its uploads, written by the service itself;
- ``imports/{organization id}/…``: objects the main API puts there for the organization to
  register (``POST /api/v1/files`` with a ``storage-key``).

A key is inside a folder when it is spelled, character for character, as the folder followed
by a relative path that cannot walk anywhere: no empty, ``.`` or ``..`` segment, no backslash
(a separator elsewhere). Nothing is decoded, normalized or case-folded first: no backend does
either (local paths and S3 keys are taken literally, and percent-encoded on the way to S3 or
nginx), so a spelling that differs is simply another key, outside the folder. These are pure
checks on the spelling: deciding never asks storage anything, so the answer for a key outside
the folder cannot depend on what lies there. Whether a key inside is one storage can hold
(its length, control characters) is asked after, and refused as a bad value, not as a place
out of reach."""

from __future__ import annotations

import secrets

from .errors import Forbidden, ValidationError

IMPORTS = "imports"


def import_folder(org_id: str) -> str:
    """The folder the main API puts objects in for ``org_id`` to register, with its slash."""
    return f"{IMPORTS}/{org_id}/"


def upload_key(org_id: str, file_id: str) -> str:
    """Where the service stores the upload ``file_id`` of ``org_id``."""
    return f"{org_id}/{file_id}"


def upload_attempt_key(org_id: str, file_id: str) -> str:
    """Where one attempt to upload ``file_id`` of ``org_id`` through an upload URL writes:
    the upload's key and a random suffix, so that attempts racing with one URL never write
    (or, on S3, complete a multipart upload onto) the same object; the registry keeps one."""
    return f"{upload_key(org_id, file_id)}.{secrets.token_hex(8)}"


def is_inside(folder: str, key: str) -> bool:
    """Whether ``key`` names an object strictly inside ``folder`` (which ends with ``/``)."""
    if not key.startswith(folder) or "\\" in key:
        return False
    return all(segment not in _WALKS for segment in key[len(folder):].split("/"))


_WALKS = frozenset({"", ".", ".."})


def owns_key(org_id: str, key: str) -> bool:
    """Whether ``key`` lies in a folder the service owns for ``org_id``: only such objects are
    ever deleted with their file."""
    return is_inside(f"{org_id}/", key) or is_inside(import_folder(org_id), key)


def check_import_key(org_id: str, key: object, field: str = "storage-key") -> str:
    """``key`` where it names an object inside the import folder of ``org_id``;
    ``ValidationError`` where it is no string, ``Forbidden`` (one message, whatever the key and
    whatever storage holds) otherwise."""
    if not isinstance(key, str):
        raise ValidationError(field, "must be a string")
    folder = import_folder(org_id)
    if not is_inside(folder, key):
        raise Forbidden(
            field,
            f"must name an object in your organization's import folder, {folder}…; "
            "nothing else in storage can be registered.",
        )
    return key
