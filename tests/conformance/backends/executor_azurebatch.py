"""Azure Batch executor on a fake BatchClient; `settle` plays the compute node."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shared.executors.azurebatch import AzureBatchExecutor, AzureBatchSettings, batch_job_id, task_id
from shared.executors.base import JobLaunch
from shared.models import JobRecord
from tests.conformance.backends._executor_fakes import Plans, ion_settings
from tests.fakes.azurebatch import FakeBatchClient


@dataclass
class Harness:
    executor: AzureBatchExecutor
    client: FakeBatchClient
    plans: Plans

    def launch_for(self, exit_code: int, *, sleep: float = 0) -> JobLaunch:
        return self.plans.new_launch("azurebatch", exit_code, sleep)

    def settle(self, record: JobRecord) -> None:
        key = (batch_job_id(record.module), task_id(record.execution_id))
        if key in self.client.tasks:
            self.client.start(*key)
            self.client.finish(*key, self.plans.exit_code(record))

    def launched(self, record: JobRecord) -> int:
        return self.client.created_tasks.count(task_id(record.execution_id))


@contextmanager
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    client = FakeBatchClient()
    settings = AzureBatchSettings(account_url="https://conformance.westeurope.batch.azure.com")
    executor = AzureBatchExecutor(client, settings, ion_settings())
    yield Harness(executor, client, Plans())
    executor.close()
