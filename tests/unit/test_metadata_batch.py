"""`batch()` groups writes into one transaction in the SQLite store: all of them or none."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.metadata.sqlite import SqliteMetadata
from shared.models import Event, EventContext, JobRecord


def test_writes_in_a_batch_commit_together_or_not_at_all(tmp_path: Path) -> None:
    store = SqliteMetadata(tmp_path / "m.sqlite3")
    other = SqliteMetadata(tmp_path / "m.sqlite3")  # another connection sees only what is committed
    event = Event.new("t")
    record = JobRecord(job_id="j1", event_id=event.id, correlation_id=event.correlation_id, module="m",
                       executor="local")
    with pytest.raises(RuntimeError), store.batch():
        store.put_event_context(EventContext(**event.model_dump()))
        assert store.create_job(record)
        raise RuntimeError("crash between the writes")
    assert other.get_event_context(event.id) is None and other.get_job("j1") is None

    with store.batch():
        store.put_event_context(EventContext(**event.model_dump()))
        assert store.create_job(record)
        assert other.get_job("j1") is None  # not visible before the batch commits
    assert other.get_event_context(event.id) is not None and other.get_job("j1") is not None
    store.close()
    other.close()
