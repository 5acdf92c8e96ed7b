"""The in-memory bus, a fresh one per test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from shared.messaging.memory import MemoryBus


@contextmanager
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryBus]:
    bus = MemoryBus()
    try:
        yield bus
    finally:
        bus.close()
