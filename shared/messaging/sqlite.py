"""The embedded message bus: topics and subscriptions in one SQLite file under ION_HOME.

Semantics follow Azure Service Bus topics: a send fans out to every subscription of the topic
(none: the message is dropped), duplicate message ids per topic are dropped, receivers peek-lock
messages, settle them with the lock token, and a message delivered more often than the
subscription's max delivery count goes to its dead-letter queue.

Several threads and processes may share one file: WAL journal, one connection per thread, short
write transactions (BEGIN IMMEDIATE for every lock/settle step) and a busy timeout.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
from shared.models import DeadLetter
from shared.sqlite_db import SqliteDatabase

_SCHEMA = """
CREATE TABLE IF NOT EXISTS subscriptions (
    name TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    max_delivery_count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS subscriptions_topic ON subscriptions (topic);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    subscription TEXT NOT NULL,
    topic TEXT NOT NULL,
    message_id TEXT NOT NULL,
    correlation_id TEXT,
    body BLOB NOT NULL,
    enqueued_at REAL NOT NULL,
    delivery_count INTEGER NOT NULL DEFAULT 0,
    locked_until REAL NOT NULL DEFAULT 0,
    lock_token TEXT
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (subscription, locked_until, seq);
CREATE TABLE IF NOT EXISTS seen_ids (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seen_at REAL NOT NULL,
    UNIQUE (topic, message_id)
);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY,
    subscription TEXT NOT NULL,
    topic TEXT NOT NULL,
    message_id TEXT NOT NULL,
    correlation_id TEXT,
    body BLOB NOT NULL,
    delivery_count INTEGER NOT NULL,
    reason TEXT NOT NULL,
    dead_lettered_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_subscription ON dead_letters (subscription, seq);
"""

_POLL_SECONDS = 0.01  # how often a waiting receiver checks for commits by other connections
_PRUNE_EVERY_SECONDS = 60.0
_PRUNE_BATCH = 5000


def as_datetime(timestamp: float) -> datetime:
    """A stored epoch timestamp as an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp, UTC)


def max_delivery_reason(delivery_count: int, max_delivery_count: int) -> str:
    return (
        f"MaxDeliveryCountExceeded: delivered {delivery_count} times, "
        f"the subscription's max delivery count is {max_delivery_count}"
    )


