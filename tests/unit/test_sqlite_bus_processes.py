"""Several OS processes share one SQLite bus file: every message goes to exactly one of them."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from pathlib import Path
from typing import Any

from shared.messaging.sqlite import SqliteBus

TOPIC = "work_item"
SUBSCRIPTION = "worker"
MESSAGES = 300
WORKERS = 3


def _work(path: str, ready: Any, results: Any) -> None:
    """Receive in batches, hold the locks a moment, complete; stop once the queue stays empty."""
    bus = SqliteBus(Path(path))
    ready.release()
    done: list[str] = []
    deadline = time.monotonic() + 60
    idle_since: float | None = None
    try:
        while time.monotonic() < deadline:
            batch = bus.receive(SUBSCRIPTION, max_messages=7, lock_for=30, wait=0.2)
            if not batch:
                idle_since = idle_since or time.monotonic()
                # The sender has finished before workers start idling for long; a second of
                # nothing means the queue is drained.
                if time.monotonic() - idle_since > 1.0:
                    break
                continue
            idle_since = None
            time.sleep(0.005)  # hold the locks while others receive
            for message in batch:
                assert message.delivery_count == 1, message
                bus.complete(message)
                done.append(message.message_id)
    finally:
        bus.close()
        results.put(done)


def test_processes_receiving_from_one_subscription_each_get_distinct_messages(tmp_path: Path) -> None:
    path = tmp_path / "bus.sqlite3"
    bus = SqliteBus(path)
    bus.ensure_subscription(TOPIC, SUBSCRIPTION)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    ready = context.Semaphore(0)
    workers = [context.Process(target=_work, args=(str(path), ready, results)) for _ in range(WORKERS)]
    for worker in workers:
        worker.start()
    for _ in workers:
        assert ready.acquire(timeout=60), "a worker process did not start"

    # Send while the workers are already receiving, so they contend for the same rows.
    sent = [f"item-{i:04d}" for i in range(MESSAGES)]
    for message_id in sent:
        bus.send(TOPIC, message_id.encode(), message_id)

    per_worker = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0

    delivered = Counter(message_id for ids in per_worker for message_id in ids)
    assert sorted(delivered) == sent  # none lost
    assert set(delivered.values()) == {1}  # none twice
    assert sum(1 for ids in per_worker if ids) >= 2, "the work was not shared between processes"
    assert bus.receive(SUBSCRIPTION, wait=0.2) == []
    assert bus.dead_letters(SUBSCRIPTION) == []
    bus.close()
