"""Test doubles of Ion's own Executor interface (not of any SDK): they record launches."""

from __future__ import annotations

from shared.errors import TransientError
from shared.executors.base import ExecutionState, ExecutionStatus, Executor, JobLaunch
from shared.models import JobRecord


class RecordingExecutor(Executor):
    """Launches nothing; remembers each launch and reports whatever state a test sets."""

    name = "local"
    lost_after_seconds = 0.0

    def __init__(self) -> None:
        self.launches: list[JobLaunch] = []
        self.states: dict[str, ExecutionStatus] = {}
        self.cancelled: list[str] = []
        self.cleaned: list[str] = []
        self.unreachable = False

    def launch(self, job: JobLaunch) -> None:
        if self.unreachable:
            raise TransientError("executor unreachable")
        if job.execution_id in self.states:
            return
        self.launches.append(job)
        self.states[job.execution_id] = ExecutionStatus(ExecutionState.RUNNING)

    def finish(self, record: JobRecord, exit_code: int, reason: str | None = None) -> None:
        state = ExecutionState.SUCCEEDED if exit_code == 0 else ExecutionState.FAILED
        self.states[record.execution_id] = ExecutionStatus(state, exit_code, reason)

    def status(self, record: JobRecord) -> ExecutionStatus:
        return self.states.get(record.execution_id, ExecutionStatus(ExecutionState.UNKNOWN))

    def cancel(self, record: JobRecord) -> None:
        self.cancelled.append(record.execution_id)

    def cleanup(self, record: JobRecord) -> None:
        self.cleaned.append(record.job_id)
