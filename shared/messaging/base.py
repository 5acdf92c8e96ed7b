"""The messaging interface every bus (embedded SQLite, in-memory, Azure Service Bus) implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime

from shared.models import DeadLetter, Event


@dataclass(frozen=True)
class ReceivedMessage:
    """A message locked by one receiver (peek-lock) until settled or the lock expires."""

    message_id: str
    topic: str
    subscription: str
    body: bytes = field(repr=False)
    delivery_count: int  # 1 on the first delivery
    lock_token: str
    correlation_id: str | None = None
    enqueued_at: datetime | None = None
    locked_until: datetime | None = None


def check_subscription(max_delivery_count: int) -> None:
    """Arguments every bus refuses alike, before touching its broker."""
    if max_delivery_count < 1:
        raise ValueError(f"max_delivery_count must be at least 1, got {max_delivery_count}")


def check_message_id(message_id: str) -> None:
    if not message_id:
        raise ValueError("a message needs a non-empty message id")


def check_lock_for(lock_for: float) -> None:
    if lock_for <= 0:
        raise ValueError(f"lock_for must be positive, got {lock_for}")


def check_receive(max_messages: int, lock_for: float) -> None:
    if max_messages < 1:
        raise ValueError(f"max_messages must be at least 1, got {max_messages}")
    check_lock_for(lock_for)


class MessageBus(ABC):
    """Topics (event types) fan out to subscriptions (modules); receivers peek-lock messages."""

    @abstractmethod
    def ensure_subscription(self, topic: str, subscription: str, max_delivery_count: int = 5) -> None:
        """Create the topic and its subscription if missing (idempotent)."""

    @abstractmethod
    def send(self, topic: str, body: bytes, message_id: str, correlation_id: str | None = None) -> None:
        """Put raw bytes on a topic; a message id seen before on that topic is dropped (duplicate detection)."""

    def publish(self, event: Event) -> None:
        """Publish an event on the topic of its type; the event id is the message id."""
        self.send(event.type, event.model_dump_json().encode(), event.id, event.correlation_id)

    @abstractmethod
    def receive(
        self, subscription: str, max_messages: int = 1, lock_for: float = 60.0, wait: float = 0.0
    ) -> list[ReceivedMessage]:
        """Lock up to max_messages for lock_for seconds; wait up to `wait` seconds for the first one.

        A message whose delivery count would pass the subscription's max delivery count is moved to the
        dead-letter queue instead of being delivered.
        """

    @abstractmethod
    def complete(self, message: ReceivedMessage) -> None:
        """Remove a message for good. Fails with LockLost if the lock expired or was taken."""

    @abstractmethod
    def abandon(self, message: ReceivedMessage) -> None:
        """Release the lock so the message is delivered again."""

    @abstractmethod
    def dead_letter(self, message: ReceivedMessage, reason: str) -> None:
        """Move a message to its subscription's dead-letter queue with the reason."""

    @abstractmethod
    def renew_lock(self, message: ReceivedMessage, lock_for: float = 60.0) -> ReceivedMessage:
        """Extend the lock of a message still held; returns it with the new locked_until."""

    @abstractmethod
    def dead_letters(self, subscription: str) -> list[DeadLetter]:
        """The subscription's dead-letter queue, oldest first."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class LockLost(Exception):
    """The message's lock expired or another receiver holds it; settling it is refused."""
