from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.dispatch import Dispatcher
from shared.errors import TransientError
from shared.executors.registry import ExecutorRegistry
from shared.manifest import parse_manifest
from shared.metadata.memory import MemoryMetadata
from shared.models import Event, JobStatus
from shared.reconcile import Reconciler
from shared.settings import IonSettings
from tests.unit.doubles import RecordingExecutor


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(tmp_path: Path):  # type: ignore[no-untyped-def]
    manifest = parse_manifest({"modules": [
        {"name": "flaky", "subscribes_to": "go", "command": ["false"], "retries": 2, "timeout": "1m"},
    ]})
    executor = RecordingExecutor()
    metadata = MemoryMetadata()
    settings = IonSettings(ION_HOME=str(tmp_path), ION_RETENTION_SECONDS="60")
    dispatcher = Dispatcher(manifest, metadata, ExecutorRegistry(settings, None, {"local": executor}), settings)
    clock = Clock()
    return dispatcher, Reconciler(dispatcher, clock=clock), executor, metadata, clock


def test_failed_job_is_relaunched_until_retries_are_spent_then_dead_lettered(world) -> None:  # type: ignore[no-untyped-def]
    dispatcher, reconciler, executor, metadata, _ = world
    event = Event.new("go")
    job = dispatcher.dispatch("flaky", event.model_dump_json().encode()).job_id
    for expected_attempt in (2, 3):
        record = metadata.get_job(job)
        executor.finish(record, 1, "module exited with code 1")
        reconciler.reconcile_once()
        record = metadata.get_job(job)
        assert record.status == JobStatus.PENDING and record.attempt == expected_attempt
        reconciler.reconcile_once()  # the executor reports the new attempt: running
        assert metadata.get_job(job).status == JobStatus.RUNNING
    assert len(executor.launches) == 3
    assert len({launch.secret for launch in executor.launches}) == 3  # a fresh secret per attempt
    executor.finish(metadata.get_job(job), 1, "module exited with code 1")
    reconciler.reconcile_once()
    record = metadata.get_job(job)
    assert record.status == JobStatus.DEAD_LETTERED
    assert "3 failed attempt(s)" in record.reason and "exited with code 1" in record.reason
    assert [a.status for a in record.attempts] == [JobStatus.FAILED] * 3
    reconciler.reconcile_once()
    assert len(executor.launches) == 3


def test_success_is_recorded_and_cleaned_up_after_retention(world) -> None:  # type: ignore[no-untyped-def]
    dispatcher, reconciler, executor, metadata, clock = world
    job = dispatcher.dispatch("flaky", Event.new("go").model_dump_json().encode()).job_id
    executor.finish(metadata.get_job(job), 0)
    reconciler.reconcile_once()
    record = metadata.get_job(job)
    assert record.status == JobStatus.SUCCEEDED and record.attempts[-1].exit_code == 0
    assert executor.cleaned == []
    clock.now += timedelta(seconds=61)
    reconciler.reconcile_once()
    assert executor.cleaned == [job]
    assert metadata.get_job(job).cleaned_up


def test_lost_attempt_is_relaunched_without_using_a_retry(world) -> None:  # type: ignore[no-untyped-def]
    dispatcher, reconciler, executor, metadata, clock = world
    job = dispatcher.dispatch("flaky", Event.new("go").model_dump_json().encode()).job_id
    clock.now += timedelta(seconds=1)
    reconciler.reconcile_once()
    assert metadata.get_job(job).status == JobStatus.RUNNING
    executor.states.clear()  # the executor restarted and forgot the attempt
    reconciler.reconcile_once()
    record = metadata.get_job(job)
    assert record.attempt == 2 and record.status == JobStatus.PENDING
    assert record.attempts[0].lost and len(executor.launches) == 2


def test_timed_out_attempt_is_cancelled_and_retried(world) -> None:  # type: ignore[no-untyped-def]
    dispatcher, reconciler, executor, metadata, clock = world
    job = dispatcher.dispatch("flaky", Event.new("go").model_dump_json().encode()).job_id
    reconciler.reconcile_once()  # running from now on the reconciler's clock
    clock.now += timedelta(minutes=5)
    reconciler.reconcile_once()
    record = metadata.get_job(job)
    assert executor.cancelled == [f"{job}-a1"]
    assert record.attempt == 2 and "timed out" in (record.attempts[0].reason or "")


def test_pending_job_left_by_a_crash_is_launched(world) -> None:  # type: ignore[no-untyped-def]
    dispatcher, reconciler, executor, _, clock = world
    executor.unreachable = True
    event = Event.new("go")
    with pytest.raises(TransientError):
        dispatcher.dispatch("flaky", event.model_dump_json().encode())
    executor.unreachable = False
    reconciler.reconcile_once()
    assert executor.launches == []  # too fresh: its dispatcher may still be launching it
    clock.now += timedelta(seconds=11)
    reconciler.reconcile_once()
    assert len(executor.launches) == 1
