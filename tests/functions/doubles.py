"""A double of Ion's own Executor interface (not of any SDK): counts launches, reports states a test sets."""

from __future__ import annotations

import threading

from shared.errors import TransientError
from shared.executors.base import ExecutionState, ExecutionStatus, Executor, JobLaunch
from shared.models import JobRecord


class CountingExecutor(Executor):
    name = "local"
    lost_after_seconds = 3600.0

    def __init__(self) -> None:
        self.launches: list[JobLaunch] = []
        self.states: dict[str, ExecutionStatus] = {}
        self.unreachable = False
        self._lock = threading.Lock()

    def launch(self, job: JobLaunch) -> None:
        if self.unreachable:
            raise TransientError("executor API unreachable")
        with self._lock:  # idempotent, like every executor: one resource per execution id
            if job.execution_id in self.states:
                return
            self.launches.append(job)
            self.states[job.execution_id] = ExecutionStatus(ExecutionState.RUNNING)

    def fail(self, record: JobRecord, exit_code: int = 3) -> None:
        self.states[record.execution_id] = ExecutionStatus(ExecutionState.FAILED, exit_code, f"exit {exit_code}")

    def succeed(self, record: JobRecord) -> None:
        self.states[record.execution_id] = ExecutionStatus(ExecutionState.SUCCEEDED, 0)

    def status(self, record: JobRecord) -> ExecutionStatus:
        return self.states.get(record.execution_id, ExecutionStatus(ExecutionState.UNKNOWN))

    def cancel(self, record: JobRecord) -> None:
        pass

    def cleanup(self, record: JobRecord) -> None:
        pass
