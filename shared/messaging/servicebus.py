"""Azure Service Bus provider: one topic per event type, one subscription per module, peek-lock receive.

Service Bus fixes a lock's duration per subscription (LOCK_DURATION), while Ion asks for a lock per
receive (`lock_for`). The bus bridges the two: a held message whose `lock_for` runs out is abandoned
(the service then counts a new delivery, exactly as for an expired lock), and one held longer than
the service's lock is renewed in the background until its `lock_for` is reached.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.errors import ConfigurationError, TransientError
from shared.messaging.base import (
    LockLost,
    MessageBus,
    ReceivedMessage,
    check_lock_for,
    check_message_id,
    check_receive,
    check_subscription,
)
from shared.models import DeadLetter, Event
from shared.redact import first_line, scrubbed
from shared.settings import IonSettings

log = logging.getLogger(__name__)

SERVICE = "Azure Service Bus"
SETTING = "SERVICEBUS_CONNECTION_STRING or SERVICEBUS_FULLY_QUALIFIED_NAMESPACE"
LOCK_DURATION = timedelta(seconds=60)  # the subscription's server-side lock (Service Bus allows up to 5 min)
RENEW_MARGIN = 15.0  # renew a longer-held message this long before the server lock ends (at most 1/3 of it)
DUPLICATE_WINDOW = timedelta(days=1)  # a republished child event within a day is dropped by the service
MIN_WAIT = 0.5  # Service Bus has no instant poll, and no wait at all would block until a message comes
RECEIVE_SLICE = 1.0  # a long wait is received in slices, so lock renewals are never held up for long
KEEPER_PERIOD = 0.25
PEEK_PAGE = 250
FIRST_CONTACT: dict[str, Any] = {"connection_timeout": 5, "read_timeout": 15, "retry_total": 1}
MAX_REASON = 1024
MAX_DESCRIPTION = 4096


@dataclass
class _Held:
    """A message this bus holds: the SDK object (settled through its receiver) and Ion's lock deadline."""

    sdk_message: Any
    subscription: str
    deadline: float  # time.monotonic() at which Ion's lock ends
    server_locked_until: float  # time.monotonic() at which the service's lock ends


