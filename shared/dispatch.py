"""Dispatch: event → job id from (event id, module) → rules → job record → executor launch.

Written once for every driver (the Azure Functions trigger, `ion up`). At-least-once delivery with
exactly-once effects: a redelivered message finds the job record and launches nothing new.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import ValidationError

from shared.errors import NotFound, PoisonMessage, TransientError
from shared.executors.base import JobLaunch
from shared.executors.registry import ExecutorRegistry
from shared.ids import job_id as derive_job_id
from shared.ids import new_secret
from shared.manifest import Manifest
from shared.metadata.base import Conflict, MetadataStore
from shared.models import Attempt, Event, EventContext, JobOverrides, JobRecord, JobStatus, ModuleSpec
from shared.rules import RuleError, Skip, decide
from shared.settings import IonSettings

log = logging.getLogger("ion.dispatch")

Outcome = Literal["launched", "duplicate", "skipped"]


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


def now() -> datetime:
    return datetime.now(UTC)


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
        event = parse_event(body, self.settings.max_event_bytes)
        spec = self.manifest.get(module_name)
        if event.type != spec.subscribes_to:
            raise PoisonMessage(
                f"event type {event.type!r} arrived on subscription {module_name!r}, "
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
            with self.metadata.batch():
                self._ensure_context(event)
                created = self.metadata.create_job(record)
            if not created:
                return DispatchResult("duplicate", job_id)
            log.info("skipped %s for event %s: %s", spec.name, event.id, decision.reason)
            return DispatchResult("skipped", job_id, record.reason)
        overrides = decision if decision.model_fields_set else None
        effective = overrides.apply(spec) if overrides else spec
        record = self._new_record(job_id, event, spec, effective.executor, overrides)
        # Create-if-absent is where redeliveries meet; the executor is called after the commit.
        with self.metadata.batch():
            self._ensure_context(event)
            created = self.metadata.create_job(record)
        if not created:
            stored = self.metadata.get_job(job_id)
            if stored is None:
                raise TransientError(f"job {job_id} vanished while being created")
            return self._redelivered(stored, spec, event)
        self.launch(record, effective, event)
        return DispatchResult("launched", job_id)

    def _redelivered(self, record: JobRecord, spec: ModuleSpec, event: Event) -> DispatchResult:
        if record.status == JobStatus.PENDING:
            # Created but the launch was never confirmed (crash, executor down): launch is idempotent.
            effective = record.overrides.apply(spec) if record.overrides else spec
            self.launch(record, effective, event)
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
        started = when or now()
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
