"""Ion's data model (pydantic v2): events, event contexts, insights, job records, module specs."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from shared.ids import new_event_id

EVENT_TYPE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MODULE_NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,48}[a-z0-9])?$")
EXECUTORS = ("local", "kubernetes", "azurebatch", "aci")
ExecutorName = Literal["local", "kubernetes", "azurebatch", "aci"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_duration(value: Any) -> timedelta:
    """Accept seconds (int/float), 'timedelta', or strings such as '90s', '10m', '1h30m', '2d'."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, int | float):
        if value <= 0:
            raise ValueError(f"duration must be positive, got {value!r}")
        return timedelta(seconds=float(value))
    if isinstance(value, str):
        text = value.strip().lower()
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return parse_duration(float(text))
        parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", text)
        if parts and "".join(n + u for n, u in parts) == text.replace(" ", ""):
            unit = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
            seconds = sum(float(n) * unit[u] for n, u in parts)
            if seconds > 0:
                return timedelta(seconds=seconds)
    raise ValueError(f"invalid duration {value!r} (use e.g. 30s, 10m, 1h)")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _check_event_type(value: str) -> str:
    if not EVENT_TYPE_PATTERN.match(value):
        raise ValueError(
            f"event type {value!r} must start with a letter or digit and contain only "
            "letters, digits, '.', '_' or '-' (at most 100 characters)"
        )
    return value


class Event(BaseModel):
    """What travels on the bus: small, files travel by reference in the event context."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    type: str
    correlation_id: str = Field(min_length=1, max_length=128)
    parent_event_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    data: dict[str, str] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        return _check_event_type(value)

    @classmethod
    def new(
        cls,
        type: str,
        data: dict[str, str] | None = None,
        *,
        id: str | None = None,
        correlation_id: str | None = None,
        parent_event_id: str | None = None,
    ) -> Event:
        event_id = id or new_event_id()
        return cls(
            id=event_id,
            type=type,
            correlation_id=correlation_id or event_id,
            parent_event_id=parent_event_id,
            data=dict(data or {}),
        )


class EventContext(Event):
    """The metadata store's record of an event (keyed by event id): identity, data and files."""

    files: dict[str, str] = Field(default_factory=dict)  # relative name -> blob URL
    producer: str | None = None  # module that published it; None for a first event

    def event(self) -> Event:
        return Event.model_validate(self.model_dump(exclude={"files", "producer"}))


class Insight(BaseModel):
    """What one execution stored: out/meta.json (kept for analysis, not passed on) and its output files."""

    execution_id: str
    job_id: str
    event_id: str
    correlation_id: str
    module: str
    data: dict[str, Any] = Field(default_factory=dict)  # from out/meta.json; empty when absent
    files: dict[str, str] = Field(default_factory=dict)  # every file in out/data -> blob URL
    created_at: datetime = Field(default_factory=utcnow)


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"
    SKIPPED = "skipped"  # a dispatch rule chose not to run the module for this event

    @property
    def active(self) -> bool:
        return self in (JobStatus.PENDING, JobStatus.RUNNING)

    @property
    def final(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.DEAD_LETTERED, JobStatus.SKIPPED)


