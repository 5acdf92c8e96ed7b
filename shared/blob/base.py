"""The blob interface every store (filesystem, Azure Blob Storage) implements."""

from __future__ import annotations

import contextlib
import os
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from shared.errors import InvalidName


def check_blob_name(name: str) -> str:
    """Blob names are relative POSIX paths that stay inside the store."""
    if not name or name.startswith("/") or "\\" in name or "\x00" in name:
        raise InvalidName(f"blob name {name!r} must be a non-empty relative path")
    # Split by hand: PurePosixPath drops '.' and empty segments, and Azure would keep them.
    if any(part in ("", ".", "..") for part in name.split("/")):
        raise InvalidName(f"blob name {name!r} must not contain empty, '.' or '..' segments or end with '/'")
    return name


def blob_name(correlation_id: str, event_id: str, module: str, relative_path: str) -> str:
    """Where a module's output file lives: correlation/event/module/relative-path."""
    return check_blob_name(f"{correlation_id}/{event_id}/{module}/{relative_path}")


NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_MODE = 0o644  # an ordinary file, not the owner-only mode of a temporary one
TEMP_PREFIX = ".ion-partial-"  # a fixed length, so any file name that fits has a temporary name that fits


def _new_file(folder: int | None) -> Callable[[str, int], int]:
    """open()'s opener for a file that must not exist yet, not even as a symlink (relative to the
    descriptor `folder` when given)."""
    return lambda path, _flags: os.open(path, NEW_FILE, FILE_MODE, dir_fd=folder)


def write_replacing(name: str | Path, fill: Callable[[BinaryIO], object], folder: int | None = None) -> None:
    """Write a fresh, randomly named file beside `name` with `fill`, then rename it over `name`:
    readers see the old file or the new one whole, and a failure leaves the old one. `name` is
    relative to the descriptor `folder` when given. The fresh file is created exclusively and never
    through a symlink; the rename replaces a symlink at `name` rather than following it."""
    directory = os.path.dirname(name)
    while True:
        temp = os.path.join(directory, f"{TEMP_PREFIX}{secrets.token_hex(8)}")
        try:
            stream = open(temp, "wb", opener=_new_file(folder))  # noqa: SIM115 - closed below
            break
        except FileExistsError:  # drawn before, by another writer, or planted: draw again
            continue
    try:
        with stream:
            fill(stream)
        os.replace(temp, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp, dir_fd=folder)
        raise


def write_local(target: Path, fill: Callable[[BinaryIO], object]) -> None:
    """Write a fetched blob to the local file `target` with `fill`; a failure leaves no partial file.

    A file that does not exist yet is written in place: nobody reads it before the fetch returns (the
    module reads in/ only after /ready), and a failed fill removes it. An existing file (or anything
    else at that name) is replaced by write_replacing, so it stays whole until the new one is. Neither
    open follows a symlink: one planted in in/ cannot redirect the write.
    """
    try:
        stream = open(target, "wb", opener=_new_file(None))  # noqa: SIM115 - closed below, removed on failure
    except FileExistsError:
        write_replacing(target, fill)
        return
    try:
        with stream:
            fill(stream)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        raise


class BlobStore(ABC):
    @abstractmethod
    def put(self, path: Path, name: str) -> str:
        """Stream the local file at `path` into blob `name` (overwriting); returns its URL."""

    @abstractmethod
    def get(self, name: str, path: Path) -> None:
        """Stream blob `name` into the local file `path` (parents created). NotFound if missing.

        A failed transfer leaves no partial file at `path`: nothing, or the file that was there.
        """

    @abstractmethod
    def url(self, name: str) -> str:
        """The URL recorded in event contexts for blob `name`."""

    @abstractmethod
    def name_from_url(self, url: str) -> str:
        """The blob name behind a URL this store produced; InvalidName for a foreign URL."""

    @abstractmethod
    def exists(self, name: str) -> bool: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
