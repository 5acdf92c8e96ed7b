from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# The package under test, importable without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sidecar_process import DevSidecar


@pytest.fixture
def start_sidecar(tmp_path: Path) -> Iterator[Callable[..., DevSidecar]]:
    started: list[DevSidecar] = []

    def start(**options: Any) -> DevSidecar:
        sidecar = DevSidecar(tmp_path / "home", **options)
        started.append(sidecar)
        return sidecar

    yield start
    for sidecar in started:
        sidecar.stop()
