"""host.json, local.settings.json.example and .funcignore agree with the code that reads them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import AliasChoices

from dispatcher_functions.app_settings import (
    APP_ROOT,
    DEFAULT_RECONCILE_SCHEDULE,
    RECONCILE_SCHEDULE_SETTING,
    SERVICEBUS_CONNECTION,
    FunctionsSettings,
)
from shared.settings import IonSettings


def load(name: str) -> Any:
    return json.loads((APP_ROOT / name).read_text(encoding="utf-8"))


def span(text: str) -> timedelta:
    hours, minutes, seconds = text.split(":")
    return timedelta(hours=int(hours), minutes=int(minutes), seconds=float(seconds))


def aliases(model: type[IonSettings] | type[FunctionsSettings]) -> dict[str, list[str]]:
    names = {}
    for field_name, info in model.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names[field_name] = [str(choice) for choice in alias.choices]
        elif isinstance(alias, str):
            names[field_name] = [alias]
    return names


def test_host_json_is_tuned_for_short_dispatch_calls() -> None:
    host = load("host.json")
    assert host["version"] == "2.0"
    assert host["extensionBundle"] == {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"}
    service_bus = host["extensions"]["serviceBus"]
    assert service_bus["autoCompleteMessages"] is True  # settlement relies on it
    assert 1 <= service_bus["maxConcurrentCalls"] <= service_bus["prefetchCount"]
    timeout = span(host["functionTimeout"])
    assert timedelta(minutes=1) <= timeout <= timedelta(minutes=10)  # within the Consumption plan's limit
    assert span(service_bus["maxAutoLockRenewalDuration"]) <= timeout
    assert host["extensions"]["http"]["routePrefix"] == "api"
    sampling = host["logging"]["applicationInsights"]["samplingSettings"]
    assert sampling["isEnabled"] is True
    assert "Exception" in sampling["excludedTypes"]


def test_local_settings_example_names_what_the_app_reads() -> None:
    values: dict[str, str] = load("local.settings.json.example")["Values"]
    assert values["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert values[SERVICEBUS_CONNECTION]
    assert values[RECONCILE_SCHEDULE_SETTING] == DEFAULT_RECONCILE_SCHEDULE
    assert all(isinstance(v, str) and v for v in values.values()), "empty values would override defaults"

    documented = (APP_ROOT / "docs" / "functions.md").read_text(encoding="utf-8")
    for model in (IonSettings, FunctionsSettings):
        for field_name, names in aliases(model).items():
            assert any(name in values or f"`{name}`" in documented for name in names), field_name


def test_local_settings_example_values_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    values: dict[str, str] = load("local.settings.json.example")["Values"]
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = IonSettings()
    assert (settings.messaging, settings.metadata, settings.blob) == ("servicebus", "mongodb", "azureblob")
    assert settings.servicebus_connection_string is not None
    assert FunctionsSettings().reconcile_schedule == DEFAULT_RECONCILE_SCHEDULE
    assert (APP_ROOT / values["ION_MODULES"]).is_file()


def test_funcignore_keeps_what_the_app_needs_and_drops_the_rest() -> None:
    ignored = {
        line.strip() for line in (APP_ROOT / ".funcignore").read_text().splitlines() if line.strip()
    }
    for needed in ("function_app.py", "host.json", "requirements.txt", "shared", "dispatcher_functions",
                   "examples"):
        assert needed not in ignored
        assert (APP_ROOT / needed).exists()
    for dropped in ("tests", ".venv", ".ion", ".tools", "sdk", "infra", "benchmarks", "local.settings.json"):
        assert dropped in ignored


def test_the_app_root_is_where_function_app_lives() -> None:
    assert (APP_ROOT / "function_app.py").is_file()
    assert Path(APP_ROOT / "host.json").is_file()
