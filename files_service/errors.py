"""The domain's exceptions. Foreign errors (botocore, itsdangerous, the database driver) are
translated into these at the boundary; views and commands only ever see this tree.

    FilesError
    ├── SettingsError            a setting is unknown, malformed or cannot work with another
    ├── FieldError               a value from a user is refused (carries the field at fault)
    │   ├── ValidationError      it is malformed, or names nothing that is there
    │   └── Forbidden            it names what the caller's organization may not reach
    ├── UploadTooLarge           an upload is over its byte limit (carries the limit)
    ├── QuotaExceeded            storing it would take the organization past its quota
    ├── NotFound                 no such resource (or not visible to the caller)
    ├── FileIdTaken              a file with the id an upload URL bound exists already
    ├── TokenError               a download token is refused
    │   ├── TokenInvalid         malformed, tampered, another filename or style, unknown key id
    │   └── TokenExpired         past its expiry (carries expired_at and now)
    ├── StorageError             object storage failed
    │   ├── ObjectNotFound       no object at that key (also a FileNotFoundError)
    │   ├── InvalidStorageKey    no object can be stored at that key (also a ValueError)
    │   └── StorageUnavailable   storage cannot be reached or timed out
    └── RegistryError            the registry (SQL) failed
        ├── RegistryUnavailable  the database cannot be reached
        └── SchemaMissing        the schema is absent or older than this code: run `init`
"""

from __future__ import annotations


class FilesError(Exception):
    """Base of every error this service raises on purpose."""


class SettingsError(FilesError):
    """A setting is unknown, malformed, or cannot work together with another one."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


class FieldError(FilesError):
    """A value supplied by a user is refused. ``field`` names what was at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ValidationError(FieldError, ValueError):
    """A value supplied by a user is malformed, or names nothing that is there."""


class Forbidden(FieldError):
    """A value names something outside what the caller's organization may reach (a storage
    key outside its import folder). The refusal says nothing of what lies there."""


class UploadTooLarge(FilesError):
    """An upload is larger than its byte limit (``FILES_MAX_UPLOAD_BYTES``), found before
    the body was read (its declared length) or while it streamed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the upload is larger than {limit} bytes")
        self.limit = limit


class QuotaExceeded(FilesError):
    """Storing a file would take its organization past its ``storage-quota``. ``used`` is
    what the organization stored when this was found."""

    def __init__(self, quota: int, used: int) -> None:
        super().__init__(f"the storage quota of {quota} bytes would be exceeded ({used} used)")
        self.quota = quota
        self.used = used


class NotFound(FilesError, LookupError):
    """No such resource, or one the caller may not see."""

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident} not found")
        self.kind = kind
        self.ident = ident


class FileIdTaken(FilesError):
    """A file with this id exists already: the upload URL that bound the id was used."""

    def __init__(self, file_id: str) -> None:
        super().__init__(f"file {file_id} exists already")
        self.file_id = file_id


class TokenError(FilesError):
    """A download token is refused. ``code`` is the §4 error code."""

    code = "invalid_token"


class TokenInvalid(TokenError):
    """Malformed, tampered, for another filename or URL style, or signed by an unknown key."""

    code = "invalid_token"


class TokenExpired(TokenError):
    """The token's expiry has passed (beyond the clock leeway)."""

    code = "expired_token"

    def __init__(self, expired_at: int, now: float) -> None:
        super().__init__("token expired")
        self.expired_at = expired_at
        self.now = now


class StorageError(FilesError):
    """Object storage failed."""


class ObjectNotFound(StorageError, FileNotFoundError):
    """No object is stored at that key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no object at storage key {key!r}")
        self.key = key


class InvalidStorageKey(StorageError, ValueError):
    """The backend can hold no object at this key: a spelling that could leave its root
    (``..``, absolute, NUL…), a name it reserves, or a length it cannot store. A caller that
    took the key from a user answers with a client error naming it."""


class StorageUnavailable(StorageError):
    """Storage cannot be reached, refused the request or timed out."""


class RegistryError(FilesError):
    """The registry database failed."""


class RegistryUnavailable(RegistryError):
    """The registry database cannot be reached."""


class SchemaMissing(RegistryError):
    """The registry schema is missing or older than this code."""
