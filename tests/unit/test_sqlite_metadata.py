"""The embedded metadata stores beyond the conformance suite: durability, isolation, processes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from shared.metadata.memory import MemoryMetadata
from shared.metadata.sqlite import SqliteMetadata
from shared.models import JobRecord, JobStatus


def record(job_id: str = "job-1") -> JobRecord:
    return JobRecord(job_id=job_id, event_id="ev-1", correlation_id="wf-1", module="m", executor="local")


def test_records_survive_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "metadata.sqlite3"
    stored = record()
    first = SqliteMetadata(path)
    first.create_job(stored)
    first.close()

    second = SqliteMetadata(path)
    assert second.get_job("job-1") == stored
    assert second.create_job(record()) is False
    second.close()


def test_memory_store_hands_out_copies() -> None:
    store = MemoryMetadata()
    original = record()
    store.create_job(original)
    original.status = JobStatus.FAILED
    fetched = store.get_job("job-1")
    assert fetched is not None and fetched.status == JobStatus.PENDING
    fetched.status = JobStatus.RUNNING
    assert store.get_job("job-1").status == JobStatus.PENDING  # type: ignore[union-attr]


def test_memory_shared_is_one_instance_and_the_constructor_a_fresh_one() -> None:
    assert MemoryMetadata.shared() is MemoryMetadata.shared()
    assert MemoryMetadata() is not MemoryMetadata.shared()


def _create(path: str, index: int, results: Any) -> None:
    store = SqliteMetadata(Path(path))
    job = record("contended").model_copy(update={"executor": f"process-{index}"})
    results.put(store.create_job(job))
    store.close()


def test_create_job_from_several_processes_creates_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "metadata.sqlite3"
    SqliteMetadata(path).close()
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    processes = [context.Process(target=_create, args=(str(path), i, results)) for i in range(3)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=30)

    assert sorted(outcomes) == [False, False, True]
    store = SqliteMetadata(path)
    assert store.get_job("contended") is not None
    store.close()
