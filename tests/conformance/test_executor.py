"""The executor conformance suite: every executor (local, Kubernetes, Batch, ACI) passes these cases.

Each implementation is a file `backends/executor_<name>.py` with a context manager
`make(request, tmp_path)` that yields a harness:

- `harness.executor`: the Executor under test (fresh, nothing launched).
- `harness.launch_for(exit_code: int, *, sleep: float = 0) -> JobLaunch`: a new job (its own event,
  job id and secret) whose module, once running, sleeps `sleep` seconds then exits with `exit_code`.
- `harness.settle(record: JobRecord) -> None`: make the launched attempt run to its planned end.
  Fakes drive the fake service to that end; real executors do nothing (the process ends itself).
- `harness.launched(record: JobRecord) -> int`: how many executions the environment has started
  for the record's current attempt (fakes count successful creates; real executors count runs,
  e.g. lines the module appended to a file).

The cases use generous polling deadlines and never assert on timing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.executors.base import ExecutionState, ExecutionStatus, JobLaunch
from tests.conformance.conftest import _backends, _make

DEADLINE_SECONDS = 60.0
TERMINAL = (ExecutionState.SUCCEEDED, ExecutionState.FAILED, ExecutionState.UNKNOWN)


@pytest.fixture(params=_backends("executor"))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from _make("executor", request, tmp_path)


def wait_for(check: Callable[[], ExecutionStatus], done: Callable[[ExecutionStatus], bool]) -> ExecutionStatus:
    deadline = time.monotonic() + DEADLINE_SECONDS
    status = check()
    while not done(status):
        if time.monotonic() > deadline:
            pytest.fail(f"no expected status within {DEADLINE_SECONDS:.0f}s; last: {status}")
        time.sleep(0.05)
        status = check()
    return status


def run_to_end(harness: Any, job: JobLaunch) -> ExecutionStatus:
    harness.executor.launch(job)
    harness.settle(job.record)
    return wait_for(lambda: harness.executor.status(job.record),
                    lambda s: s.state in (ExecutionState.SUCCEEDED, ExecutionState.FAILED))


def test_exit_zero_succeeds(harness: Any) -> None:
    status = run_to_end(harness, harness.launch_for(0))
    assert status.state == ExecutionState.SUCCEEDED
    assert status.exit_code in (0, None)


def test_nonzero_exit_fails_with_a_reason(harness: Any) -> None:
    status = run_to_end(harness, harness.launch_for(3))
    assert status.state == ExecutionState.FAILED
    assert status.exit_code in (3, None)
    assert status.reason and status.reason.strip()


def test_launch_twice_is_one_execution(harness: Any) -> None:
    job = harness.launch_for(0)
    harness.executor.launch(job)
    harness.executor.launch(job)
    harness.settle(job.record)
    status = wait_for(lambda: harness.executor.status(job.record), lambda s: s.state in TERMINAL)
    assert status.state == ExecutionState.SUCCEEDED
    assert harness.launched(job.record) == 1


def test_status_of_a_job_never_launched_is_unknown(harness: Any) -> None:
    job = harness.launch_for(0)
    assert harness.executor.status(job.record).state == ExecutionState.UNKNOWN


def test_cancel_stops_a_running_attempt(harness: Any) -> None:
    job = harness.launch_for(0, sleep=120)
    harness.executor.launch(job)
    harness.executor.cancel(job.record)
    status = wait_for(lambda: harness.executor.status(job.record), lambda s: not _active(s))
    assert status.state in (ExecutionState.FAILED, ExecutionState.UNKNOWN)
    harness.executor.cancel(job.record)  # idempotent


def test_cancel_of_a_job_never_launched_is_harmless(harness: Any) -> None:
    job = harness.launch_for(0)
    harness.executor.cancel(job.record)
    assert harness.executor.status(job.record).state == ExecutionState.UNKNOWN


def test_cleanup_is_idempotent(harness: Any) -> None:
    job = harness.launch_for(0)
    run_to_end(harness, job)
    harness.executor.cleanup(job.record)
    harness.executor.cleanup(job.record)
    assert not _active(harness.executor.status(job.record))
    never = harness.launch_for(0)
    harness.executor.cleanup(never.record)


def test_secret_never_appears_in_logs_or_results(harness: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    job = harness.launch_for(3)
    seen: list[Any] = [job]
    harness.executor.launch(job)
    harness.settle(job.record)
    status = wait_for(lambda: harness.executor.status(job.record), lambda s: s.state in TERMINAL)
    seen.append(status)
    harness.executor.cancel(job.record)
    harness.executor.cleanup(job.record)
    seen.append(harness.executor)
    for item in seen:
        assert job.secret not in str(item) and job.secret not in repr(item)
    assert job.secret not in caplog.text


def _active(status: ExecutionStatus) -> bool:
    return status.state in (ExecutionState.PENDING, ExecutionState.RUNNING)
