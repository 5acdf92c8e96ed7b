"""One conformance suite per interface; every implementation runs the very same cases.

Each implementation is a file `backends/<interface>_<name>.py` with a context manager
`make(request, tmp_path)` that yields a ready, empty provider (and cleans it up). Adding an
implementation means adding a file; the suites do not change.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BACKENDS_DIR = Path(__file__).parent / "backends"


def _backends(interface: str) -> list[str]:
    return sorted(p.stem.removeprefix(f"{interface}_") for p in BACKENDS_DIR.glob(f"{interface}_*.py"))


def _make(interface: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    module = importlib.import_module(f"tests.conformance.backends.{interface}_{request.param}")
    with module.make(request, tmp_path) as provider:
        yield provider


@pytest.fixture(params=_backends("messaging"))
def bus(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from _make("messaging", request, tmp_path)


@pytest.fixture(params=_backends("metadata"))
def metadata(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from _make("metadata", request, tmp_path)


@pytest.fixture(params=_backends("blob"))
def blob(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from _make("blob", request, tmp_path)
