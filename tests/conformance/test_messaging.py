"""Messaging conformance: every MessageBus implementation passes these same cases.

Only the interface is used. Topic and subscription names are unique per test so the suite can
run against a shared server, and lock expiry is tested with locks of 1-2 s and generous waits.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

import pytest

from shared.messaging.base import LockLost, MessageBus, ReceivedMessage
from shared.models import DeadLetter, Event

WAIT = 15.0  # generous upper bound for something that should happen soon
T = TypeVar("T")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def new_subscription(
    bus: MessageBus, topic: str | None = None, max_delivery_count: int = 5
) -> tuple[str, str]:
    topic = topic or unique("topic")
    subscription = unique("sub")
    bus.ensure_subscription(topic, subscription, max_delivery_count=max_delivery_count)
    return topic, subscription


def receive_n(bus: MessageBus, subscription: str, n: int, lock_for: float = 30.0) -> list[ReceivedMessage]:
    """Receive until n messages are held (a receive may return fewer than available)."""
    received: list[ReceivedMessage] = []
    deadline = time.monotonic() + WAIT
    while len(received) < n and time.monotonic() < deadline:
        received += bus.receive(subscription, max_messages=n - len(received), lock_for=lock_for, wait=1.0)
    assert len(received) == n, f"expected {n} messages, got {len(received)}"
    return received


def receive_one(bus: MessageBus, subscription: str, lock_for: float = 30.0) -> ReceivedMessage:
    return receive_n(bus, subscription, 1, lock_for=lock_for)[0]


def eventually(probe: Callable[[], T | None], what: str) -> T:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def dead_lettered(bus: MessageBus, subscription: str, message_id: str) -> DeadLetter:
    return eventually(
        lambda: next((d for d in bus.dead_letters(subscription) if d.message_id == message_id), None),
        f"{message_id} in the dead-letter queue of {subscription}",
    )


def test_first_delivery_has_count_one_and_the_sent_content(bus: MessageBus) -> None:
    topic, sub = new_subscription(bus)
    body = b"\x00\x01binary\xff payload"
    bus.send(topic, body, "m-1", correlation_id="corr-1")

    message = receive_one(bus, sub)

    assert message.message_id == "m-1"
    assert message.body == body
    assert message.topic == topic
    assert message.subscription == sub
    assert message.correlation_id == "corr-1"
    assert message.delivery_count == 1
    assert message.lock_token


def test_send_fans_out_to_every_subscription_of_the_topic(bus: MessageBus) -> None:
    topic, first = new_subscription(bus)
    _, second = new_subscription(bus, topic)
    _, third = new_subscription(bus, topic)

    bus.send(topic, b"hello", "fan-1")

    for sub in (first, second, third):
        message = receive_one(bus, sub)
        assert (message.message_id, message.body, message.delivery_count) == ("fan-1", b"hello", 1)
        bus.complete(message)
    # Completing on one subscription does not remove the copies of the others.
    for sub in (first, second, third):
        assert bus.receive(sub, wait=0.5) == []


def test_no_cross_talk_between_topics_or_subscriptions(bus: MessageBus) -> None:
    topic_a, sub_a = new_subscription(bus)
    topic_b, sub_b = new_subscription(bus)

    bus.send(topic_a, b"for a", "only-a")

    assert receive_one(bus, sub_a).message_id == "only-a"
    assert bus.receive(sub_b, wait=1.0) == []
    assert topic_a != topic_b


def test_a_subscription_gets_only_messages_sent_after_it_exists(bus: MessageBus) -> None:
    topic, early = new_subscription(bus)
    bus.send(topic, b"before", "before-late-sub")
    _, late = new_subscription(bus, topic)
    bus.send(topic, b"after", "after-late-sub")

    assert [m.message_id for m in receive_n(bus, late, 1)] == ["after-late-sub"]
    assert bus.receive(late, wait=0.5) == []
    assert sorted(m.message_id for m in receive_n(bus, early, 2)) == ["after-late-sub", "before-late-sub"]


def test_ensure_subscription_is_idempotent(bus: MessageBus) -> None:
    topic, sub = new_subscription(bus)
    bus.ensure_subscription(topic, sub)
    bus.ensure_subscription(topic, sub)
    bus.send(topic, b"x", "once")

    assert [m.message_id for m in receive_n(bus, sub, 1)] == ["once"]
    assert bus.receive(sub, wait=0.5) == []


def test_invalid_arguments_are_refused_alike_and_change_nothing(bus: MessageBus) -> None:
    topic, sub = new_subscription(bus)
    with pytest.raises(ValueError, match="max_delivery_count"):
        bus.ensure_subscription(topic, unique("sub"), max_delivery_count=0)
    with pytest.raises(ValueError, match="message id"):
        bus.send(topic, b"x", "")
    with pytest.raises(ValueError, match="max_messages"):
        bus.receive(sub, max_messages=0)
    with pytest.raises(ValueError, match="lock_for"):
        bus.receive(sub, lock_for=0)
    bus.send(topic, b"x", "valid")
    message = receive_one(bus, sub)
    with pytest.raises(ValueError, match="lock_for"):
        bus.renew_lock(message, lock_for=-1)

    assert message.message_id == "valid" and message.delivery_count == 1  # nothing else was sent
    bus.complete(message)


def test_batch_receive_returns_several_messages(bus: MessageBus) -> None:
    topic, sub = new_subscription(bus)
    ids = [f"batch-{i}" for i in range(5)]
    for i, message_id in enumerate(ids):
        bus.send(topic, f"body {i}".encode(), message_id)

    messages = receive_n(bus, sub, 5)

    assert sorted(m.message_id for m in messages) == ids
    assert {m.message_id: m.body for m in messages} == {f"batch-{i}": f"body {i}".encode() for i in range(5)}
    assert len({m.lock_token for m in messages}) == 5


def test_a_locked_message_is_hidden_from_other_receivers(bus: MessageBus) -> None:
    topic, sub = new_subscription(bus)
    bus.send(topic, b"x", "locked")

    held = receive_one(bus, sub, lock_for=30)

    assert bus.receive(sub, max_messages=10, wait=1.0) == []
    bus.complete(held)


def test_an_expired_lock_redelivers_with_delivery_count_plus_one(bus: MessageBus) -> None:
    topic, sub = new_subscription(bus)
    bus.send(topic, b"x", "expiring")

    first = receive_one(bus, sub, lock_for=1)
    second = receive_one(bus, sub, lock_for=30)  # waits past the first lock's expiry

    assert second.message_id == "expiring"
    assert second.delivery_count == first.delivery_count + 1 == 2
    assert second.lock_token != first.lock_token
    bus.complete(second)


def test_complete_removes_the_message(bus: MessageBus) -> None:
    topic, sub = new_subscription(bus)
    bus.send(topic, b"x", "done")

    bus.complete(receive_one(bus, sub, lock_for=2))

    # Longer than the lock: an uncompleted message would be back by now.
    assert bus.receive(sub, wait=3.5) == []


def test_abandon_redelivers_at_once_with_delivery_count_plus_one(bus: MessageBus) -> None:
    topic, sub = new_subscription(bus)
    bus.send(topic, b"x", "abandoned")

    first = receive_one(bus, sub, lock_for=60)
    bus.abandon(first)
    second = receive_one(bus, sub, lock_for=60)  # long lock: only abandon can have released it

    assert second.message_id == "abandoned"
    assert second.delivery_count == 2
    bus.complete(second)


def test_dead_letter_moves_the_message_with_its_reason(bus: MessageBus) -> None:
    topic, sub = new_subscription(bus)
    bus.send(topic, b"not json", "poison")
    bus.send(topic, b"fine", "healthy")
    messages = {m.message_id: m for m in receive_n(bus, sub, 2, lock_for=2)}

    bus.dead_letter(messages["poison"], "body is not JSON")
    bus.complete(messages["healthy"])

    letter = dead_lettered(bus, sub, "poison")
    assert letter.reason == "body is not JSON"
    assert letter.body == b"not json"
    assert letter.topic == topic
    assert letter.subscription == sub
    assert letter.delivery_count == 1
    assert [d.message_id for d in bus.dead_letters(sub)] == ["poison"]
    assert bus.receive(sub, wait=1.0) == []


def test_dead_letters_are_listed_oldest_first_and_per_subscription(bus: MessageBus) -> None:
    topic, sub = new_subscription(bus)
    _, other = new_subscription(bus, topic)
    for message_id in ("dl-1", "dl-2", "dl-3"):
        bus.send(topic, b"x", message_id)
        bus.dead_letter(receive_one(bus, sub), f"reason {message_id}")

    eventually(lambda: len(bus.dead_letters(sub)) == 3, "three dead letters")
    letters = bus.dead_letters(sub)
    assert [d.message_id for d in letters] == ["dl-1", "dl-2", "dl-3"]
    assert [d.reason for d in letters] == ["reason dl-1", "reason dl-2", "reason dl-3"]
    assert bus.dead_letters(other) == []


def test_passing_the_max_delivery_count_dead_letters_automatically(bus: MessageBus) -> None:
    topic, sub = new_subscription(bus, max_delivery_count=2)
    bus.send(topic, b"x", "unlucky")

    for expected_count in (1, 2):
        message = receive_one(bus, sub)
        assert message.delivery_count == expected_count
        bus.abandon(message)

    assert bus.receive(sub, wait=2.0) == []
    letter = dead_lettered(bus, sub, "unlucky")
    assert letter.delivery_count == 2
    assert "delivery" in letter.reason.lower()
    assert letter.body == b"x"


def test_complete_after_the_lock_was_taken_by_another_receiver_raises_lock_lost(bus: MessageBus) -> None:
    topic, sub = new_subscription(bus)
    bus.send(topic, b"x", "contended")

    late = receive_one(bus, sub, lock_for=1)
    current = receive_one(bus, sub, lock_for=30)

    with pytest.raises(LockLost):
        bus.complete(late)
    with pytest.raises(LockLost):
        bus.abandon(late)
    with pytest.raises(LockLost):
        bus.dead_letter(late, "too late")
    bus.complete(current)  # the current holder still settles it
    assert bus.dead_letters(sub) == []


def test_settling_after_the_lock_expired_raises_lock_lost(bus: MessageBus) -> None:
    topic, sub = new_subscription(bus)
    bus.send(topic, b"x", "expired")

    message = receive_one(bus, sub, lock_for=1)
    time.sleep(2.0)

    with pytest.raises(LockLost):
        bus.complete(message)
    # Not lost: it is delivered again.
    again = receive_one(bus, sub)
    assert again.message_id == "expired"
    assert again.delivery_count == 2
    bus.complete(again)


def test_settling_twice_raises_lock_lost(bus: MessageBus) -> None:
    topic, sub = new_subscription(bus)
    bus.send(topic, b"x", "twice")
    message = receive_one(bus, sub)
    bus.complete(message)

    with pytest.raises(LockLost):
        bus.complete(message)
    with pytest.raises(LockLost):
        bus.renew_lock(message)


def test_renew_lock_extends_the_lock(bus: MessageBus) -> None:
    topic, sub = new_subscription(bus)
    bus.send(topic, b"x", "renewed")

    message = receive_one(bus, sub, lock_for=1)
    renewed = bus.renew_lock(message, lock_for=30)
    time.sleep(2.0)  # past the original lock

    assert renewed.message_id == "renewed"
    assert renewed.delivery_count == message.delivery_count
    if message.locked_until and renewed.locked_until:
        assert renewed.locked_until > message.locked_until
    assert bus.receive(sub, wait=1.0) == []
    bus.complete(renewed)
    assert bus.receive(sub, wait=0.5) == []


def test_a_duplicate_message_id_on_a_topic_is_dropped(bus: MessageBus) -> None:
    topic, sub = new_subscription(bus)
    bus.send(topic, b"first", "dup")
    bus.send(topic, b"second", "dup")

    message = receive_one(bus, sub)
    assert message.body == b"first"
    assert bus.receive(sub, max_messages=10, wait=1.0) == []
    bus.complete(message)

    # Still a duplicate after the first copy was processed: a republished child event does nothing.
    bus.send(topic, b"third", "dup")
    assert bus.receive(sub, max_messages=10, wait=1.0) == []


def test_the_same_message_id_on_another_topic_is_not_a_duplicate(bus: MessageBus) -> None:
    topic_a, sub_a = new_subscription(bus)
    topic_b, sub_b = new_subscription(bus)
    bus.send(topic_a, b"a", "shared-id")
    bus.send(topic_b, b"b", "shared-id")

    assert receive_one(bus, sub_a).body == b"a"
    assert receive_one(bus, sub_b).body == b"b"


def test_publish_round_trips_the_event(bus: MessageBus) -> None:
    event_type = unique("event")
    _, sub = new_subscription(bus, event_type)
    event = Event.new(event_type, {"url": "https://example.org/a.mp4", "size": "12"}, correlation_id="wf-1")
    child = Event.new(event_type, {"n": "1"}, correlation_id="wf-1", parent_event_id=event.id)

    bus.publish(event)
    bus.publish(child)
    bus.publish(event)  # republished: same id, dropped

    messages = {m.message_id: m for m in receive_n(bus, sub, 2)}
    assert set(messages) == {event.id, child.id}
    assert Event.model_validate_json(messages[event.id].body) == event
    assert Event.model_validate_json(messages[child.id].body) == child
    assert messages[event.id].correlation_id == "wf-1"
    assert messages[event.id].topic == event_type
    assert bus.receive(sub, wait=0.5) == []


def test_concurrent_receivers_each_get_distinct_messages(bus: MessageBus) -> None:
    topic, sub = new_subscription(bus)
    ids = [f"many-{i}" for i in range(40)]
    for message_id in ids:
        bus.send(topic, message_id.encode(), message_id)

    seen: Counter[str] = Counter()
    seen_lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        deadline = time.monotonic() + WAIT
        try:
            while time.monotonic() < deadline:
                with seen_lock:
                    if sum(seen.values()) >= len(ids):
                        return
                for message in bus.receive(sub, max_messages=5, lock_for=30, wait=0.5):
                    with seen_lock:
                        seen[message.message_id] += 1
                    bus.complete(message)
        except BaseException as error:  # reported below, with the thread's failure
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(seen) == sorted(ids)
    assert set(seen.values()) == {1}
    assert bus.receive(sub, wait=0.5) == []
