"""ACI executor on a fake container_groups client; `settle` plays the service."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shared.executors.aci import AciExecutor, AciSettings, group_name
from shared.executors.base import JobLaunch
from shared.models import JobRecord
from tests.conformance.backends._executor_fakes import Plans, ion_settings
from tests.fakes.aci import FakeContainerGroups

RESOURCE_GROUP = "conformance"


@dataclass
class Harness:
    executor: AciExecutor
    groups: FakeContainerGroups
    plans: Plans

    def launch_for(self, exit_code: int, *, sleep: float = 0) -> JobLaunch:
        return self.plans.new_launch("aci", exit_code, sleep)

    def settle(self, record: JobRecord) -> None:
        name = group_name(record.execution_id)
        if (RESOURCE_GROUP, name) in self.groups.groups:
            self.groups.run(RESOURCE_GROUP, name)
            self.groups.finish(RESOURCE_GROUP, name, self.plans.exit_code(record))

    def launched(self, record: JobRecord) -> int:
        return self.groups.created.count(group_name(record.execution_id))


@contextmanager
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    groups = FakeContainerGroups()
    settings = AciSettings(subscription_id="sub", resource_group=RESOURCE_GROUP, location="westeurope")
    executor = AciExecutor(groups, settings, ion_settings())
    yield Harness(executor, groups, Plans())
    executor.close()
