"""Blobs as files in a folder under ION_HOME: streamed in chunks, written atomically, kept inside the root."""

from __future__ import annotations

import errno
import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse
from urllib.request import url2pathname

from shared.blob.base import BlobStore, check_blob_name
from shared.errors import InvalidName, NotFound

CHUNK_BYTES = 1024 * 1024
SENDFILE_MIN_BYTES = 64 * 1024  # below this one read and one write cost no more than a sendfile
SENDFILE_BYTES = 64 * 1024 * 1024  # per sendfile call; the kernel moves it without a user buffer
_TEMP_PREFIX = ".ion-partial-"


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


def _copy(source: BinaryIO, target: Path) -> None:
    """Stream into a temporary file beside the target, then rename: readers never see half a file.

    No fsync: the store is as durable as the embedded SQLite stores beside it (WAL, synchronous=NORMAL).
    A crash of Ion loses nothing (the page cache outlives the process); a power cut may lose the last
    writes of both, like any file copy. Syncing every blob would cost a disk flush per file.
    """
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=_TEMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            _stream(source, out)
        os.chmod(temp_name, 0o644)  # mkstemp makes owner-only files; blobs are ordinary files
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


class FilesystemBlobStore(BlobStore):
    def __init__(self, root: Path) -> None:
        Path(root).mkdir(parents=True, exist_ok=True)
        self.root = Path(root).resolve()

    def _path(self, name: str) -> Path:
        """The file of blob `name`; refused if it (or a symlink on the way) leads outside the root."""
        check_blob_name(name)  # also refuses "a//b" and "a/./b": one spelling per blob
        path = self.root / name
        if not path.resolve().is_relative_to(self.root):
            raise InvalidName(f"blob name {name!r} leads outside the blob store")
        return path

    def put(self, path: Path, name: str) -> str:
        target = self._path(name)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InvalidName(f"blob name {name!r} is below an existing blob") from None
        if target.is_dir():
            raise InvalidName(f"blob name {name!r} is a folder of other blobs")
        self._path(name)  # a symlink could have appeared while folders were created
        with open(path, "rb", buffering=0) as source:
            _copy(source, target)
        return target.as_uri()  # what url(name) gives, without checking the name a third time

    def get(self, name: str, path: Path) -> None:
        source_path = self._path(name)
        try:
            source = open(source_path, "rb", buffering=0)  # noqa: SIM115 - closed below, after the missing check
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(f"blob {name!r} does not exist") from None
        with source:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            _copy(source, target)

    def url(self, name: str) -> str:
        return self._path(name).as_uri()

    def name_from_url(self, url: str) -> str:
        parsed = urlparse(url)
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            raise InvalidName(f"{url!r} is not a URL of this blob store")
        path = Path(url2pathname(parsed.path))  # also undoes the percent-encoding
        try:
            relative = path.relative_to(self.root)
        except ValueError:
            raise InvalidName(f"{url!r} is not a URL of this blob store") from None
        name = relative.as_posix()
        self._path(name)
        return name

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()
