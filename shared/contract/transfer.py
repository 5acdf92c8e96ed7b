"""Moving a job's files between its shared directory and the blob store, several files at a time.

Many small files are bound by round trips, not bandwidth; a few transfers in flight keep the link busy.
Each store bounds its own memory per transfer (blocks at a time), so the peak stays a small multiple.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

FILES_AT_A_TIME = 4

Key = TypeVar("Key")
Value = TypeVar("Value")


def transfer_all(items: Iterable[tuple[Key, Callable[[], Value]]]) -> dict[Key, Value]:
    """Run every transfer, FILES_AT_A_TIME at once; results by key. The first failure is raised
    once the transfers already started have ended (each is idempotent, so a retry completes the rest)."""
    work = list(items)
    if len(work) <= 1:
        return {key: action() for key, action in work}
    with ThreadPoolExecutor(max_workers=min(FILES_AT_A_TIME, len(work)), thread_name_prefix="ion-transfer") as pool:
        futures = [(key, pool.submit(action)) for key, action in work]
        try:
            return {key: future.result() for key, future in futures}
        except BaseException:
            for _, future in futures:
                future.cancel()
            raise