class SqliteBus(MessageBus):
    def __init__(
        self,
        path: Path,
        *,
        duplicate_window: timedelta = timedelta(days=1),
        busy_timeout: float = 30.0,
    ) -> None:
        self.path = Path(path)
        self._duplicate_window = duplicate_window.total_seconds()
        self._database = SqliteDatabase(self.path, "message bus", _SCHEMA, busy_timeout=busy_timeout)
        self._db = self._database.connection
        self._write = self._database.write
        # Wakes receivers of this instance at once on a local send or abandon; other processes
        # are noticed through PRAGMA data_version.
        self._changed = threading.Condition()
        self._last_prune = 0.0

    def close(self) -> None:
        self._database.close()

    # -- topology -----------------------------------------------------------------------------

    def ensure_subscription(self, topic: str, subscription: str, max_delivery_count: int = 5) -> None:
        check_subscription(max_delivery_count)
        with self._write() as db:
            row = db.execute("SELECT topic FROM subscriptions WHERE name = ?", (subscription,)).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO subscriptions (name, topic, max_delivery_count) VALUES (?, ?, ?)",
                    (subscription, topic, max_delivery_count),
                )
            elif row[0] != topic:
                raise ValueError(
                    f"subscription {subscription!r} already exists on topic {row[0]!r}, not {topic!r}"
                )
            else:
                db.execute(
                    "UPDATE subscriptions SET max_delivery_count = ? WHERE name = ?",
                    (max_delivery_count, subscription),
                )

    # -- sending ------------------------------------------------------------------------------

    def send(self, topic: str, body: bytes, message_id: str, correlation_id: str | None = None) -> None:
        check_message_id(message_id)
        now = time.time()
        with self._write() as db:
            inserted = db.execute(
                "INSERT INTO seen_ids (topic, message_id, seen_at) VALUES (?, ?, ?) "
                "ON CONFLICT (topic, message_id) DO NOTHING",
                (topic, message_id, now),
            ).rowcount
            if inserted:
                db.execute(
                    "INSERT INTO messages"
                    " (subscription, topic, message_id, correlation_id, body, enqueued_at)"
                    " SELECT name, ?, ?, ?, ?, ? FROM subscriptions WHERE topic = ?",
                    (topic, message_id, correlation_id, bytes(body), now, topic),
                )
            if now - self._last_prune > _PRUNE_EVERY_SECONDS:
                self._last_prune = now
                self._prune_seen(db, now - self._duplicate_window)
        if inserted:
            self._notify()

    def _prune_seen(self, db: sqlite3.Connection, cutoff: float) -> None:
        # Ids are inserted in time order, so the oldest row tells whether anything expired (the usual
        # answer, no, costs one indexed row) and the expired rows are the first rowids: bounded work.
        oldest = db.execute("SELECT seen_at FROM seen_ids ORDER BY id LIMIT 1").fetchone()
        if oldest is None or oldest[0] >= cutoff:
            return
        db.execute(
            "DELETE FROM seen_ids WHERE seen_at < ? AND id <= (SELECT MAX(id) FROM"
            " (SELECT id, seen_at FROM seen_ids ORDER BY id LIMIT ?) WHERE seen_at < ?)",
            (cutoff, _PRUNE_BATCH, cutoff),
        )

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    # -- receiving ----------------------------------------------------------------------------

    def receive(
        self, subscription: str, max_messages: int = 1, lock_for: float = 60.0, wait: float = 0.0
    ) -> list[ReceivedMessage]:
        check_receive(max_messages, lock_for)
        max_delivery_count = self._max_delivery_count(subscription)
        deadline = time.monotonic() + max(wait, 0.0)
        db = self._db()
        while True:
            version = db.execute("PRAGMA data_version").fetchone()[0]
            messages = self._receive_once(subscription, max_messages, lock_for, max_delivery_count)
            if messages or time.monotonic() >= deadline:
                return messages
            next_expiry = self._next_lock_expiry(subscription)
            # Sleep until something commits (here or elsewhere), a lock expires or time is up.
            while True:
                now = time.monotonic()
                if now >= deadline:
                    break
                if next_expiry is not None and time.time() >= next_expiry:
                    break
                with self._changed:
                    if self._changed.wait(min(_POLL_SECONDS, deadline - now)):
                        break
                if db.execute("PRAGMA data_version").fetchone()[0] != version:
                    break

    def _max_delivery_count(self, subscription: str) -> int:
        row = (
            self._db()
            .execute("SELECT max_delivery_count FROM subscriptions WHERE name = ?", (subscription,))
            .fetchone()
        )
        if row is None:
            raise NotFound(
                f"subscription {subscription!r} does not exist; create it with ensure_subscription"
            )
        return int(row[0])

    def _next_lock_expiry(self, subscription: str) -> float | None:
        row = (
            self._db()
            .execute(
                "SELECT min(locked_until) FROM messages WHERE subscription = ? AND locked_until > ?",
                (subscription, time.time()),
            )
            .fetchone()
        )
        return None if row is None or row[0] is None else float(row[0])

    def _receive_once(
        self, subscription: str, max_messages: int, lock_for: float, max_delivery_count: int
    ) -> list[ReceivedMessage]:
        query = (
            "SELECT seq, topic, message_id, correlation_id, body, enqueued_at, delivery_count"
            " FROM messages WHERE subscription = ? AND locked_until <= ? ORDER BY seq LIMIT ?"
        )
        db = self._db()
        # A cheap read first: idle receivers never take the write lock.
        if db.execute(query, (subscription, time.time(), 1)).fetchone() is None:
            return []
        received: list[ReceivedMessage] = []
        with self._write() as db:
            while len(received) < max_messages:
                now = time.time()
                rows = db.execute(query, (subscription, now, max_messages - len(received))).fetchall()
                if not rows:
                    break
                for seq, topic, message_id, correlation_id, body, enqueued_at, delivery_count in rows:
                    if delivery_count >= max_delivery_count:
                        self._move_to_dead_letters(
                            db, seq, max_delivery_reason(delivery_count, max_delivery_count), now
                        )
                        continue
                    token = f"{seq}.{uuid.uuid4().hex}"
                    locked_until = now + lock_for
                    db.execute(
                        "UPDATE messages SET delivery_count = delivery_count + 1, locked_until = ?,"
                        " lock_token = ? WHERE seq = ?",
                        (locked_until, token, seq),
                    )
                    received.append(
                        ReceivedMessage(
                            message_id=message_id,
                            topic=topic,
                            subscription=subscription,
                            body=bytes(body),
                            delivery_count=delivery_count + 1,
                            lock_token=token,
                            correlation_id=correlation_id,
                            enqueued_at=as_datetime(enqueued_at),
                            locked_until=as_datetime(locked_until),
                        )
                    )
        return received

    @staticmethod
    def _move_to_dead_letters(db: sqlite3.Connection, seq: int, reason: str, now: float) -> None:
        db.execute(
            "INSERT INTO dead_letters (subscription, topic, message_id, correlation_id, body,"
            " delivery_count, reason, dead_lettered_at)"
            " SELECT subscription, topic, message_id, correlation_id, body, delivery_count, ?, ?"
            " FROM messages WHERE seq = ?",
            (reason, now, seq),
        )
        db.execute("DELETE FROM messages WHERE seq = ?", (seq,))

    # -- settling -----------------------------------------------------------------------------

    @staticmethod
    def _seq(message: ReceivedMessage) -> int:
        try:
            return int(message.lock_token.split(".", 1)[0])
        except ValueError:
            raise LockLost(f"message {message.message_id!r}: lock token not issued by this bus") from None

    @contextmanager
    def _held(self, message: ReceivedMessage) -> Iterator[tuple[sqlite3.Connection, int, float]]:
        """A write transaction in which the message's lock is verified to be still ours."""
        seq = self._seq(message)
        with self._write() as db:
            now = time.time()
            row = db.execute(
                "SELECT 1 FROM messages WHERE seq = ? AND lock_token = ? AND locked_until > ?",
                (seq, message.lock_token, now),
            ).fetchone()
            if row is None:
                raise LockLost(
                    f"message {message.message_id!r} on {message.subscription!r}: "
                    "the lock expired, was taken by another receiver or the message was settled"
                )
            yield db, seq, now

    def complete(self, message: ReceivedMessage) -> None:
        with self._held(message) as (db, seq, _):
            db.execute("DELETE FROM messages WHERE seq = ?", (seq,))

    def abandon(self, message: ReceivedMessage) -> None:
        with self._held(message) as (db, seq, _):
            db.execute("UPDATE messages SET locked_until = 0, lock_token = NULL WHERE seq = ?", (seq,))
        self._notify()

    def dead_letter(self, message: ReceivedMessage, reason: str) -> None:
        with self._held(message) as (db, seq, now):
            self._move_to_dead_letters(db, seq, reason, now)

    def renew_lock(self, message: ReceivedMessage, lock_for: float = 60.0) -> ReceivedMessage:
        check_lock_for(lock_for)
        with self._held(message) as (db, seq, now):
            locked_until = now + lock_for
            db.execute("UPDATE messages SET locked_until = ? WHERE seq = ?", (locked_until, seq))
        return replace(message, locked_until=as_datetime(locked_until))

    def dead_letters(self, subscription: str) -> list[DeadLetter]:
        rows = (
            self._db()
            .execute(
                "SELECT message_id, topic, reason, delivery_count, body, dead_lettered_at"
                " FROM dead_letters WHERE subscription = ? ORDER BY seq",
                (subscription,),
            )
            .fetchall()
        )
        return [
            DeadLetter(
                message_id=message_id,
                subscription=subscription,
                topic=topic,
                reason=reason,
                delivery_count=delivery_count,
                body=bytes(body),
                dead_lettered_at=as_datetime(at),
            )
            for message_id, topic, reason, delivery_count, body, at in rows
        ]
