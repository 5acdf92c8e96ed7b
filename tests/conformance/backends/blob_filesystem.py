"""The filesystem blob store, rooted in a fresh folder per test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from shared.blob.filesystem import FilesystemBlobStore


@contextmanager
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FilesystemBlobStore]:
    store = FilesystemBlobStore(tmp_path / "blobs")
    try:
        yield store
    finally:
        store.close()
