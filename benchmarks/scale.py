"""Scale on one machine: 10,000 events fanned out through a two-stage pipeline under a real `ion up`.

Stage one: 10 jobs, each emitting 1,000 events. Stage two: one job per event, a module that exits 0
at once (`true`), so the figure is Ion's own cost per job: dispatch, a sidecar, a process, logs,
the result and the job record. Reported: wall time, and the `ion up` process's RSS when 1,000 and
when all 10,000 stage-two jobs have succeeded; nothing may be lost (every event has its succeeded job,
nothing dead-lettered).
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from benchmarks.harness import MIB, PYTHON, Child, Row, clean_env, rss_bytes, scratch
from shared.blob.filesystem import FilesystemBlobStore
from shared.messaging.sqlite import SqliteBus
from shared.metadata.sqlite import SqliteMetadata
from shared.submit import submit_event

FIRST_JOBS = 10
FAN_OUT = 1000
TOTAL = FIRST_JOBS * FAN_OUT
EARLY = 1000
SINK_CONCURRENCY = 8
DEADLINE = 1800.0


def _manifest(folder: Path) -> Path:
    repo = json.dumps(str(Path(__file__).resolve().parent.parent))
    path = folder / "modules.yaml"
    path.write_text(f"""modules:
  - name: fan
    subscribes_to: scale_start
    publishes: [scale_item]
    executor: local
    command: {json.dumps([PYTHON, "-m", "benchmarks.fan_module"])}
    env: {{FAN_OUT: "{FAN_OUT}", PYTHONPATH: {repo}}}
  - name: sink
    subscribes_to: scale_item
    executor: local
    command: ["true"]
    concurrency: {SINK_CONCURRENCY}
""")
    return path


def _counts(db: sqlite3.Connection) -> tuple[int, int, int]:
    """(stage-two jobs succeeded, stage-two jobs finished otherwise, job records)."""
    row = db.execute(
        "SELECT sum(status = 'succeeded' AND json_extract(doc, '$.module') = 'sink'),"
        " sum(status NOT IN ('succeeded', 'pending', 'running')), count(*) FROM jobs"
    ).fetchone()
    return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)


def run() -> list[Row]:
    with scratch("scale") as folder:
        home = folder / "home"
        manifest = _manifest(folder)
        bus = SqliteBus(home / "bus.sqlite3")
        metadata = SqliteMetadata(home / "metadata.sqlite3")
        blob = FilesystemBlobStore(home / "blobs")
        bus.ensure_subscription("scale_start", "fan")
        bus.ensure_subscription("scale_item", "sink")
        ion = Child([PYTHON, "-m", "shared.cli.main", "up", "-m", str(manifest)], clean_env(ION_HOME=str(home)),
                    folder / "ion-up.log")
        db = sqlite3.connect(home / "metadata.sqlite3", timeout=30)
        try:
            started = time.perf_counter()
            for index in range(FIRST_JOBS):
                submit_event(bus, metadata, blob, "scale_start", {"batch": str(index)})
            rss_early = 0
            deadline = time.monotonic() + DEADLINE
            while True:
                if not ion.running():
                    raise RuntimeError(f"ion up exited:\n{ion.log_tail()}")
                succeeded, failed, _ = _counts(db)
                if failed:
                    raise RuntimeError(f"{failed} job(s) did not succeed; see {ion.log_path}")
                if not rss_early and succeeded >= EARLY:
                    rss_early = rss_bytes(ion.pid)
                if succeeded >= TOTAL:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"only {succeeded} of {TOTAL} stage-two jobs succeeded in {DEADLINE:.0f}s")
                time.sleep(0.2)
            wall = time.perf_counter() - started
            rss_late = rss_bytes(ion.pid)
            succeeded, failed, records = _counts(db)
            lost = TOTAL - succeeded + failed + len(bus.dead_letters("sink")) + len(bus.dead_letters("fan"))
            if records != TOTAL + FIRST_JOBS:
                lost += abs(records - TOTAL - FIRST_JOBS)
        finally:
            db.close()
            ion.stop()
            bus.close()
            metadata.close()
    growth = (rss_late - rss_early) / MIB
    return [
        Row("5 scale", f"wall time, {TOTAL} events through 2 stages", round(wall, 1), None, "s", None,
            "-", None),
        Row("5 scale", "stage-two jobs per second", round(TOTAL / wall, 1), None, "jobs/s", None, "-", None),
        Row("5 scale", "events lost (no succeeded job, or dead-lettered)", lost, None, "events", None, "0",
            lost == 0),
        Row("5 scale", f"ion up RSS at {TOTAL} vs at {EARLY} jobs", round(rss_late / MIB, 1),
            round(rss_early / MIB, 1), "MiB", rss_late / rss_early if rss_early else None,
            "growth <= 50 MiB", growth <= 50),
    ]
