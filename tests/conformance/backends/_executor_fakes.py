"""What the fake-backed executor harnesses share: building jobs and remembering their planned ends."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from shared.executors.base import JobLaunch
from shared.ids import new_secret
from shared.models import Event, ModuleSpec
from shared.settings import IonSettings

_counter = itertools.count(1)


def ion_settings() -> IonSettings:
    return IonSettings(ION_MESSAGING="servicebus", ION_METADATA="cosmos", ION_BLOB="azureblob",
                       SERVICEBUS_FULLY_QUALIFIED_NAMESPACE="ns.servicebus.windows.net",
                       COSMOS_ENDPOINT="https://c.documents.azure.com",
                       AZURE_STORAGE_ACCOUNT_URL="https://acct.blob.core.windows.net",
                       ION_SIDECAR_IMAGE="reg.example/ion-sidecar:1")


@dataclass
class Plans:
    """Exit code and sleep each launched job was made for, by execution id."""

    by_execution: dict[str, tuple[int, float]] = field(default_factory=dict)

    def new_launch(self, executor: str, exit_code: int, sleep: float) -> JobLaunch:
        number = next(_counter)
        spec = ModuleSpec.model_validate({
            "name": "conformance", "subscribes_to": "probe", "publishes": ["probed"],
            "executor": executor, "image": "reg.example/probe:1",
            "command": ["sh", "-c", f"sleep {sleep}; exit {exit_code}"],
            "timeout": "5m", "resources": {"cpu": "0.5", "memory": "512Mi"},
        })
        event = Event.new("probe", {"n": str(number)})
        job = JobLaunch.new(spec, event, new_secret())
        self.by_execution[job.execution_id] = (exit_code, sleep)
        return job

    def exit_code(self, record: Any) -> int:
        return self.by_execution[record.execution_id][0]
