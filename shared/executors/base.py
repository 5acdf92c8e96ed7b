"""The executor interface every execution environment (local, Kubernetes, Batch, ACI) implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum

from shared.ids import job_id
from shared.models import Event, JobRecord, ModuleSpec


@dataclass(frozen=True)
class JobLaunch:
    """Everything an executor needs to start one attempt of a job."""

    record: JobRecord  # job id, attempt, correlation id
    module: ModuleSpec  # the module spec with the rule's overrides applied
    event: Event
    secret: str = field(repr=False)  # per-attempt shared secret; never logged

    @property
    def execution_id(self) -> str:
        return self.record.execution_id

    @classmethod
    def new(cls, module: ModuleSpec, event: Event, secret: str, attempt: int = 1) -> JobLaunch:
        """A launch of `module` for `event` with a fresh record (the job id derived from both), on the
        module's executor: for rendering a job, and for exercising an executor without a dispatcher."""
        record = JobRecord(job_id=job_id(event.id, module.name), event_id=event.id,
                           correlation_id=event.correlation_id, module=module.name, attempt=attempt,
                           executor=module.executor)
        return cls(record=record, module=module, event=event, secret=secret)


class ExecutionState(StrEnum):
    PENDING = "pending"  # accepted, not started (image pull, queue, scheduling)
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"  # the executor has no such execution (never launched, or lost)


@dataclass(frozen=True)
class ExecutionStatus:
    state: ExecutionState
    exit_code: int | None = None
    reason: str | None = None
    logs: dict[str, str] = field(default_factory=dict)  # "stdout"/"stderr" -> blob URL, when kept


class Executor(ABC):
    name: str
    # How long an attempt may look UNKNOWN after launch before it counts as lost (cloud APIs can lag).
    lost_after_seconds: float = 120.0

    @abstractmethod
    def launch(self, job: JobLaunch) -> None:
        """Start the attempt. Idempotent: an attempt that already exists counts as launched.

        Raises TransientError when the execution environment cannot be reached.
        """

    @abstractmethod
    def status(self, record: JobRecord) -> ExecutionStatus:
        """State of the record's current attempt."""

    @abstractmethod
    def cancel(self, record: JobRecord) -> None:
        """Stop the current attempt if it runs (idempotent)."""

    @abstractmethod
    def cleanup(self, record: JobRecord) -> None:
        """Remove what the attempts left behind (idempotent)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Stop background work and release clients."""