class ServiceBusBus(MessageBus):
    def __init__(self, client: Any, admin: Any, lock_duration: timedelta = LOCK_DURATION) -> None:
        """`client` is a ServiceBusClient, `admin` a ServiceBusAdministrationClient (or fakes of them)."""
        self._client = client
        self._admin = admin
        self._lock_duration = lock_duration
        self._topics: dict[str, str] = {}  # subscription -> topic
        self._senders: dict[str, Any] = {}
        self._receivers: dict[str, Any] = {}
        self._receiver_locks: dict[str, threading.RLock] = {}
        self._held: dict[str, _Held] = {}
        self._state = threading.RLock()
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None

    @classmethod
    def from_settings(cls, settings: IonSettings) -> ServiceBusBus:
        from azure.servicebus import ServiceBusClient
        from azure.servicebus.management import ServiceBusAdministrationClient

        secret = (
            settings.servicebus_connection_string.get_secret_value()
            if settings.servicebus_connection_string
            else None
        )
        if secret:
            setting = "SERVICEBUS_CONNECTION_STRING"
            try:
                client = ServiceBusClient.from_connection_string(secret)
                admin = ServiceBusAdministrationClient.from_connection_string(secret)
            except (ValueError, TypeError, KeyError) as exc:
                raise ConfigurationError(SERVICE, setting, "the connection string is malformed") from scrubbed(
                    exc, secret
                )
        elif settings.servicebus_namespace:
            from azure.identity import DefaultAzureCredential

            setting = "SERVICEBUS_FULLY_QUALIFIED_NAMESPACE"
            credential = DefaultAzureCredential(managed_identity_client_id=settings.azure_client_id)
            client = ServiceBusClient(settings.servicebus_namespace, credential)
            admin = ServiceBusAdministrationClient(settings.servicebus_namespace, credential)
        else:
            raise ConfigurationError(SERVICE, SETTING, "neither is set")
        bus = cls(client, admin, lock_duration=timedelta(seconds=min(max(settings.lock_seconds, 5), 300)))
        bus.learn_topics(_manifest_topics(settings))
        if secret:
            # The probe is a management call: a managed identity with only the data roles (what the
            # infra grants) may not make it, so identities meet their first error on first real use.
            bus.check(setting, secret)
        return bus

    def learn_topics(self, topics: dict[str, str]) -> None:
        """Subscription -> topic, so receiving needs no management rights to find a subscription's topic."""
        with self._state:
            self._topics.update(topics)

    def check(self, setting: str = SETTING, secret: str | None = None) -> None:
        """First contact with the namespace, with short timeouts: a wrong setting fails fast and clearly."""
        from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

        try:
            self._admin.get_namespace_properties(**FIRST_CONTACT)
        except ClientAuthenticationError:
            raise ConfigurationError(
                SERVICE, setting, "the namespace refused the credentials (wrong key, or missing role)"
            ) from None
        except ServiceRequestError as exc:
            raise ConfigurationError(
                SERVICE, setting, f"cannot reach the namespace ({first_line(exc, secret)})"
            ) from None
        except HttpResponseError as exc:
            if exc.status_code in (401, 403):
                raise ConfigurationError(
                    SERVICE, setting, f"the namespace refused access (HTTP {exc.status_code})"
                ) from None
            raise ConfigurationError(
                SERVICE, setting, f"the namespace answered HTTP {exc.status_code} ({exc.reason})"
            ) from None

    # -- topology ---------------------------------------------------------------------------------
    def ensure_subscription(self, topic: str, subscription: str, max_delivery_count: int = 5) -> None:
        from azure.core.exceptions import ResourceExistsError

        check_subscription(max_delivery_count)
        with _service_errors():
            # Created if missing; "already exists" is fine, so set-up is idempotent and race-free.
            with contextlib.suppress(ResourceExistsError):
                self._admin.create_topic(
                    topic,
                    requires_duplicate_detection=True,
                    duplicate_detection_history_time_window=DUPLICATE_WINDOW,
                )
            with contextlib.suppress(ResourceExistsError):
                self._admin.create_subscription(
                    topic,
                    subscription,
                    max_delivery_count=max_delivery_count,
                    dead_lettering_on_message_expiration=True,
                    lock_duration=self._lock_duration,
                )
        with self._state:
            self._topics[subscription] = topic

    def _topic_of(self, subscription: str) -> str:
        from azure.core.exceptions import ResourceNotFoundError

        with self._state:
            if subscription in self._topics:
                return self._topics[subscription]
        # Not set up by this process: find the topic that has a subscription of this name.
        with _service_errors():
            for topic in self._admin.list_topics():
                try:
                    self._admin.get_subscription(topic.name, subscription)
                except ResourceNotFoundError:
                    continue
                with self._state:
                    self._topics[subscription] = topic.name
                return str(topic.name)
        raise TransientError(f"{SERVICE}: no topic has a subscription named {subscription!r}")

    # -- sending ----------------------------------------------------------------------------------
    def send(self, topic: str, body: bytes, message_id: str, correlation_id: str | None = None) -> None:
        self._send(topic, body, message_id, correlation_id, content_type="application/octet-stream")

    def publish(self, event: Event) -> None:
        self._send(
            event.type, event.model_dump_json().encode(), event.id, event.correlation_id,
            content_type="application/json",
        )

    def _send(
        self, topic: str, body: bytes, message_id: str, correlation_id: str | None, content_type: str
    ) -> None:
        from azure.servicebus import ServiceBusMessage

        check_message_id(message_id)
        # message_id = event id, so the topic's duplicate detection drops a republished event.
        message = ServiceBusMessage(
            body, message_id=message_id, correlation_id=correlation_id, content_type=content_type,
            subject=topic,
        )
        with self._state:
            sender = self._senders.get(topic)
            if sender is None:
                sender = self._senders[topic] = self._client.get_topic_sender(topic_name=topic)
        with _service_errors():
            sender.send_messages(message)

    # -- receiving --------------------------------------------------------------------------------
    def _receiver(self, subscription: str) -> tuple[Any, threading.RLock]:
        topic = self._topic_of(subscription)
        with self._state:
            if subscription not in self._receivers:
                self._receivers[subscription] = self._client.get_subscription_receiver(
                    topic_name=topic, subscription_name=subscription
                )
                self._receiver_locks[subscription] = threading.RLock()
            return self._receivers[subscription], self._receiver_locks[subscription]

    def receive(
        self, subscription: str, max_messages: int = 1, lock_for: float = 60.0, wait: float = 0.0
    ) -> list[ReceivedMessage]:
        check_receive(max_messages, lock_for)
        self._release_expired()
        receiver, lock = self._receiver(subscription)
        topic = self._topics[subscription]
        deadline = time.monotonic() + max(wait, MIN_WAIT)
        while True:
            # The receiver is not thread-safe: it is shared with the lock keeper under `lock`.
            slice_ = min(RECEIVE_SLICE, max(deadline - time.monotonic(), MIN_WAIT))
            with lock, _service_errors():
                messages = receiver.receive_messages(max_message_count=max_messages, max_wait_time=slice_)
            if messages or time.monotonic() >= deadline:
                break
        now = time.monotonic()
        received = []
        for sdk_message in messages:
            token = str(sdk_message.lock_token)
            server_until = now + _seconds_left(sdk_message.locked_until_utc, self._lock_duration)
            with self._state:
                self._held[token] = _Held(sdk_message, subscription, now + lock_for, server_until)
            received.append(_received(sdk_message, topic, subscription, lock_for))
        if received:
            self._start_keeper()
        return received

    def complete(self, message: ReceivedMessage) -> None:
        self._settle(message, "complete_message")

    def abandon(self, message: ReceivedMessage) -> None:
        self._settle(message, "abandon_message")

    def dead_letter(self, message: ReceivedMessage, reason: str) -> None:
        # The service keeps a short reason and a longer description; Ion's reason fits in both.
        short = (reason.splitlines()[0] if reason else "dead-lettered")[:MAX_REASON]
        self._settle(message, "dead_letter_message", reason=short, error_description=reason[:MAX_DESCRIPTION])

    def renew_lock(self, message: ReceivedMessage, lock_for: float = 60.0) -> ReceivedMessage:
        check_lock_for(lock_for)
        held = self._take(message, remove=False)
        with _lock_errors():
            self._renew_server_lock(held)
        with self._state:
            held.deadline = time.monotonic() + lock_for
        return replace(message, locked_until=datetime.now(UTC) + timedelta(seconds=lock_for))

    def _take(self, message: ReceivedMessage, remove: bool) -> _Held:
        self._release_expired()
        with self._state:
            held = self._held.get(message.lock_token)
            if held is None:
                raise LockLost(f"the lock on message {message.message_id!r} expired or it was settled already")
            if remove:
                del self._held[message.lock_token]
            return held

    def _settle(self, message: ReceivedMessage, operation: str, **options: Any) -> None:
        held = self._take(message, remove=True)
        receiver, lock = self._receiver(held.subscription)
        with lock, _lock_errors():
            getattr(receiver, operation)(held.sdk_message, **options)

    # -- Ion's lock deadlines ---------------------------------------------------------------------
    def _release_expired(self) -> None:
        """Abandon held messages whose Ion lock ran out: the service redelivers them, as after expiry."""
        now = time.monotonic()
        with self._state:
            expired = [(token, held) for token, held in self._held.items() if held.deadline <= now]
            for token, _ in expired:
                del self._held[token]
        for _, held in expired:
            receiver, lock = self._receiver(held.subscription)
            with lock, contextlib.suppress(Exception):
                # Already lost on the service side is fine: the message comes back either way.
                receiver.abandon_message(held.sdk_message)

    def _renew_due(self) -> None:
        now = time.monotonic()
        margin = min(RENEW_MARGIN, self._lock_duration.total_seconds() / 3)
        with self._state:
            due = [
                held for held in self._held.values()
                if held.server_locked_until - now < margin and held.deadline > held.server_locked_until
            ]
        for held in due:
            try:
                self._renew_server_lock(held)
            except Exception as exc:  # the next settle reports the loss as LockLost
                log.warning("could not renew the lock of message %s: %s", held.sdk_message.message_id, exc)

    def _renew_server_lock(self, held: _Held) -> None:
        receiver, lock = self._receiver(held.subscription)
        with lock:
            until = receiver.renew_message_lock(held.sdk_message)
        with self._state:
            held.server_locked_until = time.monotonic() + _seconds_left(until, self._lock_duration)

    def _start_keeper(self) -> None:
        with self._state:
            if self._keeper is None or not self._keeper.is_alive():
                self._keeper = threading.Thread(target=self._keep, name="servicebus-locks", daemon=True)
                self._keeper.start()

    def _keep(self) -> None:
        while not self._stop.wait(KEEPER_PERIOD):
            try:
                self._release_expired()
                self._renew_due()
            except Exception:  # keep the keeper alive; errors surface on the next call
                log.exception("Service Bus lock keeper")

    # -- dead letters -----------------------------------------------------------------------------
    def dead_letters(self, subscription: str) -> list[DeadLetter]:
        from azure.servicebus import ServiceBusSubQueue

        topic = self._topic_of(subscription)
        letters: list[DeadLetter] = []
        with _service_errors(), self._client.get_subscription_receiver(
            topic_name=topic, subscription_name=subscription, sub_queue=ServiceBusSubQueue.DEAD_LETTER
        ) as receiver:
            next_sequence = 0
            while True:
                page = receiver.peek_messages(max_message_count=PEEK_PAGE, sequence_number=next_sequence)
                for message in page:
                    letters.append(
                        DeadLetter(
                            message_id=str(message.message_id),
                            subscription=subscription,
                            topic=topic,
                            reason=_reason(message.dead_letter_reason, message.dead_letter_error_description),
                            delivery_count=(message.delivery_count or 0) + 1,
                            body=_body(message),
                        )
                    )
                if len(page) < PEEK_PAGE:
                    break
                next_sequence = max(m.sequence_number for m in page) + 1
        return letters

    def close(self) -> None:
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join(timeout=5)
        with self._state:
            handles = [*self._receivers.values(), *self._senders.values()]
            self._receivers.clear()
            self._senders.clear()
        for handle in handles:
            with contextlib.suppress(Exception):
                handle.close()
        for client in (self._client, self._admin):
            with contextlib.suppress(Exception):
                client.close()


