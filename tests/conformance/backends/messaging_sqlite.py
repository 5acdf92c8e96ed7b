"""The embedded SQLite bus, on a fresh file per test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from shared.messaging.sqlite import SqliteBus


@contextmanager
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqliteBus]:
    bus = SqliteBus(tmp_path / "bus.sqlite3")
    try:
        yield bus
    finally:
        bus.close()
