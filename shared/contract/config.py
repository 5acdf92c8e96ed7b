"""What one sidecar knows about its job, read from the environment the executors set."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.ids import job_id as derive_job_id
from shared.settings import split_csv


class SidecarConfig(BaseSettings):
    """The sidecar's job: see `shared.jobenv.sidecar_job_environment` for the variables."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    shared_secret: SecretStr = Field(validation_alias="SHARED_SECRET", min_length=1)
    port: int = Field(default=8080, ge=0, le=65535, validation_alias="SIDECAR_PORT")
    base_dir: Path = Field(default=Path("/ion"), validation_alias="SIDECAR_BASE_DIR")
    event_id: str = Field(validation_alias="ION_EVENT_ID", min_length=1)
    correlation_id: str = Field(validation_alias="ION_CORRELATION_ID", min_length=1)
    event_type: str = Field(validation_alias="ION_EVENT_TYPE", min_length=1)
    module: str = Field(validation_alias="ION_MODULE_NAME", min_length=1)
    job_id: str = Field(default="", validation_alias="ION_JOB_ID")
    attempt: int = Field(default=1, ge=1, validation_alias="ION_ATTEMPT")
    # Event types the module may publish; None allows any (development mode only).
    publishes: Annotated[list[str] | None, NoDecode] = Field(
        default_factory=list, validation_alias="ION_PUBLISHES"
    )
    grace_seconds: float = Field(default=2.0, ge=0, validation_alias="ION_SIDECAR_GRACE_SECONDS")
    # Largest event (as JSON) the bus takes; Service Bus standard tier allows 256 KiB per message.
    max_event_bytes: int = Field(default=256 * 1024, ge=1024, validation_alias="ION_MAX_EVENT_BYTES")

    @field_validator("publishes", mode="before")
    @classmethod
    def _split_publishes(cls, value: Any) -> Any:
        return split_csv(value)

    @model_validator(mode="after")
    def _default_job_id(self) -> SidecarConfig:
        if not self.job_id:
            self.job_id = derive_job_id(self.event_id, self.module)
        return self

    @classmethod
    def from_mapping(cls, variables: Mapping[str, str]) -> SidecarConfig:
        """From variables named as in the environment, ignoring the process environment.

        A host running sidecars in-process (the local executor) uses this so its own environment
        cannot leak into a job's sidecar.
        """
        return cls.model_validate(dict(variables))

    @property
    def in_dir(self) -> Path:
        return self.base_dir / "in"

    @property
    def out_dir(self) -> Path:
        return self.base_dir / "out"

    def allows(self, event_type: str) -> bool:
        return self.publishes is None or event_type in self.publishes
