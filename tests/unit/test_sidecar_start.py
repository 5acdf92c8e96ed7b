"""What the standalone sidecar sets up once it listens: stores opened ahead, the allocator's thresholds."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.models import EventContext
from shared.providers import Providers
from shared.settings import IonSettings
from sidecar.standalone import on_the_contract_thread, open_where_the_contract_runs, opened_ahead

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("variables", "expected"), [
    ({}, ["blob", "metadata", "bus"]),
    ({"ION_METADATA": "memory", "ION_MESSAGING": "memory"}, ["blob", "metadata", "bus"]),
    ({"ION_METADATA": "mongodb", "ION_MESSAGING": "sqlite"}, ["blob", "bus"]),
    ({"ION_METADATA": "cosmos", "ION_MESSAGING": "servicebus", "ION_BLOB": "azureblob"}, ["blob"]),
])
def test_the_blob_store_and_embedded_stores_open_ahead_cloud_sdks_wait(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], expected: list[str]
) -> None:
    for name in ("ION_METADATA", "ION_MESSAGING", "ION_BLOB"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert opened_ahead(IonSettings()) == expected


# Allocates and frees one 4 MiB block, as the SDKs do per transfer block, and reports where the C
# library put it (mallinfo2: mapped regions) and what it kept of it once freed.
_PROBE = """
import ctypes, sys
from sidecar.allocator import keep_transfer_buffers

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "keep":
    assert keep_transfer_buffers()
before = libc.mallinfo2()
block = bytearray(4 * 1024 * 1024)
during = libc.mallinfo2()
del block
after = libc.mallinfo2()
print(during.hblks - before.hblks, during.arena - after.arena, after.fordblks)
"""


def allocation(mode: str) -> tuple[int, int, int]:
    """(regions mapped for the block, bytes the heap shrank by on its free, free bytes the heap holds)."""
    done = subprocess.run([sys.executable, "-c", _PROBE, mode], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    mapped, shrunk, held = done.stdout.split()
    return int(mapped), int(shrunk), int(held)


def test_transfer_blocks_come_from_the_heap_and_their_memory_is_kept_for_the_next() -> None:
    assert allocation("default")[0] == 1  # glibc's default: mapped afresh, given back on free
    mapped, shrunk, held = allocation("keep")
    assert (mapped, shrunk) == (0, 0)
    assert held >= 4 * 1024 * 1024


def open_descriptors_of(path: Path) -> int:
    return sum(1 for fd in Path("/proc/self/fd").iterdir() if os.path.realpath(fd) == str(path))


def test_stores_opened_ahead_are_the_ones_the_contract_calls_use(tmp_path: Path) -> None:
    providers = Providers.lazy(IonSettings(ION_HOME=str(tmp_path), ION_METADATA="sqlite", ION_MESSAGING="sqlite"))
    context = EventContext(id="ev-1", type="made", correlation_id="wf-1")

    async def a_job() -> None:
        await open_where_the_contract_runs(providers, ["metadata", "bus"])
        # What /ready and /done do, each on a worker thread as the app runs them:
        await asyncio.to_thread(providers.metadata.put_event_context, context)
        await asyncio.to_thread(providers.metadata.get_event_context, context.id)
        await asyncio.to_thread(providers.bus.publish, context.event())

    on_the_contract_thread(a_job())
    try:  # one connection each: the one opened ahead
        assert open_descriptors_of(tmp_path / "metadata.sqlite3") == 1
        assert open_descriptors_of(tmp_path / "bus.sqlite3") == 1
    finally:
        providers.close()
