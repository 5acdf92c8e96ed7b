"""The local executor's own promises beyond the conformance suite: environment, limits, logs."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.blob.filesystem import FilesystemBlobStore
from shared.executors.base import ExecutionState, JobLaunch
from shared.executors.local import LocalExecutor
from shared.ids import new_secret
from shared.messaging.memory import MemoryBus
from shared.metadata.memory import MemoryMetadata
from shared.models import Event, ModuleSpec
from shared.providers import Providers
from shared.settings import IonSettings


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[LocalExecutor]:
    settings = IonSettings(ION_HOME=str(tmp_path / "home"))
    providers = Providers(MemoryBus(), MemoryMetadata(), FilesystemBlobStore(tmp_path / "blobs"))
    local = LocalExecutor(settings, providers=providers, workdir=tmp_path)
    yield local
    local.close()


def job(code: str, **spec: object) -> JobLaunch:
    module = ModuleSpec.model_validate({"name": "probe", "subscribes_to": "go",
                                        "command": [sys.executable, "-c", code], **spec})
    return JobLaunch.new(module, Event.new("go", {"k": "v"}), new_secret())


def wait_end(executor: LocalExecutor, launch: JobLaunch) -> ExecutionState:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = executor.status(launch.record).state
        if state in (ExecutionState.SUCCEEDED, ExecutionState.FAILED):
            return state
        time.sleep(0.05)
    raise AssertionError("job did not end")


def test_module_gets_the_contract_environment_and_not_provider_secrets(
    executor: LocalExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", "AccountKey=do-not-leak")
    out = tmp_path / "env.json"
    launch = job(f"import json, os; json.dump(dict(os.environ), open({str(out)!r}, 'w'))", env={"MINE": "1"})
    executor.launch(launch)
    assert wait_end(executor, launch) == ExecutionState.SUCCEEDED
    env = json.loads(out.read_text())
    assert env["SHARED_SECRET"] == launch.secret
    assert int(env["SIDECAR_PORT"]) > 0
    assert Path(env["SIDECAR_BASE_DIR"]).is_dir()
    assert env["ION_EVENT_ID"] == launch.event.id and env["ION_MODULE_NAME"] == "probe"
    assert env["ION_EVENT_TYPE"] == "go" and env["ION_CORRELATION_ID"] == launch.event.correlation_id
    assert env["MINE"] == "1"
    assert "AZURE_STORAGE_CONNECTION_STRING" not in env


def test_timeout_is_enforced(executor: LocalExecutor) -> None:
    launch = job("import time; time.sleep(60)", timeout="1s")
    executor.launch(launch)
    assert wait_end(executor, launch) == ExecutionState.FAILED
    assert "timed out" in (executor.status(launch.record).reason or "")


def test_per_module_concurrency_limit(executor: LocalExecutor, tmp_path: Path) -> None:
    marker = tmp_path / "running"
    marker.mkdir()
    # Each job records how many jobs were running when it started, then lingers a little.
    code = (f"import os, time, uuid; d={str(marker)!r}; me=os.path.join(d, uuid.uuid4().hex); "
            "open(me, 'w').close(); print(len(os.listdir(d))); time.sleep(0.5); os.remove(me)")
    launches = [job(code, concurrency=2) for _ in range(5)]
    for launch in launches:
        executor.launch(launch)
    assert [wait_end(executor, launch) for launch in launches] == [ExecutionState.SUCCEEDED] * 5
    seen = []
    for launch in launches:
        stdout = Path(executor.status(launch.record).logs["stdout"].removeprefix("file://"))
        seen.append(int(stdout.read_text()))
    assert max(seen) <= 2


def test_output_is_kept_as_blobs_and_failure_says_why(executor: LocalExecutor) -> None:
    launch = job("import sys; print('hello out'); sys.exit('bad input file')")
    executor.launch(launch)
    assert wait_end(executor, launch) == ExecutionState.FAILED
    status = executor.status(launch.record)
    assert status.exit_code == 1 and "bad input file" in (status.reason or "")
    assert set(status.logs) == {"stdout", "stderr"}
    assert Path(status.logs["stdout"].removeprefix("file://")).read_text() == "hello out\n"


def test_results_survive_a_new_executor_instance(executor: LocalExecutor, tmp_path: Path) -> None:
    launch = job("pass")
    executor.launch(launch)
    assert wait_end(executor, launch) == ExecutionState.SUCCEEDED
    again = LocalExecutor(executor.settings, providers=None, workdir=tmp_path)
    assert again.status(launch.record).state == ExecutionState.SUCCEEDED
    again.launch(launch)  # the attempt exists on disk: nothing runs twice
    assert again.status(launch.record).state == ExecutionState.SUCCEEDED
    again.close()
