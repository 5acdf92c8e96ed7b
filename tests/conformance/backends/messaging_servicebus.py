"""The Service Bus adapter over the fake azure-servicebus clients (no Service Bus emulator exists)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from shared.messaging.servicebus import ServiceBusBus
from tests.fakes.servicebus import (
    FakeServiceBusAdministrationClient,
    FakeServiceBusClient,
    FakeServiceBusNamespace,
)


@contextmanager
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServiceBusBus]:
    namespace = FakeServiceBusNamespace()
    bus = ServiceBusBus(FakeServiceBusClient(namespace), FakeServiceBusAdministrationClient(namespace))
    try:
        yield bus
    finally:
        bus.close()
