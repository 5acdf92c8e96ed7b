"""Kubernetes executor on fakes of BatchV1Api/CoreV1Api; `settle` plays the Job controller."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shared.executors.base import JobLaunch
from shared.executors.kubernetes import KubernetesExecutor, KubernetesSettings, job_name
from shared.models import JobRecord
from tests.conformance.backends._executor_fakes import Plans, ion_settings
from tests.fakes.kubernetes import FakeCluster, fake_kubernetes

NAMESPACE = "conformance"


@dataclass
class Harness:
    executor: KubernetesExecutor
    cluster: FakeCluster
    plans: Plans

    def launch_for(self, exit_code: int, *, sleep: float = 0) -> JobLaunch:
        return self.plans.new_launch("kubernetes", exit_code, sleep)

    def settle(self, record: JobRecord) -> None:
        name = job_name(record.execution_id)
        if (NAMESPACE, name) in self.cluster.jobs:
            self.cluster.finish(NAMESPACE, name, self.plans.exit_code(record))

    def launched(self, record: JobRecord) -> int:
        return self.cluster.created_jobs.count(job_name(record.execution_id))


@contextmanager
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    cluster, batch, core = fake_kubernetes()
    executor = KubernetesExecutor(batch, core, KubernetesSettings(namespace=NAMESPACE), ion_settings())
    yield Harness(executor, cluster, Plans())
    executor.close()
