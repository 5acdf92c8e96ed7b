"""The local executor: each job is a child process with its own folder and a sidecar on a free port.

Sidecars run inside this process (one asyncio loop hosts all of them), so launching a job costs a
process start for the module only. Results are also written to disk, so a restarted `ion up` still
knows the attempts that finished before it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from shared.blob.base import BlobStore
from shared.executors.base import ExecutionState, ExecutionStatus, Executor, JobLaunch
from shared.jobenv import SECRET_SETTING_NAMES, module_environment, sidecar_job_environment
from shared.models import JobRecord
from shared.providers import Providers
from shared.settings import IonSettings

log = logging.getLogger("ion.executor.local")

SIDECAR_START_TIMEOUT = 30.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Runs in the child before exec: if `ion up` dies (even by SIGKILL) its modules die too, so a
    # restarted runtime never races an orphaned attempt.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def resolve_command(command: list[str]) -> list[str]:
    """`python`/`python3` run with Ion's own interpreter, so modules see the same packages."""
    if command and command[0] in ("python", "python3"):
        return [sys.executable, *command[1:]]
    return list(command)


@dataclass
class _Outcome:
    state: ExecutionState
    exit_code: int | None = None
    reason: str | None = None
    logs: dict[str, str] = field(default_factory=dict)


@dataclass
class _Execution:
    job: JobLaunch
    folder: Path
    state: ExecutionState = ExecutionState.PENDING
    exit_code: int | None = None
    reason: str | None = None
    logs: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    cancelled: bool = False

    def status(self) -> ExecutionStatus:
        return ExecutionStatus(self.state, self.exit_code, self.reason, dict(self.logs))


