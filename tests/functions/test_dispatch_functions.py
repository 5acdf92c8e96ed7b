"""Each generated dispatcher, called with concrete azure.functions messages, on real embedded stores."""

from __future__ import annotations

import base64
import json
import threading

import pytest

from dispatcher_functions.settlement import rejection_blob_name
from shared.errors import TransientError
from shared.ids import job_id
from shared.models import Event, JobStatus
from tests.functions.conftest import LoadedApp, event_message, sb_message


def rejection(loaded: LoadedApp, subscription: str, message_id: str) -> dict[str, object]:
    blob = loaded.context.providers.blob
    name = rejection_blob_name(subscription, message_id)
    assert blob.exists(name), f"no rejection recorded at {name}"
    target = loaded.context.settings.home_dir / "read-back.json"
    blob.get(name, target)
    document: dict[str, object] = json.loads(target.read_text())
    return document


def test_a_valid_event_launches_exactly_one_job(loaded: LoadedApp) -> None:
    event = Event.new("new_link", {"url": "https://example.org/a"})
    result = loaded.call("dispatch_link_splitter", event_message(event))
    assert result is None  # returning is what lets the host complete the message

    assert len(loaded.executor.launches) == 1
    launch = loaded.executor.launches[0]
    assert launch.event.id == event.id
    assert launch.module.name == "link-splitter"
    record = loaded.context.providers.metadata.get_job(job_id(event.id, "link-splitter"))
    assert record is not None
    assert record.status == JobStatus.PENDING
    assert loaded.context.providers.metadata.get_event_context(event.id) is not None


def test_each_module_dispatches_its_own_subscription(loaded: LoadedApp) -> None:
    event = Event.new("part_ready", {"part": "1"})
    loaded.call("dispatch_classifier", event_message(event))
    loaded.call("dispatch_captioner", event_message(event))
    assert sorted(launch.module.name for launch in loaded.executor.launches) == ["captioner", "classifier"]


def test_the_same_message_delivered_again_launches_nothing(loaded: LoadedApp) -> None:
    event = Event.new("new_link", {"url": "https://example.org/a"})
    loaded.call("dispatch_link_splitter", event_message(event, delivery_count=1))
    loaded.call("dispatch_link_splitter", event_message(event, delivery_count=2))
    loaded.call("dispatch_link_splitter", event_message(event, delivery_count=3))
    assert len(loaded.executor.launches) == 1
    jobs = loaded.context.providers.metadata.jobs(event.correlation_id)
    assert [(j.module, j.attempt) for j in jobs] == [("link-splitter", 1)]


def test_concurrent_deliveries_of_one_message_launch_one_job(loaded: LoadedApp) -> None:
    """A lock that expired mid-dispatch lets a second instance take the message while the first runs."""
    event = Event.new("new_link", {"url": "https://example.org/race"})
    dispatch = loaded.functions()["dispatch_link_splitter"].get_user_function()
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def deliver(count: int) -> None:
        start.wait()
        try:
            dispatch(event_message(event, delivery_count=count))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(1, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(loaded.executor.launches) == 1
    (record,) = loaded.context.providers.metadata.jobs(event.correlation_id)
    assert record.status == JobStatus.PENDING


def test_an_executor_failure_raises_so_the_host_redelivers(loaded: LoadedApp) -> None:
    event = Event.new("new_link", {"url": "https://example.org/a"})
    loaded.executor.unreachable = True
    with pytest.raises(TransientError, match="unreachable"):
        loaded.call("dispatch_link_splitter", event_message(event, delivery_count=1))
    record = loaded.context.providers.metadata.get_job(job_id(event.id, "link-splitter"))
    assert record is not None and record.status == JobStatus.PENDING
    assert loaded.executor.launches == []

    # Service Bus redelivers; the executor is back: exactly one launch, and no rejection recorded.
    loaded.executor.unreachable = False
    loaded.call("dispatch_link_splitter", event_message(event, delivery_count=2))
    loaded.call("dispatch_link_splitter", event_message(event, delivery_count=3))
    assert len(loaded.executor.launches) == 1
    record = loaded.context.providers.metadata.get_job(job_id(event.id, "link-splitter"))
    assert record is not None and record.status == JobStatus.PENDING
    assert not loaded.context.providers.blob.exists(rejection_blob_name("link-splitter", event.id))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\x00\xffnot json", "not JSON"),
        (b'["a list"]', "must be a JSON object"),
        (b'{"id": "e1", "correlation_id": "e1", "data": {}}', "no event type"),
        (b'{"id": "e1", "type": "new_link", "correlation_id": "e1", "data": {"n": 1}}', "data.n"),
        (b'{"id": "e1", "type": "part_ready", "correlation_id": "e1"}', "subscribes to 'new_link'"),
    ],
)
def test_a_poison_message_is_rejected_with_its_reason_and_does_not_raise(
    loaded: LoadedApp, body: bytes, reason: str
) -> None:
    result = loaded.call("dispatch_link_splitter", sb_message(body, "poison-1", delivery_count=1))
    assert result is None  # completed, not retried
    assert loaded.executor.launches == []
    record = rejection(loaded, "link-splitter", "poison-1")
    assert reason in str(record["reason"])
    assert record["message_id"] == "poison-1"
    assert record["topic"] == "new_link"
    assert record["subscription"] == "link-splitter"
    assert record["delivery_count"] == 1
    if b"\xff" in body:
        assert base64.b64decode(str(record["body_base64"])) == body
    else:
        assert record["body"] == body.decode()


def test_an_oversized_message_is_rejected(loaded: LoadedApp) -> None:
    limit = loaded.context.settings.max_event_bytes
    event = Event.new("new_link", {"blob": "x" * limit})
    loaded.call("dispatch_link_splitter", event_message(event))
    assert loaded.executor.launches == []
    record = rejection(loaded, "link-splitter", event.id)
    assert "over the limit" in str(record["reason"])


def test_an_odd_message_id_still_gets_a_rejection_record_inside_the_prefix(loaded: LoadedApp) -> None:
    message_id = "../../etc/passwd"
    loaded.call("dispatch_classifier", sb_message(b"{", message_id))
    name = rejection_blob_name("classifier", message_id)
    assert name.startswith("_rejected/classifier/") and ".." not in name.split("/")
    assert rejection(loaded, "classifier", message_id)["message_id"] == message_id


def test_a_rejection_that_cannot_be_recorded_raises_so_nothing_is_lost(
    loaded: LoadedApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(*args: object) -> str:
        raise OSError("blob store unreachable")

    monkeypatch.setattr(loaded.context.providers.blob, "put", unreachable)
    with pytest.raises(OSError, match="unreachable"):
        loaded.call("dispatch_link_splitter", sb_message(b"not json", "poison-2"))
