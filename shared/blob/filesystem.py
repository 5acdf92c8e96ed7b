"""Blobs as files in a folder under ION_HOME: streamed in chunks, written atomically, kept inside the root.

Every access reaches its folder from the root one folder at a time with file descriptors, never
following a symlink: no name, nor a symlink planted in the store, can lead outside it, even while
folders change underneath. Recently used folders stay open (`_OpenFolders`), so the many files of one
job's output cost one walk, not one each.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import BinaryIO, TypeVar
from urllib.parse import quote_from_bytes, urlparse
from urllib.request import url2pathname

from shared.blob.base import BlobStore, check_blob_name, write_local, write_replacing
from shared.errors import InvalidName, NotFound

CHUNK_BYTES = 1024 * 1024
SENDFILE_MIN_BYTES = 64 * 1024  # below this one read and one write cost no more than a sendfile
SENDFILE_BYTES = 64 * 1024 * 1024  # per sendfile call; the kernel moves it without a user buffer
OPEN_FOLDERS = 32  # folders kept open per store: a few jobs' outputs at a time
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

Result = TypeVar("Result")


def _stream(source: BinaryIO, out: BinaryIO) -> None:
    """Copy in the kernel (sendfile: no pass through Python's memory) when the source is a regular
    file worth it; otherwise, or where the file system cannot, in chunks."""
    try:
        size = os.fstat(source.fileno()).st_size
    except (OSError, ValueError, io.UnsupportedOperation):
        size = 0
    if size >= SENDFILE_MIN_BYTES:
        sent = 0
        try:
            while chunk := os.sendfile(out.fileno(), source.fileno(), None, SENDFILE_BYTES):
                sent += chunk
            return
        except OSError as error:
            if sent or error.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV):
                raise
    shutil.copyfileobj(source, out, CHUNK_BYTES)


def _removed(folder: int) -> bool:
    """True when the folder behind the descriptor was deleted: it takes no new entries."""
    return os.fstat(folder).st_nlink == 0


class _OpenFolders:
    """Descriptors of the store's folders walked to recently, by folder name, least recently used
    dropped first. A descriptor keeps naming the folder it was opened on; if that folder is deleted
    it refuses new entries, and the store walks again. Callers get duplicates, so dropping one from
    here never closes a descriptor in use."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._folders: OrderedDict[str, int] = OrderedDict()

    def borrow(self, key: str) -> int | None:
        with self._lock:
            fd = self._folders.get(key)
            if fd is None:
                return None
            self._folders.move_to_end(key)
            return os.dup(fd)

    def keep(self, key: str, fd: int) -> None:
        with self._lock:
            if key in self._folders:
                return
            self._folders[key] = os.dup(fd)
            while len(self._folders) > self._capacity:
                os.close(self._folders.popitem(last=False)[1])

    def forget(self, key: str) -> None:
        with self._lock:
            fd = self._folders.pop(key, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        with self._lock:
            folders, self._folders = list(self._folders.values()), OrderedDict()
        for fd in folders:
            os.close(fd)


class FilesystemBlobStore(BlobStore):
    def __init__(self, root: Path) -> None:
        Path(root).mkdir(parents=True, exist_ok=True)
        self.root = Path(root).resolve()
        self._root_uri = self.root.as_uri()
        self._root_prefix = f"{self.root}/"
        self._folders = _OpenFolders(OPEN_FOLDERS)

    def _in_folder(self, name: str, create: bool, action: Callable[[int, str], Result]) -> Result:
        """Run `action(folder descriptor, file name)` for blob `name`. NotFound when a folder is
        missing and not created; a kept folder found deleted is walked to again, once."""
        check_blob_name(name)  # also refuses "a//b" and "a/./b": one spelling per blob
        key, _, file_name = name.rpartition("/")
        kept = self._folders.borrow(key)
        if kept is not None:
            try:
                return action(kept, file_name)
            except FileNotFoundError:
                if not _removed(kept):
                    raise
                self._folders.forget(key)
            finally:
                os.close(kept)
        folder = self._walk(key, name, create)
        try:
            self._folders.keep(key, folder)
            return action(folder, file_name)
        finally:
            os.close(folder)

    def _walk(self, key: str, name: str, create: bool) -> int:
        try:
            fd = os.open(self.root, _FOLDER)
        except FileNotFoundError:  # the whole store was removed: a write starts it again
            if not create:
                raise NotFound(f"blob {name!r} does not exist") from None
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root, _FOLDER)
        try:
            for folder in key.split("/") if key else ():
                try:
                    child = self._open_child(fd, folder, create)
                except FileNotFoundError:
                    raise NotFound(f"blob {name!r} does not exist") from None
                except NotADirectoryError:
                    if stat.S_ISLNK(os.stat(folder, dir_fd=fd, follow_symlinks=False).st_mode):
                        raise InvalidName(f"blob name {name!r} leads outside the blob store (a symlink)") from None
                    if create:
                        raise InvalidName(f"blob name {name!r} is below an existing blob") from None
                    raise NotFound(f"blob {name!r} does not exist") from None
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd

    @staticmethod
    def _open_child(folder: int, child: str, create: bool) -> int:
        try:
            return os.open(child, _FOLDER, dir_fd=folder)
        except FileNotFoundError:
            if not create:
                raise
        with contextlib.suppress(FileExistsError):  # made meanwhile by another writer
            os.mkdir(child, dir_fd=folder)
        return os.open(child, _FOLDER, dir_fd=folder)

    def put(self, path: Path, name: str) -> str:
        # Written under a temporary name and renamed: readers never see half a blob. No fsync: the
        # store is as durable as the embedded SQLite stores beside it (WAL, synchronous=NORMAL). A
        # crash of Ion loses nothing (the page cache outlives the process); a power cut may lose the
        # last writes of both, like any file copy. Syncing every blob would cost a disk flush per file.
        def store(folder: int, file_name: str) -> None:
            with open(path, "rb", buffering=0) as source:
                try:
                    write_replacing(file_name, partial(_stream, source), folder)
                except IsADirectoryError:
                    raise InvalidName(f"blob name {name!r} is a folder of other blobs") from None

        self._in_folder(name, True, store)
        return self._uri(name)

    def get(self, name: str, path: Path) -> None:
        def open_blob(folder: int, file_name: str) -> int:
            try:
                return os.open(file_name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
            except OSError as error:
                if error.errno == errno.ELOOP:
                    raise InvalidName(f"blob name {name!r} is a symlink, not a blob") from None
                raise

        try:
            fd = self._in_folder(name, False, open_blob)
        except FileNotFoundError:
            raise NotFound(f"blob {name!r} does not exist") from None
        with os.fdopen(fd, "rb", buffering=0) as source:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise NotFound(f"blob {name!r} does not exist (it is a folder of other blobs)")
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            write_local(target, partial(_stream, source))

    def url(self, name: str) -> str:
        return self._uri(check_blob_name(name))

    def _uri(self, name: str) -> str:
        return f"{self._root_uri}/{quote_from_bytes(os.fsencode(name))}"  # as Path.as_uri() spells it

    def name_from_url(self, url: str) -> str:
        parsed = urlparse(url)
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            raise InvalidName(f"{url!r} is not a URL of this blob store")
        path = url2pathname(parsed.path)  # also undoes the percent-encoding
        if not path.startswith(self._root_prefix):
            raise InvalidName(f"{url!r} is not a URL of this blob store")
        return check_blob_name(path[len(self._root_prefix):])

    def exists(self, name: str) -> bool:
        def regular(folder: int, file_name: str) -> bool:
            return stat.S_ISREG(os.stat(file_name, dir_fd=folder, follow_symlinks=False).st_mode)

        try:
            return self._in_folder(name, False, regular)
        except (NotFound, FileNotFoundError):
            return False

    def close(self) -> None:
        self._folders.close()
