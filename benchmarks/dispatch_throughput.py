"""Dispatch throughput: events through the embedded bus, the dispatcher and an executor that succeeds at once.

Baseline: the same events through the same bus with only publish, receive and complete. Both sides use
the receive batch `ion up` uses and count the whole run (publish everything, then drain the
subscription), so the ratio is what dispatching adds on top of the bus itself.
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.harness import Row, ratio, scratch
from shared.dispatch import Dispatcher
from shared.executors.base import ExecutionState, ExecutionStatus, Executor, JobLaunch
from shared.executors.registry import ExecutorRegistry
from shared.manifest import parse_manifest
from shared.messaging.sqlite import SqliteBus
from shared.metadata.sqlite import SqliteMetadata
from shared.models import Event, JobRecord
from shared.settings import IonSettings

EVENTS = 5000
ROUNDS = 3
TOPIC = "bench_event"
MODULE = "bench"


class RecordingExecutor(Executor):
    """Accepts every launch at once and remembers it; every attempt has succeeded."""

    name = "local"

    def __init__(self) -> None:
        self.launched: list[str] = []

    def launch(self, job: JobLaunch) -> None:
        self.launched.append(job.execution_id)

    def status(self, record: JobRecord) -> ExecutionStatus:
        return ExecutionStatus(ExecutionState.SUCCEEDED, 0)

    def cancel(self, record: JobRecord) -> None:
        pass

    def cleanup(self, record: JobRecord) -> None:
        pass


def _events() -> list[Event]:
    return [Event.new(TOPIC, {"n": str(n)}) for n in range(EVENTS)]


def _raw_bus(folder: Path, events: list[Event], batch: int) -> float:
    bus = SqliteBus(folder / "bus.sqlite3")
    bus.ensure_subscription(TOPIC, MODULE)
    try:
        started = time.perf_counter()
        for event in events:
            bus.publish(event)
        done = 0
        while done < len(events):
            for message in bus.receive(MODULE, batch, 60.0):
                bus.complete(message)
                done += 1
        return time.perf_counter() - started
    finally:
        bus.close()


def _dispatched(folder: Path, events: list[Event], batch: int) -> tuple[float, int]:
    settings = IonSettings(ION_HOME=str(folder))
    manifest = parse_manifest({"modules": [
        {"name": MODULE, "subscribes_to": TOPIC, "executor": "local", "command": ["true"]},
    ]})
    bus = SqliteBus(folder / "bus.sqlite3")
    metadata = SqliteMetadata(folder / "metadata.sqlite3")
    executor = RecordingExecutor()
    dispatcher = Dispatcher(manifest, metadata, ExecutorRegistry(settings, None, {"local": executor}), settings)
    bus.ensure_subscription(TOPIC, MODULE)
    try:
        started = time.perf_counter()
        for event in events:
            bus.publish(event)
        done = 0
        while done < len(events):
            # As `ion up` does: dispatch the received batch together, then settle each message.
            messages = bus.receive(MODULE, batch, 60.0)
            for message, result in zip(messages, dispatcher.dispatch_many(MODULE, [m.body for m in messages]),
                                       strict=True):
                if isinstance(result, Exception):
                    raise result
                bus.complete(message)
                done += 1
        elapsed = time.perf_counter() - started
        return elapsed, len(set(executor.launched))
    finally:
        bus.close()
        metadata.close()


def run() -> list[Row]:
    batch = max(1, min(4 * 2, 64))  # what `ion up` receives at once for a module of concurrency 4
    raw_times: list[float] = []
    ion_times: list[float] = []
    # Three rounds, the sides taking turns on fresh files; the best of each side is kept, so a burst
    # of other work on this small machine does not decide the ratio.
    for round_ in range(ROUNDS):
        with scratch("dispatch") as folder:
            (folder / "raw").mkdir()
            (folder / "ion").mkdir()
            raw_seconds = _raw_bus(folder / "raw", _events(), batch)
            ion_seconds, launched = _dispatched(folder / "ion", _events(), batch)
        if launched != EVENTS:
            raise RuntimeError(f"dispatch launched {launched} jobs for {EVENTS} events (round {round_ + 1})")
        raw_times.append(raw_seconds)
        ion_times.append(ion_seconds)
    raw_seconds, ion_seconds = min(raw_times), min(ion_times)
    ion_rate, raw_rate = EVENTS / ion_seconds, EVENTS / raw_seconds
    share = ratio(ion_rate, raw_rate)
    return [Row("1 dispatch", f"throughput, {EVENTS} events", round(ion_rate, 1), round(raw_rate, 1),
                "events/s", share, ">= 1000 events/s and >= 0.5 of the bus",
                ion_rate >= 1000 and share is not None and share >= 0.5)]
