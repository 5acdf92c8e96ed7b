"""The embedded metadata store: event contexts, insights and job records in one SQLite file.

Records are stored as their JSON (pydantic) with indexed columns for what is queried. Several
threads and processes may share the file: WAL journal, one connection per thread, short write
transactions and a busy timeout. Job updates use optimistic concurrency on `version`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from shared.errors import NotFound
from shared.metadata.base import ACTIVE_STATUSES, CLEANUP_STATUSES, Conflict, MetadataStore
from shared.models import EventContext, Insight, JobRecord
from shared.sqlite_db import SqliteDatabase

_SCHEMA = """
CREATE TABLE IF NOT EXISTS event_contexts (
    event_id TEXT PRIMARY KEY,
    correlation_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS event_contexts_correlation ON event_contexts (correlation_id, created_at);
CREATE TABLE IF NOT EXISTS insights (
    execution_id TEXT PRIMARY KEY,
    correlation_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS insights_correlation ON insights (correlation_id, created_at);
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    correlation_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    finished_at REAL,
    cleaned_up INTEGER NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_correlation ON jobs (correlation_id, created_at);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created_at);
CREATE INDEX IF NOT EXISTS jobs_cleanup ON jobs (cleaned_up, finished_at);
"""



def timestamp(moment: datetime) -> float:
    """Seconds since the epoch; a naive datetime is taken as UTC."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def finished_timestamp(record: JobRecord) -> float | None:
    if record.status.value not in CLEANUP_STATUSES:
        return None
    return timestamp(record.finished_at or record.updated_at)


class SqliteMetadata(MetadataStore):
    def __init__(self, path: Path, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self._database = SqliteDatabase(self.path, "metadata store", _SCHEMA, busy_timeout=busy_timeout)
        self._db = self._database.connection
        self._write = self._database.write

    @contextmanager
    def batch(self) -> Iterator[None]:
        with self._write():
            yield

    def _write_one(self, sql: str, params: tuple[object, ...]) -> sqlite3.Cursor:
        # A single statement is atomic on its own in autocommit mode: no BEGIN/COMMIT round trips.
        return self._db().execute(sql, params)

    def close(self) -> None:
        self._database.close()

    # -- event contexts -----------------------------------------------------------------------

    def put_event_context(self, context: EventContext) -> None:
        self._write_one(
            "INSERT INTO event_contexts (event_id, correlation_id, created_at, doc) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (event_id) DO UPDATE SET correlation_id = excluded.correlation_id,"
            " created_at = excluded.created_at, doc = excluded.doc",
            (context.id, context.correlation_id, timestamp(context.created_at), context.model_dump_json()),
        )

    def get_event_context(self, event_id: str) -> EventContext | None:
        row = self._db().execute("SELECT doc FROM event_contexts WHERE event_id = ?", (event_id,)).fetchone()
        return None if row is None else EventContext.model_validate_json(row[0])

    def event_contexts(self, correlation_id: str) -> list[EventContext]:
        rows = self._db().execute(
            "SELECT doc FROM event_contexts WHERE correlation_id = ? ORDER BY created_at, rowid",
            (correlation_id,),
        )
        return [EventContext.model_validate_json(doc) for (doc,) in rows]

    # -- insights -----------------------------------------------------------------------------

    def put_insight(self, insight: Insight) -> None:
        self._write_one(
            "INSERT INTO insights (execution_id, correlation_id, created_at, doc) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (execution_id) DO UPDATE SET correlation_id = excluded.correlation_id,"
            " created_at = excluded.created_at, doc = excluded.doc",
            (insight.execution_id, insight.correlation_id, timestamp(insight.created_at), insight.model_dump_json()),
        )

    def insights(self, correlation_id: str) -> list[Insight]:
        rows = self._db().execute(
            "SELECT doc FROM insights WHERE correlation_id = ? ORDER BY created_at, rowid", (correlation_id,)
        )
        return [Insight.model_validate_json(doc) for (doc,) in rows]

    # -- job records --------------------------------------------------------------------------

    @staticmethod
    def _job_columns(record: JobRecord) -> tuple[str, str, float | None, int, int, str]:
        return (
            record.correlation_id,
            record.status.value,
            finished_timestamp(record),
            int(record.cleaned_up),
            record.version,
            record.model_dump_json(),
        )

    def create_job(self, record: JobRecord) -> bool:
        correlation_id, status, finished_at, cleaned_up, version, doc = self._job_columns(record)
        cursor = self._write_one(
            "INSERT INTO jobs (job_id, correlation_id, status, created_at, finished_at, cleaned_up,"
            " version, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_id) DO NOTHING",
            (record.job_id, correlation_id, status, timestamp(record.created_at), finished_at, cleaned_up,
             version, doc),
        )
        return cursor.rowcount == 1

    def get_job(self, job_id: str) -> JobRecord | None:
        row = self._db().execute("SELECT doc FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return None if row is None else JobRecord.model_validate_json(row[0])

    def update_job(self, record: JobRecord) -> JobRecord:
        updated = record.model_copy(update={"version": record.version + 1})
        correlation_id, status, finished_at, cleaned_up, version, doc = self._job_columns(updated)
        with self._write() as db:
            cursor = db.execute(
                "UPDATE jobs SET correlation_id = ?, status = ?, finished_at = ?, cleaned_up = ?,"
                " version = ?, doc = ? WHERE job_id = ? AND version = ?",
                (
                    correlation_id,
                    status,
                    finished_at,
                    cleaned_up,
                    version,
                    doc,
                    record.job_id,
                    record.version,
                ),
            )
            if cursor.rowcount == 1:
                return updated
            row = db.execute("SELECT version FROM jobs WHERE job_id = ?", (record.job_id,)).fetchone()
        if row is None:
            raise NotFound(f"job {record.job_id!r} does not exist")
        raise Conflict(
            f"job {record.job_id!r} was updated by someone else: "
            f"stored version {row[0]}, this record has version {record.version}"
        )

    def jobs(self, correlation_id: str) -> list[JobRecord]:
        rows = self._db().execute(
            "SELECT doc FROM jobs WHERE correlation_id = ? ORDER BY created_at, rowid", (correlation_id,)
        )
        return [JobRecord.model_validate_json(doc) for (doc,) in rows]

    def active_jobs(self, limit: int = 1000) -> list[JobRecord]:
        rows = self._db().execute(
            "SELECT doc FROM jobs WHERE status IN (?, ?) ORDER BY created_at, rowid LIMIT ?",
            (*ACTIVE_STATUSES, limit),
        )
        return [JobRecord.model_validate_json(doc) for (doc,) in rows]

    def jobs_due_cleanup(self, finished_before: datetime, limit: int = 100) -> list[JobRecord]:
        rows = self._db().execute(
            "SELECT doc FROM jobs WHERE cleaned_up = 0 AND finished_at IS NOT NULL AND finished_at < ?"
            " ORDER BY finished_at, rowid LIMIT ?",
            (timestamp(finished_before), limit),
        )
        return [JobRecord.model_validate_json(doc) for (doc,) in rows]
