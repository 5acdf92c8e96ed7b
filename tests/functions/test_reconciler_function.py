"""The timer function drives the shared reconciler: retries, then dead-lettering."""

from __future__ import annotations

import azure.functions.timer as func_timer

from shared.ids import job_id
from shared.models import Event, JobRecord, JobStatus
from tests.functions.conftest import LoadedApp, event_message


def tick(loaded: LoadedApp) -> None:
    loaded.call("reconcile", func_timer.TimerRequest(past_due=False))


def job(loaded: LoadedApp, event: Event, module: str) -> JobRecord:
    record = loaded.context.providers.metadata.get_job(job_id(event.id, module))
    assert record is not None
    return record


def test_a_failed_job_is_relaunched_until_its_retries_are_spent_then_dead_lettered(loaded: LoadedApp) -> None:
    event = Event.new("new_link", {"url": "https://example.org/a"})
    loaded.call("dispatch_link_splitter", event_message(event))  # link-splitter has retries: 2
    assert len(loaded.executor.launches) == 1

    for attempt in (1, 2):
        record = job(loaded, event, "link-splitter")
        assert (record.attempt, record.status) == (attempt, JobStatus.PENDING)
        loaded.executor.fail(record)
        tick(loaded)
        assert len(loaded.executor.launches) == attempt + 1
        assert loaded.executor.launches[-1].record.attempt == attempt + 1

    record = job(loaded, event, "link-splitter")
    assert (record.attempt, record.status) == (3, JobStatus.PENDING)
    loaded.executor.fail(record)
    tick(loaded)

    record = job(loaded, event, "link-splitter")
    assert record.status == JobStatus.DEAD_LETTERED
    assert record.reason is not None and "retries spent" in record.reason
    assert [a.status for a in record.attempts] == [JobStatus.FAILED] * 3
    assert len(loaded.executor.launches) == 3
    tick(loaded)  # a dead-lettered job stays put
    assert len(loaded.executor.launches) == 3


def test_a_succeeded_job_is_marked_succeeded_and_not_relaunched(loaded: LoadedApp) -> None:
    event = Event.new("part_ready", {"part": "2"})
    loaded.call("dispatch_classifier", event_message(event))
    loaded.executor.succeed(job(loaded, event, "classifier"))
    tick(loaded)
    assert job(loaded, event, "classifier").status == JobStatus.SUCCEEDED
    assert len(loaded.executor.launches) == 1


def test_a_past_due_tick_still_reconciles(loaded: LoadedApp) -> None:
    event = Event.new("part_ready", {"part": "3"})
    loaded.call("dispatch_captioner", event_message(event))  # captioner: no retries
    loaded.executor.fail(job(loaded, event, "captioner"))
    loaded.call("reconcile", func_timer.TimerRequest(past_due=True))
    assert job(loaded, event, "captioner").status == JobStatus.DEAD_LETTERED
