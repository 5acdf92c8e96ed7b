"""The local executor with real processes: each job's module appends a line to a file, then exits."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.blob.filesystem import FilesystemBlobStore
from shared.executors.base import JobLaunch
from shared.executors.local import LocalExecutor
from shared.ids import new_secret
from shared.messaging.memory import MemoryBus
from shared.metadata.memory import MemoryMetadata
from shared.models import Event, JobRecord, ModuleSpec
from shared.providers import Providers
from shared.settings import IonSettings

MODULE = "import pathlib, sys, time; pathlib.Path(sys.argv[1]).open('a').write('ran\\n'); " \
         "time.sleep(float(sys.argv[2])); sys.exit(int(sys.argv[3]))"


@dataclass
class LocalHarness:
    executor: LocalExecutor
    runs: Path

    def launch_for(self, exit_code: int, *, sleep: float = 0) -> JobLaunch:
        event = Event.new("probe")
        counter = self.runs / f"{event.id}.runs"
        spec = ModuleSpec.model_validate({
            "name": "conformance", "subscribes_to": "probe",
            "command": [sys.executable, "-c", MODULE, str(counter), str(sleep), str(exit_code)],
            "timeout": "5m",
        })
        return JobLaunch.new(spec, event, new_secret())

    def settle(self, record: JobRecord) -> None:
        """Real processes end by themselves."""

    def launched(self, record: JobRecord) -> int:
        counter = self.runs / f"{record.event_id}.runs"
        return len(counter.read_text().splitlines()) if counter.exists() else 0


@contextmanager
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalHarness]:
    settings = IonSettings(ION_HOME=str(tmp_path / "home"))
    providers = Providers(MemoryBus(), MemoryMetadata(), FilesystemBlobStore(tmp_path / "blobs"))
    runs = tmp_path / "runs"
    runs.mkdir()
    executor = LocalExecutor(settings, providers=providers, workdir=tmp_path)
    try:
        yield LocalHarness(executor, runs)
    finally:
        executor.close()
