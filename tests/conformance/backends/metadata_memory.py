"""The in-memory metadata store, a fresh one per test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from shared.metadata.memory import MemoryMetadata


@contextmanager
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryMetadata]:
    store = MemoryMetadata()
    try:
        yield store
    finally:
        store.close()
