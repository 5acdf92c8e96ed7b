"""Settings of the Functions app beyond IonSettings, and the manifest it registers functions for."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.manifest import Manifest, load_manifest
from shared.settings import IonSettings

# The folder holding function_app.py: the Functions host runs the worker there, and relative paths in
# app settings (ION_MODULES) are read from it whatever the current directory is.
APP_ROOT = Path(__file__).resolve().parent.parent

SERVICEBUS_CONNECTION = "ServiceBusConnection"
RECONCILE_SCHEDULE_SETTING = "ION_RECONCILE_SCHEDULE"
# NCRONTAB with seconds: every 30 seconds.
DEFAULT_RECONCILE_SCHEDULE = "*/30 * * * * *"
# The Functions host refuses HTTP request bodies over 100 MB.
DEFAULT_SUBMIT_MAX_BYTES = 100 * 1024 * 1024


class FunctionsSettings(BaseSettings):
    """App settings only the Functions app reads."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    submit_max_bytes: int = Field(
        default=DEFAULT_SUBMIT_MAX_BYTES, ge=1024, validation_alias="ION_SUBMIT_MAX_BYTES"
    )
    reconcile_schedule: str | None = Field(default=None, validation_alias=RECONCILE_SCHEDULE_SETTING)


def reconcile_schedule() -> str:
    """The timer's schedule as a binding expression, so operators change it without a deployment.

    The host refuses to index a timer whose %setting% does not resolve; app settings reach the worker
    as environment variables too, so when the setting is absent the default schedule is written in.
    """
    if os.environ.get(RECONCILE_SCHEDULE_SETTING, "").strip():
        return f"%{RECONCILE_SCHEDULE_SETTING}%"
    return DEFAULT_RECONCILE_SCHEDULE


def manifest_path(settings: IonSettings) -> Path:
    path = settings.modules.expanduser()
    return path if path.is_absolute() else APP_ROOT / path


def load_app_manifest(settings: IonSettings | None = None) -> Manifest:
    """The manifest named by ION_MODULES; ManifestError (naming file, entry and field) if it is bad."""
    return load_manifest(manifest_path(settings or IonSettings()))
