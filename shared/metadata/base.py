"""The metadata interface every store (SQLite, in-memory, MongoDB, Cosmos DB) implements."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import datetime

from shared.models import EventContext, Insight, JobRecord, JobStatus

# What active_jobs and jobs_due_cleanup select, for every store.
ACTIVE_STATUSES = (JobStatus.PENDING.value, JobStatus.RUNNING.value)
# Finished attempts that may leave executor resources behind (a skipped job never launched).
CLEANUP_STATUSES = (JobStatus.SUCCEEDED.value, JobStatus.FAILED.value, JobStatus.DEAD_LETTERED.value)


class Conflict(Exception):
    """A job record changed since it was read (optimistic concurrency on `version`)."""


class MetadataStore(ABC):
    # Event contexts (keyed by event id)
    @abstractmethod
    def put_event_context(self, context: EventContext) -> None:
        """Insert or replace; a republished child event (same id) overwrites with the same content."""

    @abstractmethod
    def get_event_context(self, event_id: str) -> EventContext | None: ...

    @abstractmethod
    def event_contexts(self, correlation_id: str) -> list[EventContext]:
        """All event contexts of one workflow, oldest first."""

    # Insights (keyed by execution id)
    @abstractmethod
    def put_insight(self, insight: Insight) -> None:
        """Insert or replace by execution id."""

    @abstractmethod
    def insights(self, correlation_id: str) -> list[Insight]: ...

    # Job records (keyed by job id)
    @abstractmethod
    def create_job(self, record: JobRecord) -> bool:
        """Create if absent, atomically; True if this call created it, False if it already existed."""

    @abstractmethod
    def get_job(self, job_id: str) -> JobRecord | None: ...

    @abstractmethod
    def update_job(self, record: JobRecord) -> JobRecord:
        """Replace the record if its `version` is still the stored one; returns it with version + 1.

        Raises Conflict if someone else updated it first, NotFound if it does not exist.
        """

    @abstractmethod
    def jobs(self, correlation_id: str) -> list[JobRecord]:
        """All job records of one workflow, oldest first."""

    @abstractmethod
    def active_jobs(self, limit: int = 1000) -> list[JobRecord]:
        """Jobs pending or running, oldest first (what the reconciler polls)."""

    @abstractmethod
    def jobs_due_cleanup(self, finished_before: datetime, limit: int = 100) -> list[JobRecord]:
        """Finished jobs (succeeded, failed, dead-lettered) not cleaned up, finished before the time."""

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group the writes made inside into one transaction where the store can (SQLite does).

        A store without multi-write transactions writes one by one; every write is idempotent, so a
        failure half way leaves nothing a retry cannot finish.
        """
        yield

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