class Resources(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpu: str = "1"
    memory: str = "1Gi"
    gpu: int = Field(default=0, ge=0)

    @field_validator("cpu", "memory", mode="before")
    @classmethod
    def _to_str(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, value: str) -> str:
        if not re.fullmatch(r"\d+(\.\d+)?m?", value):
            raise ValueError(f"cpu {value!r} must be a number of cores such as '1', '0.5' or '500m'")
        return value

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        if not re.fullmatch(r"\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T)?", value):
            raise ValueError(f"memory {value!r} must be a quantity such as '512Mi' or '2Gi'")
        return value

    @property
    def cpu_cores(self) -> float:
        return float(self.cpu[:-1]) / 1000 if self.cpu.endswith("m") else float(self.cpu)

    @property
    def memory_gib(self) -> float:
        match = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?", self.memory)
        assert match
        number, unit = float(match.group(1)), match.group(2) or ""
        factor = {
            "": 1 / 2**30, "Ki": 1 / 2**20, "Mi": 1 / 2**10, "Gi": 1.0, "Ti": 2**10,
            "K": 1e3 / 2**30, "M": 1e6 / 2**30, "G": 1e9 / 2**30, "T": 1e12 / 2**30,
        }[unit]
        return number * factor


class ModuleSpec(BaseModel):
    """One entry of the module manifest (modules.yaml)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    subscribes_to: str
    publishes: list[str] = Field(default_factory=list)
    executor: ExecutorName = "local"
    image: str | None = None
    command: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    retries: int = Field(default=0, ge=0, le=100)
    timeout: Duration = timedelta(minutes=10)
    resources: Resources = Field(default_factory=Resources)
    rules: str | None = None
    concurrency: int = Field(default=4, ge=1, le=1000)  # local executor: parallel jobs per module

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not MODULE_NAME_PATTERN.match(value):
            raise ValueError(
                f"name {value!r} must be 1-50 lowercase letters, digits or '-', "
                "starting and ending with a letter or digit (it names subscriptions and resources)"
            )
        return value

    @field_validator("subscribes_to")
    @classmethod
    def _subscribes_to(cls, value: str) -> str:
        return _check_event_type(value)

    @field_validator("publishes")
    @classmethod
    def _publishes(cls, value: list[str]) -> list[str]:
        for item in value:
            _check_event_type(item)
        return value

    @field_validator("command", mode="before")
    @classmethod
    def _command(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError("command must be a list of arguments, e.g. [\"python\", \"main.py\"]")
        if isinstance(value, list) and not value:
            raise ValueError("command must not be empty")
        return value

    @field_validator("env", mode="before")
    @classmethod
    def _env(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): v if isinstance(v, str) else str(v) for k, v in value.items()}
        return value

    @field_validator("rules")
    @classmethod
    def _rules(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", value):
            raise ValueError(f"rules {value!r} must name a callable as 'package.module:function'")
        return value

    @model_validator(mode="after")
    def _runnable(self) -> ModuleSpec:
        if self.executor == "local" and not self.command:
            raise ValueError("executor 'local' needs a command")
        if self.executor != "local" and not self.image:
            raise ValueError(f"executor {self.executor!r} needs an image")
        return self


class JobOverrides(BaseModel):
    """What a dispatch rule may change for one job."""

    model_config = ConfigDict(extra="forbid")

    executor: ExecutorName | None = None
    resources: Resources | None = None
    env: dict[str, str] | None = None
    timeout: Duration | None = None

    def apply(self, spec: ModuleSpec) -> ModuleSpec:
        update: dict[str, Any] = {}
        if self.executor is not None:
            update["executor"] = self.executor
        if self.resources is not None:
            update["resources"] = self.resources
        if self.env is not None:
            update["env"] = {**spec.env, **self.env}
        if self.timeout is not None:
            update["timeout"] = self.timeout
        return ModuleSpec.model_validate({**spec.model_dump(), **update})


class Attempt(BaseModel):
    """One launch of a job on an executor."""

    number: int
    status: JobStatus = JobStatus.PENDING
    executor: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    reason: str | None = None
    lost: bool = False  # the executor lost the attempt (e.g. restarted): relaunched without using a retry
    logs: dict[str, str] = Field(default_factory=dict)  # "stdout"/"stderr" -> blob URL


class JobRecord(BaseModel):
    """One (event, module) pair; its id is derived from both, so redelivery finds it."""

    job_id: str
    event_id: str
    correlation_id: str
    module: str
    attempt: int = 1
    executor: str
    status: JobStatus = JobStatus.PENDING
    reason: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    overrides: JobOverrides | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    cleaned_up: bool = False
    version: int = 0  # optimistic concurrency: bumped by every update_job

    @property
    def execution_id(self) -> str:
        return execution_id(self.job_id, self.attempt)

    def execution_ids(self) -> list[str]:
        """Every attempt's execution id so far: what cleanup removes."""
        return [execution_id(self.job_id, attempt) for attempt in range(1, self.attempt + 1)]

    def effective_spec(self, spec: ModuleSpec) -> ModuleSpec:
        """The module spec this job runs with: the manifest entry with the rule's overrides applied."""
        return self.overrides.apply(spec) if self.overrides else spec

    def current_attempt(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None


def execution_id(job_id: str, attempt: int) -> str:
    return f"{job_id}-a{attempt}"


class DeadLetter(BaseModel):
    """A message moved to a subscription's dead-letter queue."""

    message_id: str
    subscription: str
    topic: str
    reason: str
    delivery_count: int
    body: bytes
    dead_lettered_at: datetime = Field(default_factory=utcnow)
