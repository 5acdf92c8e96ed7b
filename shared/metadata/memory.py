"""An in-process metadata store for unit tests (ION_METADATA=memory), with the SQLite store's semantics."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel

from shared.errors import NotFound
from shared.metadata.base import ACTIVE_STATUSES, Conflict, MetadataStore
from shared.metadata.sqlite import finished_timestamp, timestamp
from shared.models import EventContext, Insight, JobRecord

M = TypeVar("M", bound=BaseModel)


def _copy(record: M) -> M:
    # Callers get their own copies: changing a returned record never changes the store.
    return record.model_copy(deep=True)


class MemoryMetadata(MetadataStore):
    _shared: MemoryMetadata | None = None
    _shared_lock = threading.Lock()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Dicts keep insertion order, the tie-break for records created at the same moment.
        self._contexts: dict[str, EventContext] = {}
        self._insights: dict[str, Insight] = {}
        self._jobs: dict[str, JobRecord] = {}

    @classmethod
    def shared(cls) -> MemoryMetadata:
        """The process-wide store, so every component of one process sees the same records."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def put_event_context(self, context: EventContext) -> None:
        with self._lock:
            self._contexts[context.id] = _copy(context)

    def get_event_context(self, event_id: str) -> EventContext | None:
        with self._lock:
            context = self._contexts.get(event_id)
            return None if context is None else _copy(context)

    def event_contexts(self, correlation_id: str) -> list[EventContext]:
        with self._lock:
            found = [c for c in self._contexts.values() if c.correlation_id == correlation_id]
            return [_copy(c) for c in sorted(found, key=lambda c: timestamp(c.created_at))]

    def put_insight(self, insight: Insight) -> None:
        with self._lock:
            self._insights[insight.execution_id] = _copy(insight)

    def insights(self, correlation_id: str) -> list[Insight]:
        with self._lock:
            found = [i for i in self._insights.values() if i.correlation_id == correlation_id]
            return [_copy(i) for i in sorted(found, key=lambda i: timestamp(i.created_at))]

    def create_job(self, record: JobRecord) -> bool:
        with self._lock:
            if record.job_id in self._jobs:
                return False
            self._jobs[record.job_id] = _copy(record)
            return True

    def get_job(self, job_id: str) -> JobRecord | None:
        with self._lock:
            record = self._jobs.get(job_id)
            return None if record is None else _copy(record)

    def update_job(self, record: JobRecord) -> JobRecord:
        with self._lock:
            stored = self._jobs.get(record.job_id)
            if stored is None:
                raise NotFound(f"job {record.job_id!r} does not exist")
            if stored.version != record.version:
                raise Conflict(
                    f"job {record.job_id!r} was updated by someone else: "
                    f"stored version {stored.version}, this record has version {record.version}"
                )
            updated = record.model_copy(deep=True, update={"version": record.version + 1})
            self._jobs[record.job_id] = updated
            return _copy(updated)

    def _sorted_jobs(self) -> list[JobRecord]:
        return sorted(self._jobs.values(), key=lambda j: timestamp(j.created_at))

    def jobs(self, correlation_id: str) -> list[JobRecord]:
        with self._lock:
            return [_copy(j) for j in self._sorted_jobs() if j.correlation_id == correlation_id]

    def active_jobs(self, limit: int = 1000) -> list[JobRecord]:
        with self._lock:
            return [_copy(j) for j in self._sorted_jobs() if j.status.value in ACTIVE_STATUSES][:limit]

    def jobs_due_cleanup(self, finished_before: datetime, limit: int = 100) -> list[JobRecord]:
        cutoff = timestamp(finished_before)
        with self._lock:
            due = []
            for job in self._jobs.values():
                finished = finished_timestamp(job)
                if not job.cleaned_up and finished is not None and finished < cutoff:
                    due.append((finished, job))
            due.sort(key=lambda item: item[0])
            return [_copy(job) for _, job in due[:limit]]
