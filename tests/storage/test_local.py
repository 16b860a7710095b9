"""What only ``LocalStorage`` does: the root on disk, symlinks, the temporary area, paths."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from files_service.errors import InvalidStorageKey, ObjectNotFound, StorageUnavailable
from files_service.storage import LocalStorage, Storage


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "objects"


@pytest.fixture
def storage(root: Path) -> LocalStorage:
    return LocalStorage(root)


def read(storage: Storage, key: str) -> bytes:
    stream = storage.open(key)
    try:
        return b"".join(stream)
    finally:
        stream.close()


def test_root_is_created(tmp_path: Path) -> None:
    LocalStorage(tmp_path / "deep" / "down")
    assert (tmp_path / "deep" / "down").is_dir()


def test_relative_root_is_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    storage = LocalStorage("var/objects")
    assert storage.url == "local://var/objects"
    assert storage.root == str(tmp_path.resolve() / "var" / "objects")
    monkeypatch.chdir("/")  # a later change of directory does not move the storage
    storage.write("k", [b"v"])
    assert (tmp_path / "var" / "objects" / "k").read_bytes() == b"v"


def test_path_for_is_the_absolute_file(storage: LocalStorage, root: Path) -> None:
    storage.write("a/b c.txt", [b"data"])
    path = storage.path_for("a/b c.txt")
    assert os.path.isabs(path)
    assert path == str(root.resolve() / "a" / "b c.txt")
    assert Path(path).read_bytes() == b"data"
    assert storage.path_for("not/yet/written") == str(root.resolve() / "not" / "yet" / "written")
    with pytest.raises(InvalidStorageKey):
        storage.path_for("../escape")


def test_file_mode_follows_the_umask(storage: LocalStorage) -> None:
    # Not the 0o600 of a temporary file: nginx may serve it as another user.
    previous = os.umask(0o022)
    try:
        storage.write("public", [b"x"])
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(storage.path_for("public")).st_mode) == 0o644


class TestSymlinks:
    @pytest.fixture
    def outside(self, tmp_path: Path) -> Path:
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "secret.txt").write_bytes(b"secret")
        return outside

    def test_directory_link_out_of_the_root_is_refused(
        self, storage: LocalStorage, root: Path, outside: Path
    ) -> None:
        (root / "link").symlink_to(outside, target_is_directory=True)
        with pytest.raises(ObjectNotFound):
            storage.stat("link/secret.txt")
        with pytest.raises(ObjectNotFound):
            storage.open("link/secret.txt")
        with pytest.raises(ObjectNotFound):
            storage.path_for("link/secret.txt")
        with pytest.raises(InvalidStorageKey):
            storage.write("link/planted.txt", [b"x"])
        storage.delete("link/secret.txt")
        assert sorted(os.listdir(outside)) == ["secret.txt"]

    def test_file_link_out_of_the_root_is_refused(
        self, storage: LocalStorage, root: Path, outside: Path
    ) -> None:
        (root / "file-link").symlink_to(outside / "secret.txt")
        with pytest.raises(ObjectNotFound):
            storage.stat("file-link")
        with pytest.raises(ObjectNotFound):
            storage.open("file-link")
        with pytest.raises(InvalidStorageKey):
            storage.write("file-link", [b"overwritten"])
        assert (outside / "secret.txt").read_bytes() == b"secret"

    def test_link_into_the_temporary_area_is_refused(
        self, storage: LocalStorage, root: Path
    ) -> None:
        (root / "sneaky").symlink_to(root / ".tmp", target_is_directory=True)
        (root / ".tmp" / "half-written.part").write_bytes(b"partial")
        with pytest.raises(ObjectNotFound):
            storage.stat("sneaky/half-written.part")

    def test_link_inside_the_root_is_followed(self, storage: LocalStorage, root: Path) -> None:
        storage.write("real/file", [b"content"])
        (root / "alias").symlink_to(root / "real", target_is_directory=True)
        assert read(storage, "alias/file") == b"content"


class TestTemporaryArea:
    @pytest.mark.parametrize("key", [".tmp", ".tmp/x.part", ".TMP/x", ".Tmp"])
    def test_cannot_be_addressed(self, storage: LocalStorage, key: str) -> None:
        for call in (storage.stat, storage.open, storage.delete, storage.path_for):
            with pytest.raises(InvalidStorageKey):
                call(key)
        with pytest.raises(InvalidStorageKey):
            storage.write(key, [b"x"])

    def test_a_deeper_tmp_is_an_ordinary_key(self, storage: LocalStorage) -> None:
        storage.write("a/.tmp/b", [b"fine"])
        assert read(storage, "a/.tmp/b") == b"fine"

    def test_is_empty_after_writes(self, storage: LocalStorage, root: Path) -> None:
        storage.write("one", [b"1"])
        with pytest.raises(RuntimeError):
            storage.write("two", _failing())
        assert os.listdir(root / ".tmp") == []
        assert sorted(os.listdir(root)) == [".tmp", "one"]

    def test_failed_write_leaves_no_directories(self, storage: LocalStorage, root: Path) -> None:
        with pytest.raises(RuntimeError):
            storage.write("new/dirs/file", _failing())
        assert not (root / "new").exists()

    def test_is_recreated_if_removed(self, storage: LocalStorage, root: Path) -> None:
        (root / ".tmp").rmdir()
        storage.write("k", [b"v"])
        assert read(storage, "k") == b"v"


def _failing() -> Iterator[bytes]:
    yield b"some bytes"
    raise RuntimeError("client went away")


def test_directory_is_not_an_object(storage: LocalStorage) -> None:
    storage.write("dir/file", [b"x"])
    with pytest.raises(ObjectNotFound):
        storage.stat("dir")
    with pytest.raises(ObjectNotFound):
        storage.open("dir")
    storage.delete("dir")
    assert read(storage, "dir/file") == b"x"


def test_fifo_is_not_an_object_and_does_not_hang(storage: LocalStorage, root: Path) -> None:
    os.mkfifo(root / "pipe")
    with pytest.raises(ObjectNotFound):
        storage.stat("pipe")
    with pytest.raises(ObjectNotFound):
        storage.open("pipe")


def test_segment_too_long_for_the_filesystem_is_refused(storage: LocalStorage) -> None:
    for call in (storage.stat, storage.open, storage.delete):
        with pytest.raises(InvalidStorageKey):
            call("a" * 256)
    with pytest.raises(InvalidStorageKey):
        storage.write("a" * 256, [b"x"])
    storage.write("a" * 255, [b"x"])


def test_write_under_a_file_is_unavailable(storage: LocalStorage, root: Path) -> None:
    storage.write("f", [b"a file"])
    with pytest.raises(StorageUnavailable):
        storage.write("f/g", [b"x"])
    assert os.listdir(root / ".tmp") == []
    with pytest.raises(ObjectNotFound):
        storage.stat("f/g")


def test_check_fails_when_the_root_is_gone(storage: LocalStorage, root: Path) -> None:
    (root / ".tmp").rmdir()
    root.rmdir()
    with pytest.raises(StorageUnavailable):
        storage.check()
    assert not root.exists()  # check() reports, it does not repair


def test_check_fails_when_the_root_is_a_file(storage: LocalStorage, root: Path) -> None:
    (root / ".tmp").rmdir()
    root.rmdir()
    root.write_bytes(b"not a directory")
    with pytest.raises(StorageUnavailable):
        storage.check()


def test_unwritable_root_is_unavailable(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root writes anywhere: check as nobody, in a child that drops root's privileges.
        base = Path(tempfile.mkdtemp(prefix="files-unwritable-"))
        try:
            base.chmod(0o755)
            storage = LocalStorage(base / "root")
            assert _check_as_nobody(storage) == "unavailable"
            storage.check()  # the same folder is fine for its owner
        finally:
            shutil.rmtree(base)
        return
    root = tmp_path / "read-only"
    storage = LocalStorage(root)
    root.chmod(0o555)
    try:
        with pytest.raises(StorageUnavailable):
            storage.check()
    finally:
        root.chmod(0o755)


def _check_as_nobody(storage: LocalStorage) -> str:
    """What ``storage.check()`` does for the unprivileged user nobody (65534)."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 3
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                storage.check()
                code = 0
            except StorageUnavailable:
                code = 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return {0: "available", 1: "unavailable"}.get(os.waitstatus_to_exitcode(status), "crashed")
