"""Metadata conformance: every MetadataStore implementation passes these same cases.

Only the interface is used. Ids and correlation ids are unique per test, and queries that span
workflows (active jobs, jobs due cleanup) are filtered to this test's records, so the suite can run
against a shared server. Timestamps have millisecond precision, which every store keeps.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.errors import NotFound
from shared.metadata.base import Conflict, MetadataStore
from shared.models import Attempt, EventContext, Insight, JobOverrides, JobRecord, JobStatus, Resources


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def moment(offset_seconds: float = 0.0) -> datetime:
    now = datetime.now(UTC) + timedelta(seconds=offset_seconds)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def context(correlation_id: str, offset: float = 0.0, **data: str) -> EventContext:
    return EventContext(
        id=unique("ev"),
        type="file_downloaded",
        correlation_id=correlation_id,
        parent_event_id=unique("parent"),
        created_at=moment(offset),
        data=data,
        files={"video.mp4": "blob://store/video.mp4", "frames/0001.png": "blob://store/frames/0001.png"},
        producer="downloader",
    )


def insight(correlation_id: str, offset: float = 0.0) -> Insight:
    return Insight(
        execution_id=unique("exec"),
        job_id=unique("job"),
        event_id=unique("ev"),
        correlation_id=correlation_id,
        module="detector",
        data={"score": 0.93, "labels": ["cat", "dog"], "nested": {"frames": 12}},
        files={"crops/a.png": "blob://store/crops/a.png"},
        created_at=moment(offset),
    )


def job(
    correlation_id: str,
    offset: float = 0.0,
    status: JobStatus = JobStatus.PENDING,
    finished_offset: float | None = None,
    cleaned_up: bool = False,
) -> JobRecord:
    created = moment(offset)
    return JobRecord(
        job_id=unique("job"),
        event_id=unique("ev"),
        correlation_id=correlation_id,
        module="detector",
        executor="local",
        status=status,
        created_at=created,
        updated_at=created,
        finished_at=None if finished_offset is None else moment(finished_offset),
        cleaned_up=cleaned_up,
    )


# -- event contexts ---------------------------------------------------------------------------


def test_event_context_round_trips(metadata: MetadataStore) -> None:
    stored = context(unique("wf"), url="https://example.org/a", size="12")
    metadata.put_event_context(stored)

    assert metadata.get_event_context(stored.id) == stored
    assert metadata.get_event_context(unique("missing")) is None


def test_put_event_context_replaces_by_event_id(metadata: MetadataStore) -> None:
    original = context(unique("wf"), version="1")
    metadata.put_event_context(original)
    replacement = original.model_copy(update={"data": {"version": "2"}, "files": {}})
    metadata.put_event_context(replacement)

    assert metadata.get_event_context(original.id) == replacement
    assert metadata.event_contexts(original.correlation_id) == [replacement]


def test_event_contexts_of_one_workflow_oldest_first(metadata: MetadataStore) -> None:
    workflow, other = unique("wf"), unique("wf")
    newest, oldest, middle = context(workflow, 20), context(workflow, -20), context(workflow, 0)
    for item in (newest, oldest, context(other), middle):
        metadata.put_event_context(item)

    assert [c.id for c in metadata.event_contexts(workflow)] == [oldest.id, middle.id, newest.id]
    assert metadata.event_contexts(unique("wf")) == []


# -- insights ---------------------------------------------------------------------------------


def test_insights_of_one_workflow_oldest_first(metadata: MetadataStore) -> None:
    workflow = unique("wf")
    later, earlier = insight(workflow, 5), insight(workflow, -5)
    for item in (later, insight(unique("wf")), earlier):
        metadata.put_insight(item)

    assert metadata.insights(workflow) == [earlier, later]


def test_put_insight_replaces_by_execution_id(metadata: MetadataStore) -> None:
    first = insight(unique("wf"))
    metadata.put_insight(first)
    again = first.model_copy(update={"data": {"score": 0.5}})
    metadata.put_insight(again)

    assert metadata.insights(first.correlation_id) == [again]


# -- job records ------------------------------------------------------------------------------


def test_job_record_round_trips_with_attempts_and_overrides(metadata: MetadataStore) -> None:
    record = job(unique("wf"), status=JobStatus.RUNNING).model_copy(
        update={
            "attempt": 2,
            "started_at": moment(),
            "reason": "first attempt timed out",
            "overrides": JobOverrides(executor="azurebatch", resources=Resources(gpu=1), env={"A": "b"}),
            "attempts": [
                Attempt(
                    number=1,
                    status=JobStatus.FAILED,
                    executor="local",
                    started_at=moment(-9),
                    finished_at=moment(-5),
                    exit_code=3,
                    reason="exit code 3",
                    logs={"stdout": "blob://logs/1.out"},
                ),
                Attempt(number=2, status=JobStatus.RUNNING, executor="azurebatch", started_at=moment()),
            ],
        }
    )

    assert metadata.create_job(record) is True
    assert metadata.get_job(record.job_id) == record
    assert metadata.get_job(unique("missing")) is None


def test_create_job_twice_keeps_the_first_record(metadata: MetadataStore) -> None:
    first = job(unique("wf"))
    second = first.model_copy(update={"status": JobStatus.RUNNING, "executor": "kubernetes"})

    assert metadata.create_job(first) is True
    assert metadata.create_job(second) is False
    assert metadata.get_job(first.job_id) == first


def test_concurrent_create_job_creates_exactly_once(metadata: MetadataStore) -> None:
    base = job(unique("wf"))
    candidates = [base.model_copy(update={"executor": f"executor-{i}"}) for i in range(8)]
    results: list[bool] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(candidates))

    def create(record: JobRecord) -> None:
        try:
            barrier.wait()
            results.append(metadata.create_job(record))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=create, args=(c,)) for c in candidates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(results) == [False] * 7 + [True]
    assert metadata.get_job(base.job_id) in candidates


def test_update_job_bumps_the_version(metadata: MetadataStore) -> None:
    record = job(unique("wf"))
    metadata.create_job(record)

    running = metadata.update_job(record.model_copy(update={"status": JobStatus.RUNNING}))
    assert running.version == record.version + 1
    assert running.status == JobStatus.RUNNING
    assert metadata.get_job(record.job_id) == running

    done = metadata.update_job(running.model_copy(update={"status": JobStatus.SUCCEEDED}))
    assert done.version == record.version + 2
    assert metadata.get_job(record.job_id) == done


def test_update_job_with_a_stale_version_conflicts_and_changes_nothing(metadata: MetadataStore) -> None:
    record = job(unique("wf"))
    metadata.create_job(record)
    winner = metadata.update_job(record.model_copy(update={"status": JobStatus.RUNNING}))

    with pytest.raises(Conflict):
        metadata.update_job(record.model_copy(update={"status": JobStatus.FAILED, "reason": "stale"}))
    assert metadata.get_job(record.job_id) == winner


def test_update_of_a_missing_job_raises_not_found(metadata: MetadataStore) -> None:
    with pytest.raises(NotFound):
        metadata.update_job(job(unique("wf")))
    assert metadata.jobs(unique("wf")) == []


def test_jobs_of_one_workflow_oldest_first(metadata: MetadataStore) -> None:
    workflow = unique("wf")
    later, earlier, middle = job(workflow, 10), job(workflow, -10), job(workflow, 0)
    for record in (later, job(unique("wf")), earlier, middle):
        metadata.create_job(record)

    assert [j.job_id for j in metadata.jobs(workflow)] == [earlier.job_id, middle.job_id, later.job_id]


def test_active_jobs_are_pending_or_running_oldest_first(metadata: MetadataStore) -> None:
    workflow = unique("wf")
    running = job(workflow, -30, JobStatus.RUNNING)
    pending = job(workflow, -40, JobStatus.PENDING)
    inactive = [
        job(workflow, -50, status)
        for status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.DEAD_LETTERED, JobStatus.SKIPPED)
    ]
    for record in (running, *inactive, pending):
        metadata.create_job(record)
    mine = {record.job_id for record in (running, pending, *inactive)}

    active = [j.job_id for j in metadata.active_jobs() if j.job_id in mine]
    assert active == [pending.job_id, running.job_id]

    # A job that finishes leaves the active set.
    metadata.update_job(running.model_copy(update={"status": JobStatus.SUCCEEDED, "finished_at": moment()}))
    assert [j.job_id for j in metadata.active_jobs() if j.job_id in mine] == [pending.job_id]
    assert len(metadata.active_jobs(limit=1)) == 1


def test_jobs_due_cleanup_are_finished_before_the_cutoff_and_not_cleaned_up(metadata: MetadataStore) -> None:
    workflow = unique("wf")
    old_succeeded = job(workflow, -600, JobStatus.SUCCEEDED, finished_offset=-300)
    old_failed = job(workflow, -600, JobStatus.FAILED, finished_offset=-400)
    old_dead = job(workflow, -600, JobStatus.DEAD_LETTERED, finished_offset=-200)
    recent = job(workflow, -600, JobStatus.SUCCEEDED, finished_offset=-10)
    cleaned = job(workflow, -600, JobStatus.SUCCEEDED, finished_offset=-300, cleaned_up=True)
    skipped = job(workflow, -600, JobStatus.SKIPPED, finished_offset=-300)
    running = job(workflow, -600, JobStatus.RUNNING)
    records = (old_succeeded, old_failed, old_dead, recent, cleaned, skipped, running)
    for record in records:
        metadata.create_job(record)
    mine = {record.job_id for record in records}

    due = {j.job_id for j in metadata.jobs_due_cleanup(moment(-60), limit=1000) if j.job_id in mine}
    assert due == {old_failed.job_id, old_succeeded.job_id, old_dead.job_id}

    metadata.update_job(old_failed.model_copy(update={"cleaned_up": True}))
    due = {j.job_id for j in metadata.jobs_due_cleanup(moment(-60), limit=1000) if j.job_id in mine}
    assert due == {old_succeeded.job_id, old_dead.job_id}
    assert len(metadata.jobs_due_cleanup(moment(-60), limit=1)) == 1
