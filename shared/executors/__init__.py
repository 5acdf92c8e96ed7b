"""Executors: where a job (module + sidecar) runs."""

from shared.executors.base import ExecutionState, ExecutionStatus, Executor, JobLaunch

__all__ = ["ExecutionState", "ExecutionStatus", "Executor", "JobLaunch"]
