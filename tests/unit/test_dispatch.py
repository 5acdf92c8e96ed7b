from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.dispatch import Dispatcher
from shared.errors import PoisonMessage, TransientError
from shared.executors.registry import ExecutorRegistry
from shared.ids import job_id
from shared.manifest import parse_manifest
from shared.metadata.memory import MemoryMetadata
from shared.models import Event, JobStatus
from shared.settings import IonSettings
from tests.unit.doubles import RecordingExecutor

RULES = '''
from shared.rules import Launch, Skip

def route(event, spec):
    if event.data.get("size") == "huge":
        return Launch(executor="local", resources={"cpu": "4", "memory": "8Gi", "gpu": 1}, timeout="1h")
    if event.data.get("size") == "none":
        return Skip("nothing to do")
    if event.data.get("size") == "bad":
        raise RuntimeError("cannot route this")
    return None
'''


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Dispatcher, RecordingExecutor, MemoryMetadata]]:
    (tmp_path / "routing_rules_for_tests.py").write_text(RULES)
    manifest = parse_manifest(
        {"modules": [
            {"name": "transcoder", "subscribes_to": "file_downloaded", "publishes": ["transcoded"],
             "command": ["true"], "retries": 1, "rules": "routing_rules_for_tests:route"},
        ]},
        path=tmp_path / "modules.yaml",
    )
    executor = RecordingExecutor()
    metadata = MemoryMetadata()
    settings = IonSettings(ION_HOME=str(tmp_path))
    dispatcher = Dispatcher(manifest, metadata, ExecutorRegistry(settings, None, {"local": executor}), settings)
    yield dispatcher, executor, metadata


def body(event: Event) -> bytes:
    return event.model_dump_json().encode()


def test_valid_event_launches_one_job_and_records_it(setup) -> None:
    dispatcher, executor, metadata = setup
    event = Event.new("file_downloaded", {"size": "small"})
    result = dispatcher.dispatch("transcoder", body(event))
    assert result.outcome == "launched"
    assert result.job_id == job_id(event.id, "transcoder")
    assert len(executor.launches) == 1
    launch = executor.launches[0]
    assert launch.event.id == event.id and launch.module.name == "transcoder"
    assert len(launch.secret) >= 32 and event.id not in launch.secret
    record = metadata.get_job(result.job_id)
    # Launched; the reconciler marks it running once the executor reports the attempt.
    assert record is not None and record.status == JobStatus.PENDING and record.attempt == 1
    assert metadata.get_event_context(event.id) is not None


def test_redelivery_launches_nothing_new(setup) -> None:
    dispatcher, executor, _ = setup
    event = Event.new("file_downloaded")
    first = dispatcher.dispatch("transcoder", body(event))
    again = dispatcher.dispatch("transcoder", body(event))
    assert (first.outcome, again.outcome) == ("launched", "duplicate")
    assert len(executor.launches) == 1


def test_executor_failure_is_transient_and_the_redelivery_launches(setup) -> None:
    dispatcher, executor, metadata = setup
    event = Event.new("file_downloaded")
    executor.unreachable = True
    with pytest.raises(TransientError):
        dispatcher.dispatch("transcoder", body(event))
    record = metadata.get_job(job_id(event.id, "transcoder"))
    assert record is not None and record.status == JobStatus.PENDING
    executor.unreachable = False
    assert dispatcher.dispatch("transcoder", body(event)).outcome == "duplicate"
    assert len(executor.launches) == 1
    stored = metadata.get_job(job_id(event.id, "transcoder"))
    assert stored is not None and stored.status == JobStatus.PENDING and stored.attempt == 1


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (json.dumps({"id": "x", "correlation_id": "x"}).encode(), "no event type"),
        (json.dumps({"type": "file_downloaded", "id": "x"}).encode(), "correlation_id"),
        (json.dumps({"type": "file_downloaded", "id": "x", "correlation_id": "x", "data": {"a": 1}}).encode(),
         "data.a"),
        (json.dumps({"type": "other", "id": "x", "correlation_id": "x"}).encode(), "subscribes to"),
        (b"{" + b" " * 300_000 + b"}", "over the limit"),
    ],
)
def test_poison_messages_are_rejected_with_their_reason(setup, raw: bytes, reason: str) -> None:
    dispatcher, executor, _ = setup
    with pytest.raises(PoisonMessage, match=reason):
        dispatcher.dispatch("transcoder", raw)
    assert executor.launches == []


def test_rules_override_the_job(setup) -> None:
    dispatcher, executor, metadata = setup
    event = Event.new("file_downloaded", {"size": "huge"})
    dispatcher.dispatch("transcoder", body(event))
    launched = executor.launches[0].module
    assert launched.resources.gpu == 1 and launched.resources.cpu == "4"
    assert launched.timeout.total_seconds() == 3600
    record = metadata.get_job(job_id(event.id, "transcoder"))
    assert record is not None and record.overrides is not None and record.overrides.resources is not None


def test_rule_skip_is_recorded_and_launches_nothing(setup) -> None:
    dispatcher, executor, metadata = setup
    event = Event.new("file_downloaded", {"size": "none"})
    result = dispatcher.dispatch("transcoder", body(event))
    assert result.outcome == "skipped"
    record = metadata.get_job(result.job_id)
    assert record is not None and record.status == JobStatus.SKIPPED
    assert record.reason is not None and "nothing to do" in record.reason
    assert executor.launches == []


def test_rule_that_raises_makes_the_message_poison(setup) -> None:
    dispatcher, executor, _ = setup
    with pytest.raises(PoisonMessage, match="cannot route this"):
        dispatcher.dispatch("transcoder", body(Event.new("file_downloaded", {"size": "bad"})))
    assert executor.launches == []


def test_a_batch_settles_each_message_on_its_own(setup) -> None:
    dispatcher, executor, metadata = setup
    good = Event.new("file_downloaded")
    skipped = Event.new("file_downloaded", {"size": "none"})
    results = dispatcher.dispatch_many(
        "transcoder", [body(good), b"not json", body(skipped), body(good), body(Event.new("other"))]
    )
    assert [type(r).__name__ for r in results] == [
        "DispatchResult", "PoisonMessage", "DispatchResult", "DispatchResult", "PoisonMessage",
    ]
    assert [r.outcome for r in results if not isinstance(r, Exception)] == ["launched", "skipped", "duplicate"]
    assert len(executor.launches) == 1  # the repeated message inside the batch launched nothing twice
    assert metadata.get_job(job_id(good.id, "transcoder")) is not None


def test_a_batch_whose_records_cannot_be_written_comes_back_whole(setup, monkeypatch) -> None:
    dispatcher, executor, metadata = setup

    def unreachable(record: object) -> bool:
        raise ConnectionError("metadata store unreachable")

    monkeypatch.setattr(metadata, "create_job", unreachable)
    results = dispatcher.dispatch_many("transcoder", [body(Event.new("file_downloaded")), b"[]"])
    assert isinstance(results[0], TransientError) and "unreachable" in str(results[0])
    assert isinstance(results[1], PoisonMessage)  # poison is still poison
    assert executor.launches == []
