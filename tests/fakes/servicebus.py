"""A fake of the azure-servicebus client objects, with Service Bus's peek-lock semantics.

There is no Service Bus emulator here, so Ion's adapter is tested against these fakes at the SDK
client boundary. They keep what the adapter relies on: topics fan out to subscriptions, a received
message is locked for the subscription's lock duration, abandon or lock expiry counts a delivery,
a message delivered `max_delivery_count` times goes to the dead-letter sub-queue, and a topic with
duplicate detection drops a message id seen within its window. Like the real SDK, a received
message's `delivery_count` is the AMQP header value: 0 on the first delivery.

Every call is recorded in `FakeServiceBusNamespace.calls` as (object, method, args, kwargs), so tests
can assert the exact requests the adapter makes.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.servicebus.exceptions import (
    MessageAlreadySettled,
    MessageLockLostError,
    MessagingEntityNotFoundError,
)


def _now() -> datetime:
    return datetime.now(UTC)


def _max_delivery(entry: FakeEntry) -> tuple[str, str]:
    """The reason and description Service Bus gives a message out of deliveries."""
    return (
        "MaxDeliveryCountExceeded",
        f"Message could not be consumed after {entry.deliveries} delivery attempts.",
    )


@dataclass
class FakeEntry:
    """A message in a subscription (active or dead-lettered)."""

    sequence_number: int
    message_id: str
    body: bytes
    correlation_id: str | None
    content_type: str | None
    subject: str | None
    enqueued_time_utc: datetime
    deliveries: int = 0
    lock_token: str | None = None
    locked_until: datetime | None = None
    dead_letter_reason: str | None = None
    dead_letter_error_description: str | None = None


@dataclass
class FakeSubscription:
    name: str
    options: dict[str, Any]
    active: list[FakeEntry] = field(default_factory=list)
    dead_letters: list[FakeEntry] = field(default_factory=list)

    @property
    def max_delivery_count(self) -> int:
        return int(self.options.get("max_delivery_count") or 10)

    @property
    def lock_duration(self) -> timedelta:
        value = self.options.get("lock_duration") or timedelta(seconds=60)
        return value if isinstance(value, timedelta) else timedelta(seconds=float(value))


@dataclass
class FakeTopic:
    name: str
    options: dict[str, Any]
    subscriptions: dict[str, FakeSubscription] = field(default_factory=dict)
    seen_ids: dict[str, datetime] = field(default_factory=dict)

    @property
    def duplicate_window(self) -> timedelta | None:
        if not self.options.get("requires_duplicate_detection"):
            return None
        value = self.options.get("duplicate_detection_history_time_window") or timedelta(minutes=10)
        return value if isinstance(value, timedelta) else timedelta(seconds=float(value))


class FakeServiceBusNamespace:
    """The state behind the fake clients: topics, subscriptions, and every call made."""

    def __init__(self) -> None:
        self.topics: dict[str, FakeTopic] = {}
        self.calls: list[tuple[str, str, tuple[Any, ...], dict[str, Any]]] = []
        self.sent: list[tuple[str, Any]] = []  # (topic, the SDK ServiceBusMessage as given)
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._sequence = 0

    def record(self, owner: str, method: str, *args: Any, **kwargs: Any) -> None:
        with self.lock:
            self.calls.append((owner, method, args, kwargs))

    def calls_to(self, method: str) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        with self.lock:
            return [(args, kwargs) for _, name, args, kwargs in self.calls if name == method]

    def subscription(self, topic: str, name: str) -> FakeSubscription:
        try:
            return self.topics[topic].subscriptions[name]
        except KeyError:
            raise MessagingEntityNotFoundError(message=f"{topic}/Subscriptions/{name} not found") from None

    def next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence


class FakeServiceBusReceivedMessage:
    """What receive_messages and peek_messages return (the attributes Ion reads)."""

    def __init__(self, entry: FakeEntry, peeked: bool = False) -> None:
        self._entry = entry
        self.message_id = entry.message_id
        self.correlation_id = entry.correlation_id
        self.content_type = entry.content_type
        self.subject = entry.subject
        self.sequence_number = entry.sequence_number
        self.enqueued_time_utc = entry.enqueued_time_utc
        self.delivery_count = max(entry.deliveries - 1, 0)
        self.lock_token = None if peeked else entry.lock_token
        self.locked_until_utc = None if peeked else entry.locked_until
        self.dead_letter_reason = entry.dead_letter_reason
        self.dead_letter_error_description = entry.dead_letter_error_description
        self.settled = False

    @property
    def body(self) -> Iterator[bytes]:
        # Like the SDK: the body of a data message is an iterator of byte sections.
        return iter([self._entry.body])


class FakeServiceBusSender:
    def __init__(self, namespace: FakeServiceBusNamespace, topic: str) -> None:
        self._ns = namespace
        self.topic = topic

    def send_messages(self, message: Any, **kwargs: Any) -> None:
        self._ns.record("sender", "send_messages", message, topic=self.topic, **kwargs)
        messages = message if isinstance(message, list) else [message]
        with self._ns.changed:
            topic = self._ns.topics.get(self.topic)
            if topic is None:
                raise MessagingEntityNotFoundError(message=f"topic {self.topic} not found")
            for item in messages:
                self._ns.sent.append((self.topic, item))
                now = _now()
                window = topic.duplicate_window
                if window is not None and item.message_id is not None:
                    seen = topic.seen_ids.get(item.message_id)
                    if seen is not None and now - seen < window:
                        continue
                    topic.seen_ids[item.message_id] = now
                body = b"".join(item.body) if not isinstance(item.body, bytes) else item.body
                for subscription in topic.subscriptions.values():
                    subscription.active.append(
                        FakeEntry(
                            sequence_number=self._ns.next_sequence(),
                            message_id=item.message_id,
                            body=body,
                            correlation_id=item.correlation_id,
                            content_type=item.content_type,
                            subject=item.subject,
                            enqueued_time_utc=now,
                        )
                    )
            self._ns.changed.notify_all()

    def close(self) -> None:
        self._ns.record("sender", "close", topic=self.topic)

    def __enter__(self) -> FakeServiceBusSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FakeServiceBusReceiver:
    def __init__(
        self, namespace: FakeServiceBusNamespace, topic: str, subscription: str, sub_queue: Any
    ) -> None:
        self._ns = namespace
        self.topic = topic
        self.subscription = subscription
        self.sub_queue = sub_queue

    # -- peek-lock --------------------------------------------------------------------------------
    def receive_messages(
        self, max_message_count: int | None = 1, max_wait_time: float | None = None
    ) -> list[FakeServiceBusReceivedMessage]:
        self._ns.record(
            "receiver", "receive_messages", topic=self.topic, subscription=self.subscription,
            max_message_count=max_message_count, max_wait_time=max_wait_time,
        )
        if self.sub_queue is not None:
            raise NotImplementedError("the fake only peeks the dead-letter sub-queue")
        deadline = time.monotonic() + (max_wait_time if max_wait_time is not None else 3600)
        with self._ns.changed:
            while True:
                got = self._lock_available(max_message_count or 1)
                if got:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                # Wake for sends, and at least every 50 ms for locks that expire.
                self._ns.changed.wait(min(left, 0.05))

    def _lock_available(self, count: int) -> list[FakeServiceBusReceivedMessage]:
        sub = self._ns.subscription(self.topic, self.subscription)
        now = _now()
        result: list[FakeServiceBusReceivedMessage] = []
        for entry in list(sub.active):
            if len(result) >= count:
                break
            if entry.locked_until is not None and entry.locked_until > now:
                continue
            if entry.deliveries >= sub.max_delivery_count:  # its last lock expired: out of deliveries
                self._to_dead_letters(sub, entry, *_max_delivery(entry))
                continue
            entry.deliveries += 1
            entry.lock_token = str(uuid.uuid4())
            entry.locked_until = now + sub.lock_duration
            result.append(FakeServiceBusReceivedMessage(entry))
        return result

    def _held(self, message: FakeServiceBusReceivedMessage) -> tuple[FakeSubscription, FakeEntry]:
        if message.settled:
            raise MessageAlreadySettled(action="settle")
        sub = self._ns.subscription(self.topic, self.subscription)
        for entry in sub.active:
            if (
                entry.lock_token == message.lock_token
                and entry.locked_until is not None
                and entry.locked_until > _now()
            ):
                return sub, entry
        raise MessageLockLostError(message="The lock supplied is invalid: expired or taken by another one")

    def complete_message(self, message: FakeServiceBusReceivedMessage) -> None:
        self._ns.record("receiver", "complete_message", message, subscription=self.subscription)
        with self._ns.changed:
            sub, entry = self._held(message)
            sub.active.remove(entry)
            message.settled = True

    def abandon_message(self, message: FakeServiceBusReceivedMessage) -> None:
        self._ns.record("receiver", "abandon_message", message, subscription=self.subscription)
        with self._ns.changed:
            sub, entry = self._held(message)
            message.settled = True
            entry.lock_token, entry.locked_until = None, None
            if entry.deliveries >= sub.max_delivery_count:
                self._to_dead_letters(sub, entry, *_max_delivery(entry))
            self._ns.changed.notify_all()

    def dead_letter_message(
        self, message: FakeServiceBusReceivedMessage, reason: str | None = None,
        error_description: str | None = None,
    ) -> None:
        self._ns.record(
            "receiver", "dead_letter_message", message, subscription=self.subscription,
            reason=reason, error_description=error_description,
        )
        with self._ns.changed:
            sub, entry = self._held(message)
            message.settled = True
            self._to_dead_letters(sub, entry, reason, error_description)

    def renew_message_lock(self, message: FakeServiceBusReceivedMessage, **kwargs: Any) -> datetime:
        self._ns.record("receiver", "renew_message_lock", message, subscription=self.subscription, **kwargs)
        with self._ns.changed:
            sub, entry = self._held(message)
            entry.locked_until = _now() + sub.lock_duration
            message.locked_until_utc = entry.locked_until
            return entry.locked_until

    def _to_dead_letters(
        self, sub: FakeSubscription, entry: FakeEntry, reason: str | None, description: str | None
    ) -> None:
        sub.active.remove(entry)
        entry.lock_token, entry.locked_until = None, None
        entry.dead_letter_reason, entry.dead_letter_error_description = reason, description
        entry.sequence_number = self._ns.next_sequence()
        sub.dead_letters.append(entry)

    # -- peek -------------------------------------------------------------------------------------
    def peek_messages(
        self, max_message_count: int = 1, *, sequence_number: int = 0, **kwargs: Any
    ) -> list[FakeServiceBusReceivedMessage]:
        self._ns.record(
            "receiver", "peek_messages", topic=self.topic, subscription=self.subscription,
            sub_queue=self.sub_queue, max_message_count=max_message_count, sequence_number=sequence_number,
        )
        with self._ns.lock:
            sub = self._ns.subscription(self.topic, self.subscription)
            source = sub.active if self.sub_queue is None else sub.dead_letters
            entries = sorted((e for e in source if e.sequence_number >= sequence_number),
                             key=lambda e: e.sequence_number)
            return [FakeServiceBusReceivedMessage(e, peeked=True) for e in entries[:max_message_count]]

    def close(self) -> None:
        self._ns.record("receiver", "close", topic=self.topic, subscription=self.subscription)

    def __enter__(self) -> FakeServiceBusReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FakeServiceBusClient:
    """Stands in for azure.servicebus.ServiceBusClient."""

    def __init__(self, namespace: FakeServiceBusNamespace) -> None:
        self.namespace = namespace

    def get_topic_sender(self, topic_name: str, **kwargs: Any) -> FakeServiceBusSender:
        self.namespace.record("client", "get_topic_sender", topic_name=topic_name, **kwargs)
        return FakeServiceBusSender(self.namespace, topic_name)

    def get_subscription_receiver(
        self, topic_name: str, subscription_name: str, *, sub_queue: Any = None, **kwargs: Any
    ) -> FakeServiceBusReceiver:
        self.namespace.record(
            "client", "get_subscription_receiver", topic_name=topic_name,
            subscription_name=subscription_name, sub_queue=sub_queue, **kwargs,
        )
        return FakeServiceBusReceiver(self.namespace, topic_name, subscription_name, sub_queue)

    def close(self) -> None:
        self.namespace.record("client", "close")


@dataclass
class FakeEntityProperties:
    name: str
    options: dict[str, Any]


class FakeServiceBusAdministrationClient:
    """Stands in for azure.servicebus.management.ServiceBusAdministrationClient."""

    def __init__(self, namespace: FakeServiceBusNamespace) -> None:
        self.namespace = namespace

    def get_namespace_properties(self, **kwargs: Any) -> FakeEntityProperties:
        self.namespace.record("admin", "get_namespace_properties", **kwargs)
        return FakeEntityProperties("fake-namespace", {})

    def create_topic(self, topic_name: str, **options: Any) -> FakeEntityProperties:
        self.namespace.record("admin", "create_topic", topic_name, **options)
        with self.namespace.lock:
            if topic_name in self.namespace.topics:
                raise ResourceExistsError(f"topic {topic_name} already exists")
            self.namespace.topics[topic_name] = FakeTopic(topic_name, dict(options))
            return FakeEntityProperties(topic_name, dict(options))

    def list_topics(self, **kwargs: Any) -> list[FakeEntityProperties]:
        self.namespace.record("admin", "list_topics", **kwargs)
        with self.namespace.lock:
            return [FakeEntityProperties(t.name, t.options) for t in self.namespace.topics.values()]

    def create_subscription(
        self, topic_name: str, subscription_name: str, **options: Any
    ) -> FakeEntityProperties:
        self.namespace.record("admin", "create_subscription", topic_name, subscription_name, **options)
        with self.namespace.lock:
            topic = self.namespace.topics.get(topic_name)
            if topic is None:
                raise ResourceNotFoundError(f"topic {topic_name} not found")
            if subscription_name in topic.subscriptions:
                raise ResourceExistsError(f"subscription {subscription_name} already exists")
            topic.subscriptions[subscription_name] = FakeSubscription(subscription_name, dict(options))
            return FakeEntityProperties(subscription_name, dict(options))

    def get_subscription(
        self, topic_name: str, subscription_name: str, **kwargs: Any
    ) -> FakeEntityProperties:
        self.namespace.record("admin", "get_subscription", topic_name, subscription_name, **kwargs)
        with self.namespace.lock:
            topic = self.namespace.topics.get(topic_name)
            if topic is None or subscription_name not in topic.subscriptions:
                raise ResourceNotFoundError(f"subscription {topic_name}/{subscription_name} not found")
            return FakeEntityProperties(subscription_name, topic.subscriptions[subscription_name].options)

    def close(self) -> None:
        self.namespace.record("admin", "close")