def _received(sdk_message: Any, topic: str, subscription: str, lock_for: float) -> ReceivedMessage:
    return ReceivedMessage(
        message_id=str(sdk_message.message_id),
        topic=topic,
        subscription=subscription,
        body=_body(sdk_message),
        # The SDK reports the AMQP header count: failed deliveries so far, 0 on the first delivery.
        delivery_count=(sdk_message.delivery_count or 0) + 1,
        lock_token=str(sdk_message.lock_token),
        correlation_id=sdk_message.correlation_id,
        enqueued_at=sdk_message.enqueued_time_utc,
        locked_until=datetime.now(UTC) + timedelta(seconds=lock_for),
    )


def _body(sdk_message: Any) -> bytes:
    body = sdk_message.body
    return body if isinstance(body, bytes) else b"".join(body)


def _reason(reason: str | None, description: str | None) -> str:
    if description and reason and not description.startswith(reason):
        return f"{reason}: {description}"
    return description or reason or "dead-lettered"


def _seconds_left(until: datetime | None, default: timedelta) -> float:
    if until is None:
        return default.total_seconds()
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    return (until - datetime.now(UTC)).total_seconds()


@contextlib.contextmanager
def _service_errors() -> Iterator[None]:
    """Failures the SDK's own retries could not overcome: a later attempt may succeed."""
    from azure.core.exceptions import AzureError, ClientAuthenticationError
    from azure.servicebus.exceptions import ServiceBusAuthenticationError, ServiceBusAuthorizationError

    try:
        yield
    except (ServiceBusAuthenticationError, ServiceBusAuthorizationError, ClientAuthenticationError):
        # Retrying cannot fix a refused identity: say which setting to check instead.
        raise ConfigurationError(
            SERVICE, SETTING, "the namespace refused the credentials (wrong key, or missing data role)"
        ) from None
    except AzureError as exc:  # ServiceBusError is one too
        raise TransientError(f"{SERVICE}: {type(exc).__name__}: {first_line(exc)}") from exc


@contextlib.contextmanager
def _lock_errors() -> Iterator[None]:
    # MessageAlreadySettled is a ValueError, not a service error: catch the lock errors first.
    from azure.servicebus.exceptions import MessageAlreadySettled, MessageLockLostError

    with _service_errors():
        try:
            yield
        except (MessageLockLostError, MessageAlreadySettled) as exc:
            raise LockLost(str(exc)) from exc


def _manifest_topics(settings: IonSettings) -> dict[str, str]:
    """Each module's subscription and topic, from the manifest when there is one to read."""
    from shared.errors import ManifestError
    from shared.manifest import load_manifest

    try:
        manifest = load_manifest(settings.modules)
    except ManifestError:
        return {}
    return {module.name: module.subscribes_to for module in manifest}
