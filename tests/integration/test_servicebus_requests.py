"""The exact requests the Service Bus adapter makes, recorded by the fake SDK clients."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from azure.servicebus import ServiceBusMessage, ServiceBusSubQueue

from shared.messaging.servicebus import DUPLICATE_WINDOW, LOCK_DURATION, ServiceBusBus
from shared.models import Event
from tests.fakes.servicebus import (
    FakeServiceBusAdministrationClient,
    FakeServiceBusClient,
    FakeServiceBusNamespace,
)


@pytest.fixture
def namespace() -> FakeServiceBusNamespace:
    return FakeServiceBusNamespace()


@pytest.fixture
def bus(namespace: FakeServiceBusNamespace) -> Any:
    bus = ServiceBusBus(FakeServiceBusClient(namespace), FakeServiceBusAdministrationClient(namespace))
    yield bus
    bus.close()


def test_topology_creates_topic_with_duplicate_detection_and_subscription_with_dead_lettering(
    bus: ServiceBusBus, namespace: FakeServiceBusNamespace
) -> None:
    bus.ensure_subscription("new_link", "downloader", max_delivery_count=3)

    assert namespace.calls_to("create_topic") == [
        (("new_link",), {"requires_duplicate_detection": True,
                         "duplicate_detection_history_time_window": DUPLICATE_WINDOW}),
    ]
    assert namespace.calls_to("create_subscription") == [
        (("new_link", "downloader"), {"max_delivery_count": 3, "dead_lettering_on_message_expiration": True,
                                      "lock_duration": LOCK_DURATION}),
    ]


def test_topology_is_idempotent_when_entities_exist(bus: ServiceBusBus, namespace: FakeServiceBusNamespace) -> None:
    bus.ensure_subscription("new_link", "downloader")
    bus.ensure_subscription("new_link", "downloader")
    bus.ensure_subscription("new_link", "thumbnailer")

    assert set(namespace.topics) == {"new_link"}
    assert set(namespace.topics["new_link"].subscriptions) == {"downloader", "thumbnailer"}


def test_publish_sends_to_the_topic_of_the_event_type_with_ids_and_content_type(
    bus: ServiceBusBus, namespace: FakeServiceBusNamespace
) -> None:
    bus.ensure_subscription("file_downloaded", "detector")
    event = Event.new("file_downloaded", {"size": "12"}, correlation_id="wf-7")

    bus.publish(event)

    assert [kwargs["topic_name"] for _, kwargs in namespace.calls_to("get_topic_sender")] == ["file_downloaded"]
    [(topic, message)] = namespace.sent
    assert topic == "file_downloaded"
    assert isinstance(message, ServiceBusMessage)
    assert message.message_id == event.id
    assert message.correlation_id == "wf-7"
    assert message.content_type == "application/json"
    assert message.subject == "file_downloaded"
    assert Event.model_validate_json(b"".join(message.body)) == event


def test_raw_send_is_octet_stream(bus: ServiceBusBus, namespace: FakeServiceBusNamespace) -> None:
    bus.ensure_subscription("t", "s")
    bus.send("t", b"\x00raw", "m-1")
    [(_, message)] = namespace.sent
    assert (message.message_id, message.correlation_id, message.content_type) == ("m-1", None,
                                                                                  "application/octet-stream")


def test_receive_uses_the_subscription_of_its_topic_in_peek_lock(
    bus: ServiceBusBus, namespace: FakeServiceBusNamespace
) -> None:
    bus.ensure_subscription("new_link", "downloader")
    bus.send("new_link", b"x", "m-1", "wf")

    [message] = bus.receive("downloader", max_messages=3, lock_for=30, wait=2.0)

    [(_, receiver_kwargs)] = namespace.calls_to("get_subscription_receiver")
    assert receiver_kwargs == {"topic_name": "new_link", "subscription_name": "downloader", "sub_queue": None}
    [(_, receive_kwargs)] = namespace.calls_to("receive_messages")
    assert receive_kwargs["max_message_count"] == 3
    assert 0 < receive_kwargs["max_wait_time"] <= 2.0
    # The SDK's count is 0-based (AMQP header); Ion reports 1 on the first delivery.
    assert message.delivery_count == 1
    assert (message.topic, message.subscription, message.correlation_id) == ("new_link", "downloader", "wf")


def test_settlement_calls_carry_the_received_sdk_message(
    bus: ServiceBusBus, namespace: FakeServiceBusNamespace
) -> None:
    bus.ensure_subscription("t", "s")
    for message_id in ("a", "b", "c"):
        bus.send("t", b"x", message_id)
    received = {m.message_id: m for m in bus.receive("s", max_messages=3, wait=1.0)}

    bus.complete(received["a"])
    bus.abandon(received["b"])
    bus.dead_letter(received["c"], "body is not JSON\nline 1: unexpected token")

    [((completed,), _)] = namespace.calls_to("complete_message")
    assert completed.message_id == "a"
    [((abandoned,), _)] = namespace.calls_to("abandon_message")
    assert abandoned.message_id == "b"
    [((dead,), kwargs)] = namespace.calls_to("dead_letter_message")
    assert dead.message_id == "c"
    assert kwargs["reason"] == "body is not JSON"
    assert kwargs["error_description"] == "body is not JSON\nline 1: unexpected token"
    [letter] = bus.dead_letters("s")
    assert letter.reason == "body is not JSON\nline 1: unexpected token"


def test_dead_letters_peek_the_dead_letter_sub_queue(bus: ServiceBusBus, namespace: FakeServiceBusNamespace) -> None:
    bus.ensure_subscription("t", "s")
    bus.send("t", b"x", "m")
    bus.dead_letter(bus.receive("s", wait=1.0)[0], "bad")

    letters = bus.dead_letters("s")

    dlq_receivers = [kw for _, kw in namespace.calls_to("get_subscription_receiver") if kw["sub_queue"]]
    assert dlq_receivers == [{"topic_name": "t", "subscription_name": "s",
                              "sub_queue": ServiceBusSubQueue.DEAD_LETTER}]
    assert [kw["sequence_number"] for _, kw in namespace.calls_to("peek_messages")] == [0]
    assert [(d.message_id, d.reason, d.delivery_count, d.topic) for d in letters] == [("m", "bad", 1, "t")]
    assert namespace.calls_to("complete_message") == []


def test_a_lock_held_longer_than_the_server_lock_is_renewed_in_the_background(
    namespace: FakeServiceBusNamespace,
) -> None:
    # A 3 s server lock: without renewal the message would be redelivered after 3 s.
    bus = ServiceBusBus(
        FakeServiceBusClient(namespace), FakeServiceBusAdministrationClient(namespace),
        lock_duration=timedelta(seconds=3),
    )
    try:
        bus.ensure_subscription("t", "s")
        bus.send("t", b"x", "long")
        [message] = bus.receive("s", lock_for=600, wait=1.0)
        time.sleep(4.0)

        assert bus.receive("s", wait=0.5) == []
        assert len(namespace.calls_to("renew_message_lock")) >= 1
        bus.complete(message)
        assert namespace.calls_to("abandon_message") == []
    finally:
        bus.close()


def test_a_lock_that_runs_out_is_released_by_abandoning(
    bus: ServiceBusBus, namespace: FakeServiceBusNamespace
) -> None:
    bus.ensure_subscription("t", "s")
    bus.send("t", b"x", "short")
    [first] = bus.receive("s", lock_for=0.5, wait=1.0)

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not namespace.calls_to("abandon_message"):
        time.sleep(0.05)

    [((abandoned,), _)] = namespace.calls_to("abandon_message")
    assert abandoned.message_id == "short"
    [again] = bus.receive("s", wait=2.0)
    assert again.delivery_count == first.delivery_count + 1


def test_a_subscription_set_up_elsewhere_is_found_through_the_administration_client(
    namespace: FakeServiceBusNamespace,
) -> None:
    setup = ServiceBusBus(FakeServiceBusClient(namespace), FakeServiceBusAdministrationClient(namespace))
    setup.ensure_subscription("other", "x")
    setup.ensure_subscription("new_link", "downloader")
    setup.send("new_link", b"x", "m")
    worker = ServiceBusBus(FakeServiceBusClient(namespace), FakeServiceBusAdministrationClient(namespace))

    [message] = worker.receive("downloader", wait=1.0)

    assert message.topic == "new_link"
    worker.complete(message)
    setup.close()
    worker.close()


def test_a_subscription_named_in_the_manifest_needs_no_management_call(
    namespace: FakeServiceBusNamespace,
) -> None:
    setup = ServiceBusBus(FakeServiceBusClient(namespace), FakeServiceBusAdministrationClient(namespace))
    setup.ensure_subscription("new_link", "downloader")
    setup.send("new_link", b"x", "m")
    # A worker holding only data roles: it learns the topic from the manifest, not from the namespace.
    worker = ServiceBusBus(FakeServiceBusClient(namespace), FakeServiceBusAdministrationClient(namespace))
    worker.learn_topics({"downloader": "new_link"})
    before = len(namespace.calls)

    [message] = worker.receive("downloader", wait=1.0)

    assert message.topic == "new_link"
    assert [c for c in namespace.calls[before:] if c[1] in ("list_topics", "get_subscription")] == []
    worker.complete(message)
    setup.close()
    worker.close()


def test_a_refused_identity_is_a_configuration_error_naming_the_setting(
    namespace: FakeServiceBusNamespace,
) -> None:
    from azure.servicebus.exceptions import ServiceBusAuthorizationError

    from shared.errors import ConfigurationError

    class FakeRefusingReceiver:
        # Like the SDK, the receiver is made without contact; the service refuses the first receive.
        def receive_messages(self, *args: Any, **kwargs: Any) -> Any:
            raise ServiceBusAuthorizationError(message="Unauthorized access. 'Listen' claim(s) are required")

        def close(self) -> None:
            pass

    class FakeRefusingClient(FakeServiceBusClient):
        def get_subscription_receiver(self, *args: Any, **kwargs: Any) -> Any:
            return FakeRefusingReceiver()

    worker = ServiceBusBus(FakeRefusingClient(namespace), FakeServiceBusAdministrationClient(namespace))
    worker.learn_topics({"downloader": "new_link"})
    with pytest.raises(ConfigurationError, match="SERVICEBUS_FULLY_QUALIFIED_NAMESPACE"):
        worker.receive("downloader", wait=0.1)
    worker.close()


def test_settling_a_message_twice_is_lock_lost(bus: ServiceBusBus) -> None:
    from shared.messaging.base import LockLost

    bus.ensure_subscription("new_link", "downloader")
    bus.send("new_link", b"x", "m-twice")
    [message] = bus.receive("downloader", wait=1.0)
    bus.complete(message)
    with pytest.raises(LockLost):
        bus.complete(message)
