"""An in-process message bus with the embedded bus's semantics, for unit tests (ION_MESSAGING=memory)."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import timedelta

from shared.errors import NotFound
from shared.messaging.base import (
    LockLost,
    MessageBus,
    ReceivedMessage,
    check_lock_for,
    check_message_id,
    check_receive,
    check_subscription,
)
from shared.messaging.sqlite import as_datetime, max_delivery_reason
from shared.models import DeadLetter


@dataclass
class _Message:
    seq: int
    topic: str
    message_id: str
    correlation_id: str | None
    body: bytes
    enqueued_at: float
    delivery_count: int = 0
    locked_until: float = 0.0
    lock_token: str | None = None


@dataclass
class _Subscription:
    topic: str
    max_delivery_count: int
    messages: dict[int, _Message] = field(default_factory=dict)  # insertion order = seq order
    dead_letters: list[DeadLetter] = field(default_factory=list)


class MemoryBus(MessageBus):
    _shared: MemoryBus | None = None
    _shared_lock = threading.Lock()

    def __init__(self, *, duplicate_window: timedelta = timedelta(days=1)) -> None:
        self._duplicate_window = duplicate_window.total_seconds()
        self._subscriptions: dict[str, _Subscription] = {}
        self._seen: dict[tuple[str, str], float] = {}  # (topic, message id) -> first seen, in order
        self._seq = itertools.count(1)
        self._cond = threading.Condition()

    @classmethod
    def shared(cls) -> MemoryBus:
        """The process-wide bus, so every component of one process talks to the same one."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def ensure_subscription(self, topic: str, subscription: str, max_delivery_count: int = 5) -> None:
        check_subscription(max_delivery_count)
        with self._cond:
            existing = self._subscriptions.get(subscription)
            if existing is None:
                self._subscriptions[subscription] = _Subscription(topic, max_delivery_count)
            elif existing.topic != topic:
                raise ValueError(
                    f"subscription {subscription!r} already exists on topic {existing.topic!r}, not {topic!r}"
                )
            else:
                existing.max_delivery_count = max_delivery_count

    def send(self, topic: str, body: bytes, message_id: str, correlation_id: str | None = None) -> None:
        check_message_id(message_id)
        now = time.time()
        with self._cond:
            self._prune_seen(now - self._duplicate_window)
            if (topic, message_id) in self._seen:
                return
            self._seen[(topic, message_id)] = now
            for sub in self._subscriptions.values():
                if sub.topic == topic:
                    seq = next(self._seq)
                    sub.messages[seq] = _Message(seq, topic, message_id, correlation_id, bytes(body), now)
            self._cond.notify_all()

    def _prune_seen(self, cutoff: float) -> None:
        while self._seen:
            key, seen_at = next(iter(self._seen.items()))
            if seen_at >= cutoff:
                return
            del self._seen[key]

    def _subscription(self, name: str) -> _Subscription:
        sub = self._subscriptions.get(name)
        if sub is None:
            raise NotFound(f"subscription {name!r} does not exist; create it with ensure_subscription")
        return sub

    def receive(
        self, subscription: str, max_messages: int = 1, lock_for: float = 60.0, wait: float = 0.0
    ) -> list[ReceivedMessage]:
        check_receive(max_messages, lock_for)
        deadline = time.monotonic() + max(wait, 0.0)
        with self._cond:
            sub = self._subscription(subscription)
            while True:
                received = self._lock_available(sub, subscription, max_messages, lock_for)
                remaining = deadline - time.monotonic()
                if received or remaining <= 0:
                    return received
                # Wake on a send or abandon, or when the next lock expires.
                now = time.time()
                expiries = [m.locked_until - now for m in sub.messages.values() if m.locked_until > now]
                self._cond.wait(min([remaining, *expiries]) + 0.001)

    def _lock_available(
        self, sub: _Subscription, name: str, max_messages: int, lock_for: float
    ) -> list[ReceivedMessage]:
        now = time.time()
        received: list[ReceivedMessage] = []
        for message in list(sub.messages.values()):
            if len(received) >= max_messages:
                break
            if message.locked_until > now:
                continue
            if message.delivery_count >= sub.max_delivery_count:
                self._dead_letter(
                    sub, name, message, max_delivery_reason(message.delivery_count, sub.max_delivery_count)
                )
                continue
            message.delivery_count += 1
            message.locked_until = now + lock_for
            message.lock_token = f"{message.seq}.{uuid.uuid4().hex}"
            received.append(
                ReceivedMessage(
                    message_id=message.message_id,
                    topic=message.topic,
                    subscription=name,
                    body=message.body,
                    delivery_count=message.delivery_count,
                    lock_token=message.lock_token,
                    correlation_id=message.correlation_id,
                    enqueued_at=as_datetime(message.enqueued_at),
                    locked_until=as_datetime(message.locked_until),
                )
            )
        return received

    @staticmethod
    def _dead_letter(sub: _Subscription, name: str, message: _Message, reason: str) -> None:
        del sub.messages[message.seq]
        sub.dead_letters.append(
            DeadLetter(
                message_id=message.message_id,
                subscription=name,
                topic=message.topic,
                reason=reason,
                delivery_count=message.delivery_count,
                body=message.body,
            )
        )

    def _held(self, received: ReceivedMessage) -> tuple[_Subscription, _Message]:
        """The stored message, if the receiver still holds its lock (call with the condition held)."""
        sub = self._subscriptions.get(received.subscription)
        try:
            seq = int(received.lock_token.split(".", 1)[0])
        except ValueError:
            seq = -1
        message = sub.messages.get(seq) if sub else None
        if (
            sub is None
            or message is None
            or message.lock_token != received.lock_token
            or message.locked_until <= time.time()
        ):
            raise LockLost(
                f"message {received.message_id!r} on {received.subscription!r}: "
                "the lock expired, was taken by another receiver or the message was settled"
            )
        return sub, message

    def complete(self, message: ReceivedMessage) -> None:
        with self._cond:
            sub, stored = self._held(message)
            del sub.messages[stored.seq]

    def abandon(self, message: ReceivedMessage) -> None:
        with self._cond:
            _, stored = self._held(message)
            stored.locked_until = 0.0
            stored.lock_token = None
            self._cond.notify_all()

    def dead_letter(self, message: ReceivedMessage, reason: str) -> None:
        with self._cond:
            sub, stored = self._held(message)
            self._dead_letter(sub, message.subscription, stored, reason)

    def renew_lock(self, message: ReceivedMessage, lock_for: float = 60.0) -> ReceivedMessage:
        check_lock_for(lock_for)
        with self._cond:
            _, stored = self._held(message)
            stored.locked_until = time.time() + lock_for
            return replace(message, locked_until=as_datetime(stored.locked_until))

    def dead_letters(self, subscription: str) -> list[DeadLetter]:
        with self._cond:
            sub = self._subscriptions.get(subscription)
            return [d.model_copy() for d in sub.dead_letters] if sub else []
