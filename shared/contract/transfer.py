"""Moving a job's files between its shared directory and the blob store, several files at a time.

Many small files are bound by round trips, not bandwidth; a few transfers in flight keep the link busy.
Each store bounds its own memory per transfer (blocks at a time), so the peak stays a small multiple.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

FILES_AT_A_TIME = 4

Key = TypeVar("Key")
Value = TypeVar("Value")


def transfer_all(items: Iterable[tuple[Key, Callable[[], Value]]]) -> dict[Key, Value]:
    """Run every transfer, FILES_AT_A_TIME at once; results by key, in the order given. After a
    failure no further transfer starts, and the first failure is raised once the transfers already
    started have ended (each is idempotent, so a retry completes the rest)."""
    work = list(items)
    if len(work) <= 1:
        return {key: action() for key, action in work}
    # A few threads each take the next transfer in turn: no future per file, whose bookkeeping cost
    # ~10 µs a file, a tenth of copying 1 MiB from page cache.
    results: dict[int, Value] = {}
    failures: list[BaseException] = []
    lock = threading.Lock()
    taken = 0

    def take_turns() -> None:
        nonlocal taken
        while True:
            with lock:
                if failures or taken == len(work):
                    return
                index = taken
                taken += 1
            try:
                results[index] = work[index][1]()
            except BaseException as error:
                with lock:
                    failures.append(error)
                return

    threads = [threading.Thread(target=take_turns, name=f"ion-transfer-{number}")
               for number in range(min(FILES_AT_A_TIME, len(work)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return {key: results[index] for index, (key, _) in enumerate(work)}
