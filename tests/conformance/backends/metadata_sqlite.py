"""The embedded SQLite metadata store, on a fresh file per test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from shared.metadata.sqlite import SqliteMetadata


@contextmanager
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqliteMetadata]:
    store = SqliteMetadata(tmp_path / "metadata.sqlite3")
    try:
        yield store
    finally:
        store.close()
