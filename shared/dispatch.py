"""Dispatch: event → job id from (event id, module) → rules → job record → executor launch.

Written once for every driver (the Azure Functions trigger, `ion up`). At-least-once delivery with
exactly-once effects: a redelivered message finds the job record and launches nothing new.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import ValidationError

from shared.errors import NotFound, PoisonMessage, TransientError
from shared.executors.base import JobLaunch
from shared.executors.registry import ExecutorRegistry
from shared.ids import job_id as derive_job_id
from shared.ids import new_secret
from shared.manifest import Manifest
from shared.metadata.base import Conflict, MetadataStore
from shared.models import Attempt, Event, EventContext, JobOverrides, JobRecord, JobStatus, ModuleSpec, utcnow
from shared.rules import RuleError, Skip, decide
from shared.settings import IonSettings

log = logging.getLogger("ion.dispatch")

Outcome = Literal["launched", "duplicate", "skipped"]


@dataclass
class _Plan:
    """One message of a batch, ready to be recorded and launched."""

    index: int
    event: Event
    record: JobRecord
    effective: ModuleSpec  # the module spec with the rule's overrides applied
    created: bool = False


@dataclass(frozen=True)
class DispatchResult:
    outcome: Outcome
    job_id: str
    reason: str | None = None


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(body)"
        parts.append(f"field '{where}': {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def parse_event(body: bytes, max_bytes: int) -> Event:
    """The event in a message body, or PoisonMessage with the reason it can never be processed."""
    if len(body) > max_bytes:
        raise PoisonMessage(f"message is {len(body)} bytes, over the limit of {max_bytes} bytes")
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PoisonMessage(f"message body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise PoisonMessage(f"message body must be a JSON object, got {type(document).__name__}")
    if not document.get("type"):
        raise PoisonMessage("message has no event type (field 'type')")
    try:
        return Event.model_validate(document)
    except ValidationError as exc:
        raise PoisonMessage(f"message is not an Ion event: {describe_validation_error(exc)}") from None


def _settled(results: list[DispatchResult | Exception | None]) -> list[DispatchResult | Exception]:
    missing = [index for index, result in enumerate(results) if result is None]
    if missing:
        raise AssertionError(f"messages {missing} of the batch got no result")
    return [result for result in results if result is not None]


class Dispatcher:
    def __init__(
        self,
        manifest: Manifest,
        metadata: MetadataStore,
        executors: ExecutorRegistry,
        settings: IonSettings,
    ) -> None:
        self.manifest = manifest
        self.metadata = metadata
        self.executors = executors
        self.settings = settings
        # Rules are named relative to the manifest's folder (`pipeline.rules:route`).
        if manifest.path is not None:
            folder = str(manifest.path.resolve().parent)
            if folder not in sys.path:
                sys.path.insert(0, folder)

    def dispatch(self, module_name: str, body: bytes) -> DispatchResult:
        """Handle one message of the module's subscription.

        Raises PoisonMessage (dead-letter it with the reason) or TransientError / any other
        exception (leave it to be redelivered).
        """
        [result] = self.dispatch_many(module_name, [body])
        if isinstance(result, Exception):
            raise result
        return result

    def dispatch_many(self, module_name: str, bodies: Sequence[bytes]) -> list[DispatchResult | Exception]:
        """Handle a received batch: every new job record in one metadata transaction, then the launches.

        Each entry is the message's result, or the exception to settle it by: PoisonMessage to
        dead-letter it with the reason, anything else to leave it to be redelivered.
        """
        spec = self.manifest.get(module_name)
        results: list[DispatchResult | Exception | None] = [None] * len(bodies)
        plans: list[_Plan] = []
        for index, body in enumerate(bodies):
            try:
                plans.append(self._plan(index, spec, body))
            except PoisonMessage as exc:
                results[index] = exc
        try:
            # Create-if-absent is where redeliveries meet; executors are called after the commit.
            with self.metadata.batch():
                for plan in plans:
                    self._ensure_context(plan.event)
                    plan.created = self.metadata.create_job(plan.record)
        except Exception as exc:
            failure = exc if isinstance(exc, TransientError) else TransientError(f"metadata store: {exc}")
            for plan in plans:
                results[plan.index] = failure
            return _settled(results)
        for plan in plans:
            try:
                results[plan.index] = self._after_create(plan, spec)
            except Exception as exc:
                results[plan.index] = exc
        return _settled(results)

    def _plan(self, index: int, spec: ModuleSpec, body: bytes) -> _Plan:
        """Parse, check and apply the rules: everything that needs no store. Raises PoisonMessage."""
        event = parse_event(body, self.settings.max_event_bytes)
        if event.type != spec.subscribes_to:
            raise PoisonMessage(
                f"event type {event.type!r} arrived on subscription {spec.name!r}, "
                f"which subscribes to {spec.subscribes_to!r}"
            )
        job_id = derive_job_id(event.id, spec.name)
        try:
            decision = decide(event, spec)
        except RuleError as exc:
            raise PoisonMessage(str(exc)) from exc
        if isinstance(decision, Skip):
            record = self._new_record(job_id, event, spec, spec.executor, None)
            record.status = JobStatus.SKIPPED
            record.reason = f"skipped by rules: {decision.reason}"
            record.attempts = []
            record.finished_at = record.created_at
            return _Plan(index, event, record, spec)
        overrides = decision if decision.model_fields_set else None
        effective = overrides.apply(spec) if overrides else spec
        return _Plan(index, event, self._new_record(job_id, event, spec, effective.executor, overrides), effective)

    def _after_create(self, plan: _Plan, spec: ModuleSpec) -> DispatchResult:
        record = plan.record
        if not plan.created:
            stored = self.metadata.get_job(record.job_id)
            if stored is None:
                raise TransientError(f"job {record.job_id} vanished while being created")
            return self._redelivered(stored, spec, plan.event)
        if record.status == JobStatus.SKIPPED:
            log.info("skipped %s for event %s: %s", spec.name, plan.event.id, record.reason)
            return DispatchResult("skipped", record.job_id, record.reason)
        self.launch(record, plan.effective, plan.event)
        return DispatchResult("launched", record.job_id)

    def _redelivered(self, record: JobRecord, spec: ModuleSpec, event: Event) -> DispatchResult:
        if record.status == JobStatus.PENDING:
            # Created but the launch was never confirmed (crash, executor down): launch is idempotent.
            self.launch(record, record.effective_spec(spec), event)
        return DispatchResult("duplicate", record.job_id)

    def _new_record(
        self, job_id: str, event: Event, spec: ModuleSpec, executor: str, overrides: JobOverrides | None
    ) -> JobRecord:
        return JobRecord(
            job_id=job_id,
            event_id=event.id,
            correlation_id=event.correlation_id,
            module=spec.name,
            executor=executor,
            overrides=overrides,
            attempts=[Attempt(number=1, executor=executor)],
        )

    def _ensure_context(self, event: Event) -> None:
        # Events published by Ion carry a context already; a message from elsewhere gets one here so
        # the sidecar and the reconciler can always find the event.
        if self.metadata.get_event_context(event.id) is None:
            self.metadata.put_event_context(EventContext(**event.model_dump()))

    def launch(self, record: JobRecord, effective: ModuleSpec, event: Event) -> None:
        """Launch the record's current attempt (idempotent). Raises TransientError on failure.

        The record stays `pending`; the reconciler marks it `running` once the executor reports the
        attempt, which keeps dispatch to a single metadata write.
        """
        executor = self.executors.get(record.executor)
        job = JobLaunch(record=record, module=effective, event=event, secret=new_secret())
        try:
            executor.launch(job)
        except TransientError:
            raise
        except Exception as exc:
            raise TransientError(
                f"executor {record.executor!r} could not launch {record.execution_id}: {exc}"
            ) from exc


def mark_running(metadata: MetadataStore, job_id: str, attempt: int, when: datetime | None = None) -> JobRecord:
    """pending → running for the given attempt; a no-op if someone moved the record on already."""
    for _ in range(10):
        record = metadata.get_job(job_id)
        if record is None:
            raise NotFound(f"job {job_id} not found")
        if record.status != JobStatus.PENDING or record.attempt != attempt:
            return record
        started = when or utcnow()
        record.status = JobStatus.RUNNING
        record.started_at = started
        record.updated_at = started
        current = record.current_attempt()
        if current is not None:
            current.status = JobStatus.RUNNING
            current.started_at = started
        try:
            return metadata.update_job(record)
        except Conflict:
            continue
    raise TransientError(f"job {job_id} kept changing while being marked running")
