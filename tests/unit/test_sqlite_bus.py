"""What the embedded buses do beyond the conformance suite: topology rules, durability, pruning, waking."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from shared.errors import NotFound
from shared.messaging.base import MessageBus, ReceivedMessage
from shared.messaging.memory import MemoryBus
from shared.messaging.sqlite import SqliteBus


@pytest.fixture(params=["sqlite", "memory"])
def any_bus(request: pytest.FixtureRequest, tmp_path: Path) -> MessageBus:
    if request.param == "sqlite":
        bus: MessageBus = SqliteBus(tmp_path / "bus.sqlite3")
        request.addfinalizer(bus.close)
        return bus
    return MemoryBus()


def count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_a_topic_without_subscriptions_drops_the_message(any_bus: MessageBus) -> None:
    any_bus.send("nobody_listens", b"x", "dropped")
    any_bus.ensure_subscription("nobody_listens", "late")

    assert any_bus.receive("late", wait=0.2) == []


def test_receiving_from_an_unknown_subscription_is_an_error(any_bus: MessageBus) -> None:
    with pytest.raises(NotFound, match="no-such-sub"):
        any_bus.receive("no-such-sub")


def test_a_subscription_name_belongs_to_one_topic(any_bus: MessageBus) -> None:
    any_bus.ensure_subscription("topic_a", "module")
    with pytest.raises(ValueError, match="topic_a"):
        any_bus.ensure_subscription("topic_b", "module")


def test_bad_arguments_are_refused(any_bus: MessageBus) -> None:
    any_bus.ensure_subscription("t", "s")
    with pytest.raises(ValueError):
        any_bus.ensure_subscription("t", "s", max_delivery_count=0)
    with pytest.raises(ValueError):
        any_bus.send("t", b"x", "")
    with pytest.raises(ValueError):
        any_bus.receive("s", max_messages=0)
    with pytest.raises(ValueError):
        any_bus.receive("s", lock_for=0)


def test_a_waiting_receiver_wakes_on_a_send_from_another_thread(any_bus: MessageBus) -> None:
    any_bus.ensure_subscription("t", "s")
    got: list[ReceivedMessage] = []
    receiver = threading.Thread(target=lambda: got.extend(any_bus.receive("s", wait=30)))
    receiver.start()
    any_bus.send("t", b"wake up", "w1")
    receiver.join(timeout=60)

    assert [m.body for m in got] == [b"wake up"]


def test_memory_shared_is_one_instance_and_the_constructor_a_fresh_one() -> None:
    assert MemoryBus.shared() is MemoryBus.shared()
    assert MemoryBus() is not MemoryBus.shared()


def test_messages_survive_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bus.sqlite3"
    first = SqliteBus(path)
    first.ensure_subscription("t", "s", max_delivery_count=3)
    first.send("t", b"durable", "d1")
    first.close()

    second = SqliteBus(path)
    message = second.receive("s", wait=1)[0]
    assert (message.body, message.delivery_count) == (b"durable", 1)
    second.send("t", b"again", "d1")  # duplicate detection survives too
    second.complete(message)
    assert second.receive("s", wait=0.2) == []
    second.close()


def test_settled_messages_are_deleted_and_the_file_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "bus.sqlite3"
    bus = SqliteBus(path)
    bus.ensure_subscription("t", "s")
    for i in range(20):
        bus.send("t", b"x", f"m{i}")
    messages = bus.receive("s", max_messages=20)
    for message in messages[:10]:
        bus.complete(message)
    for message in messages[10:]:
        bus.dead_letter(message, "test")

    assert count(path, "messages") == 0
    assert count(path, "dead_letters") == 10
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    bus.close()


def test_seen_ids_are_pruned_after_the_duplicate_window(tmp_path: Path) -> None:
    path = tmp_path / "bus.sqlite3"
    old = SqliteBus(path, duplicate_window=timedelta(days=1))
    old.ensure_subscription("t", "s")
    old.send("t", b"x", "old-id")
    old.close()
    with sqlite3.connect(path) as db:  # the id was seen two days ago
        db.execute("UPDATE seen_ids SET seen_at = seen_at - 2 * 86400")

    bus = SqliteBus(path, duplicate_window=timedelta(days=1))
    bus.send("t", b"y", "new-id")  # the first send of an instance prunes

    with sqlite3.connect(path) as db:
        assert [row[0] for row in db.execute("SELECT message_id FROM seen_ids")] == ["new-id"]
    bus.send("t", b"z", "old-id")  # outside the window: accepted again
    assert sorted(m.message_id for m in bus.receive("s", max_messages=10)) == ["new-id", "old-id", "old-id"]
    bus.close()


def test_two_instances_on_one_file_see_each_others_messages(tmp_path: Path) -> None:
    path = tmp_path / "bus.sqlite3"
    sender, receiver = SqliteBus(path), SqliteBus(path)
    receiver.ensure_subscription("t", "s")
    got: list[ReceivedMessage] = []
    thread = threading.Thread(target=lambda: got.extend(receiver.receive("s", wait=30)))
    thread.start()
    sender.send("t", b"across", "x1")
    thread.join(timeout=60)

    assert [m.body for m in got] == [b"across"]
    sender.close()
    receiver.close()


def test_a_closed_bus_refuses_work(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.sqlite3")
    bus.close()
    with pytest.raises(RuntimeError, match="closed"):
        bus.receive("s")


def test_a_prune_removes_only_expired_ids_and_at_most_a_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bus.sqlite3"
    old = SqliteBus(path, duplicate_window=timedelta(days=1))
    old.ensure_subscription("t", "s")
    for index in range(5):
        old.send("t", b"x", f"expired-{index}")
    old.send("t", b"x", "recent")
    old.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE seen_ids SET seen_at = seen_at - 2 * 86400 WHERE message_id LIKE 'expired-%'")

    monkeypatch.setattr("shared.messaging.sqlite._PRUNE_BATCH", 3)
    bus = SqliteBus(path, duplicate_window=timedelta(days=1))
    bus.send("t", b"y", "new-id")  # prunes the first batch: three of the five expired ids

    with sqlite3.connect(path) as db:
        left = [row[0] for row in db.execute("SELECT message_id FROM seen_ids ORDER BY id")]
    assert left == ["expired-3", "expired-4", "recent", "new-id"]
    bus.close()