class _SidecarHost:
    """One asyncio loop in a daemon thread that serves every job's sidecar."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        # Sidecars hand blocking provider calls (uploads, downloads) to threads; many jobs at once
        # should not queue behind the default pool's few workers.
        self._loop.set_default_executor(ThreadPoolExecutor(max_workers=32, thread_name_prefix="ion-sidecar-io"))
        self._thread = threading.Thread(target=self._loop.run_forever, name="ion-sidecars", daemon=True)
        self._thread.start()

    def start(self, env: dict[str, str], secret: str, providers: Providers) -> tuple[int, Callable[[], None],
                                                                                     Future[bool]]:
        from shared.contract.config import SidecarConfig
        from sidecar.server import serve

        config = SidecarConfig.from_mapping({**env, "SHARED_SECRET": secret, "SIDECAR_PORT": "0"})
        listening: Future[int] = Future()
        shutdown_holder: dict[str, asyncio.Event] = {}

        async def run() -> bool:
            shutdown = asyncio.Event()
            shutdown_holder["event"] = shutdown
            return await serve(config, providers, shutdown=shutdown, on_listening=listening.set_result)

        served = asyncio.run_coroutine_threadsafe(run(), self._loop)
        try:
            port = listening.result(timeout=SIDECAR_START_TIMEOUT)
        except Exception:
            if served.done() and served.exception() is not None:
                raise RuntimeError(f"sidecar failed to start: {served.exception()}") from None
            raise RuntimeError("sidecar did not start listening in time") from None

        def stop() -> None:
            event = shutdown_holder.get("event")
            if event is not None:
                self._loop.call_soon_threadsafe(event.set)

        return port, stop, served

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)


class LocalExecutor(Executor):
    name = "local"
    lost_after_seconds = 0.0  # results live in this process or on disk: unknown means lost

    def __init__(
        self,
        settings: IonSettings,
        blob: BlobStore | None = None,
        *,
        providers: Providers | None = None,
        workdir: Path | None = None,
        on_finished: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self._providers = providers
        self._blob = blob or (providers.blob if providers else None)
        self.workdir = (workdir or settings.modules.resolve().parent).resolve()
        self.jobs_dir = settings.home_dir / "jobs"
        self.on_finished = on_finished
        self._executions: dict[str, _Execution] = {}
        self._queues: dict[str, queue.Queue[_Execution | None]] = {}
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._host: _SidecarHost | None = None
        self._closed = False

    # -- Executor interface -------------------------------------------------------------------
    def launch(self, job: JobLaunch) -> None:
        key = job.execution_id
        with self._lock:
            if self._closed:
                raise RuntimeError("the local executor is stopped")
            if key in self._executions or self._result_path(key).exists():
                return  # idempotent: this attempt exists already
            execution = _Execution(job, self.jobs_dir / key)
            self._executions[key] = execution
            work = self._queues.get(job.module.name)
            if work is None:
                work = self._queues[job.module.name] = queue.Queue()
                for index in range(job.module.concurrency):
                    worker = threading.Thread(
                        target=self._work, args=(work,), name=f"ion-{job.module.name}-{index}", daemon=True
                    )
                    worker.start()
                    self._workers.append(worker)
        work.put(execution)

    def status(self, record: JobRecord) -> ExecutionStatus:
        key = record.execution_id
        with self._lock:
            execution = self._executions.get(key)
        if execution is not None:
            return execution.status()
        result = self._result_path(key)
        if result.exists():
            saved = json.loads(result.read_text())
            return ExecutionStatus(ExecutionState(saved["state"]), saved.get("exit_code"),
                                   saved.get("reason"), saved.get("logs", {}))
        return ExecutionStatus(ExecutionState.UNKNOWN, reason="no such execution on this machine")

    def cancel(self, record: JobRecord) -> None:
        with self._lock:
            execution = self._executions.get(record.execution_id)
        if execution is None or execution.state not in (ExecutionState.PENDING, ExecutionState.RUNNING):
            return
        execution.cancelled = True
        if execution.process is not None:
            _kill_group(execution.process)

    def cleanup(self, record: JobRecord) -> None:
        for key in record.execution_ids():
            with self._lock:
                execution = self._executions.get(key)
                if execution is not None and execution.state in (ExecutionState.PENDING,
                                                                 ExecutionState.RUNNING):
                    continue
                self._executions.pop(key, None)
            shutil.rmtree(self.jobs_dir / key, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            running = [e for e in self._executions.values() if e.process is not None]
            queues = list(self._queues.values())
        for execution in running:
            execution.cancelled = True
            if execution.process is not None:
                _kill_group(execution.process)
        for work in queues:
            for _ in range(64):
                work.put(None)
        if self._host is not None:
            self._host.close()

    # -- running jobs -------------------------------------------------------------------------
    def _result_path(self, key: str) -> Path:
        return self.jobs_dir / key / "result.json"

    def _providers_for_sidecar(self) -> Providers:
        with self._lock:
            if self._providers is None:
                self._providers = Providers.open(self.settings)
            if self._host is None:
                self._host = _SidecarHost()
            return self._providers

    def _work(self, work: queue.Queue[_Execution | None]) -> None:
        while True:
            execution = work.get()
            if execution is None:
                return
            try:
                outcome = self._run(execution)
            except Exception as exc:  # a broken job must not take the worker down
                log.exception("job %s failed to run", execution.job.execution_id)
                outcome = _Outcome(ExecutionState.FAILED, reason=f"could not run: {exc}")
            # Saved first, then published in one step: a reader never sees a final state without logs.
            self._save(execution.job.execution_id, outcome)
            execution.exit_code, execution.reason, execution.logs = outcome.exit_code, outcome.reason, outcome.logs
            execution.state = outcome.state
            with self._lock:
                # result.json answers for it from now on: memory stays flat however many jobs ran.
                if self._executions.get(execution.job.execution_id) is execution:
                    del self._executions[execution.job.execution_id]
            if self.on_finished is not None:
                self.on_finished()

    def _run(self, execution: _Execution) -> _Outcome:
        job = execution.job
        if execution.cancelled:
            return _Outcome(ExecutionState.FAILED, reason="cancelled before it started")
        base_dir = execution.folder / "work"
        logs_dir = execution.folder / "logs"
        for folder in (base_dir, logs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        providers = self._providers_for_sidecar()
        assert self._host is not None
        sidecar_env = sidecar_job_environment(job, 0, str(base_dir) + os.sep)
        sidecar_env["ION_SIDECAR_GRACE_SECONDS"] = str(self.settings.sidecar_grace_seconds)
        port, stop_sidecar, served = self._host.start(sidecar_env, job.secret, providers)
        env = {k: v for k, v in os.environ.items() if k not in SECRET_SETTING_NAMES}
        env.update(module_environment(job, port, str(base_dir) + os.sep))
        stdout_path, stderr_path = logs_dir / "stdout.txt", logs_dir / "stderr.txt"
        execution.state = ExecutionState.RUNNING
        try:
            outcome = self._run_module(execution, env, stdout_path, stderr_path)
        finally:
            stop_sidecar()
            with contextlib.suppress(Exception):
                served.result(timeout=10)
        outcome.logs = self._store_logs(job, {"stdout": stdout_path, "stderr": stderr_path})
        return outcome

    def _run_module(self, execution: _Execution, env: dict[str, str], stdout_path: Path,
                    stderr_path: Path) -> _Outcome:
        job = execution.job
        with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
            try:
                process = subprocess.Popen(
                    resolve_command(job.module.command or []),
                    cwd=self.workdir, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                    start_new_session=True, preexec_fn=_die_with_parent,
                )
            except OSError as exc:
                return _Outcome(ExecutionState.FAILED,
                                reason=f"cannot start {job.module.command!r}: {exc.strerror}")
            execution.process = process
            if execution.cancelled:
                _kill_group(process)
            try:
                code = process.wait(timeout=job.module.timeout.total_seconds())
            except subprocess.TimeoutExpired:
                _kill_group(process)
                process.wait()
                return _Outcome(ExecutionState.FAILED, reason=f"timed out after {job.module.timeout}")
        if execution.cancelled:
            return _Outcome(ExecutionState.FAILED, code, "cancelled")
        if code == 0:
            return _Outcome(ExecutionState.SUCCEEDED, code)
        return _Outcome(ExecutionState.FAILED, code, f"module exited with code {code}" + _tail(stderr_path))

    def _store_logs(self, job: JobLaunch, files: dict[str, Path]) -> dict[str, str]:
        blob = self._blob
        if blob is None:
            return {}
        stored: dict[str, str] = {}
        record = job.record
        for name, path in files.items():
            if not path.exists():
                continue
            blob_name = f"_logs/{record.correlation_id}/{record.job_id}/attempt-{record.attempt}/{name}.txt"
            try:
                stored[name] = blob.put(path, blob_name)
            except Exception as exc:  # logs are best effort; the result is what counts
                log.warning("could not store %s of %s: %s", name, job.execution_id, exc)
        return stored

    def _save(self, key: str, outcome: _Outcome) -> None:
        path = self._result_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps({
            "state": outcome.state.value, "exit_code": outcome.exit_code,
            "reason": outcome.reason, "logs": outcome.logs,
        }))
        temporary.replace(path)


def _tail(path: Path, limit: int = 400) -> str:
    """The end of a module's stderr, to say why it failed in the job record."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            text = handle.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""
    if not text:
        return ""
    last = text.splitlines()[-1]
    return f": {last}"


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
