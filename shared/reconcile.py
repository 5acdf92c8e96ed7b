"""Reconcile: move jobs through pending → running → succeeded | failed, retry, dead-letter, clean up.

Written once; the timer function on Azure and the loop in `ion up` both call `reconcile_once`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.dispatch import Dispatcher, mark_running
from shared.errors import NotFound
from shared.executors.base import ExecutionState, ExecutionStatus
from shared.metadata.base import Conflict, MetadataStore
from shared.models import Attempt, JobRecord, JobStatus, ModuleSpec, utcnow

log = logging.getLogger("ion.reconcile")

# A pending record younger than this is probably being launched by its dispatcher right now.
PENDING_GRACE = timedelta(seconds=10)
# Attempts an executor may lose (restarts) before the job is dead-lettered; they use no retry.
MAX_LOST_ATTEMPTS = 3
# Allowance on top of a module's timeout before the reconciler cancels it itself.
TIMEOUT_SLACK = timedelta(seconds=30)


@dataclass
class ReconcileReport:
    checked: int = 0
    launched: int = 0
    succeeded: int = 0
    retried: int = 0
    dead_lettered: int = 0
    cleaned_up: int = 0
    errors: list[str] = field(default_factory=list)


class Reconciler:
    def __init__(self, dispatcher: Dispatcher, clock: Callable[[], datetime] = utcnow) -> None:
        self.dispatcher = dispatcher
        self.metadata: MetadataStore = dispatcher.metadata
        self.clock = clock

    def reconcile_once(self, limit: int = 1000) -> ReconcileReport:
        report = ReconcileReport()
        for record in self.metadata.active_jobs(limit):
            report.checked += 1
            try:
                self._reconcile(record, report)
            except Conflict:
                pass  # someone else moved it; the next pass sees the new state
            except Exception as exc:  # one broken job must not stop the others
                log.warning("reconciling %s failed: %s", record.job_id, exc)
                report.errors.append(f"{record.job_id}: {exc}")
        self._cleanup(report)
        return report

    def _spec(self, record: JobRecord) -> ModuleSpec | None:
        try:
            spec = self.dispatcher.manifest.get(record.module)
        except KeyError:
            return None
        return record.effective_spec(spec)

    def _reconcile(self, record: JobRecord, report: ReconcileReport) -> None:
        spec = self._spec(record)
        if spec is None:
            self._finish(record, JobStatus.DEAD_LETTERED, f"module {record.module!r} is not in the manifest")
            report.dead_lettered += 1
            return
        current = self.clock()
        executor = self.dispatcher.executors.get(record.executor)
        status = executor.status(record)
        if record.status == JobStatus.PENDING:
            if status.state == ExecutionState.UNKNOWN:
                # Never launched, or its dispatcher died before the launch: launch is idempotent.
                if current - record.updated_at >= PENDING_GRACE:
                    self._launch(record, spec)
                    report.launched += 1
                return
            record = mark_running(self.metadata, record.job_id, record.attempt, current)
            if record.status != JobStatus.RUNNING:
                return
        if status.state == ExecutionState.SUCCEEDED:
            self._finish(record, JobStatus.SUCCEEDED, None, status)
            report.succeeded += 1
        elif status.state == ExecutionState.FAILED:
            self._failed(record, spec, status.reason or f"exit code {status.exit_code}", status, report)
        elif status.state == ExecutionState.UNKNOWN:
            started = record.started_at or record.updated_at
            if (current - started).total_seconds() >= executor.lost_after_seconds:
                self._failed(record, spec, "the executor lost the attempt", status, report, lost=True)
        elif record.started_at and current - record.started_at > spec.timeout + TIMEOUT_SLACK:
            executor.cancel(record)
            self._failed(record, spec, f"timed out after {spec.timeout}", status, report)

    def _launch(self, record: JobRecord, spec: ModuleSpec) -> None:
        context = self.metadata.get_event_context(record.event_id)
        if context is None:
            raise NotFound(f"event {record.event_id} of job {record.job_id} has no context")
        self.dispatcher.launch(record, spec, context.event())

    def _failed(
        self,
        record: JobRecord,
        spec: ModuleSpec,
        reason: str,
        status: ExecutionStatus,
        report: ReconcileReport,
        lost: bool = False,
    ) -> None:
        attempt = record.current_attempt()
        if attempt is not None:
            self._close_attempt(attempt, JobStatus.FAILED, reason, status)
            attempt.lost = lost
        failures = sum(1 for a in record.attempts if a.status == JobStatus.FAILED and not a.lost)
        losses = sum(1 for a in record.attempts if a.lost)
        if failures > spec.retries or losses > MAX_LOST_ATTEMPTS:
            spent = f"{failures} failed attempt(s)" + (f", {losses} lost" if losses else "")
            self._finish(record, JobStatus.DEAD_LETTERED, f"{spent}, retries spent; last: {reason}", None)
            report.dead_lettered += 1
            return
        # Relaunch: record the new attempt first, so a crash here leaves a pending record to relaunch.
        record.attempt += 1
        record.status = JobStatus.PENDING
        record.reason = reason
        record.updated_at = self.clock()
        record.attempts.append(Attempt(number=record.attempt, executor=record.executor))
        record = self.metadata.update_job(record)
        log.info("relaunching %s (attempt %d): %s", record.job_id, record.attempt, reason)
        self._launch(record, spec)
        report.retried += 1

    def _close_attempt(
        self, attempt: Attempt, status: JobStatus, reason: str | None, result: ExecutionStatus | None
    ) -> None:
        attempt.status = status
        attempt.finished_at = self.clock()
        attempt.reason = reason
        if result is not None:
            attempt.exit_code = result.exit_code
            attempt.logs.update(result.logs)

    def _finish(
        self, record: JobRecord, status: JobStatus, reason: str | None, result: ExecutionStatus | None = None
    ) -> None:
        attempt = record.current_attempt()
        if attempt is not None and attempt.status.active:
            self._close_attempt(attempt, status if status == JobStatus.SUCCEEDED else JobStatus.FAILED,
                                reason, result)
        finished = self.clock()
        record.status = status
        record.reason = reason
        record.finished_at = finished
        record.updated_at = finished
        self.metadata.update_job(record)
        if status == JobStatus.DEAD_LETTERED:
            log.warning("job %s dead-lettered: %s", record.job_id, reason)

    def _cleanup(self, report: ReconcileReport) -> None:
        retention = timedelta(seconds=self.dispatcher.settings.retention_seconds)
        for record in self.metadata.jobs_due_cleanup(self.clock() - retention):
            try:
                self.dispatcher.executors.get(record.executor).cleanup(record)
                record.cleaned_up = True
                self.metadata.update_job(record)
                report.cleaned_up += 1
            except Conflict:
                pass
            except Exception as exc:
                log.warning("cleaning up %s failed: %s", record.job_id, exc)
                report.errors.append(f"{record.job_id}: cleanup: {exc}")
