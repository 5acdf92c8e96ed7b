"""Shared pieces for the sidecar tests: providers that record the order of calls, a served sidecar.

No tests here. The providers are the embedded ones (in-memory bus and metadata, filesystem
blobs); the recorder only wraps them, so the tests see exactly what the sidecar asked of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from shared.blob.base import BlobStore
from shared.blob.filesystem import FilesystemBlobStore
from shared.contract import SidecarConfig
from shared.messaging.base import MessageBus
from shared.messaging.memory import MemoryBus
from shared.metadata.memory import MemoryMetadata
from shared.models import Event, EventContext
from shared.providers import Providers
from sidecar.server import serve

SECRET = "s3cret-for-tests-only-0123456789abcdef"
SUBSCRIPTION_PREFIX = "probe-"


class Recorder:
    """Wraps a provider and appends (provider, method, first argument) to a shared log."""

    RECORDED = {"put", "put_insight", "put_event_context", "publish", "send"}

    def __init__(self, label: str, inner: Any, log: list[tuple[str, str, Any]]) -> None:
        self._label, self._inner, self._log = label, inner, log

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name not in self.RECORDED or not callable(attribute):
            return attribute

        def recorded(*args: Any, **kwargs: Any) -> Any:
            self._log.append((self._label, name, args[-1] if name == "put" else args[0]))
            return attribute(*args, **kwargs)

        return recorded


@dataclass
class Stores:
    providers: Providers
    bus: MessageBus
    metadata: MemoryMetadata
    blob: BlobStore
    calls: list[tuple[str, str, Any]]

    def published(self, event_type: str) -> list[Event]:
        """Events that reached the bus on a topic watched since `watch` was called."""
        messages = self.bus.receive(SUBSCRIPTION_PREFIX + event_type, max_messages=100, lock_for=5)
        for message in messages:
            self.bus.complete(message)
        return [Event.model_validate_json(m.body) for m in messages]

    def watch(self, *event_types: str) -> None:
        for event_type in event_types:
            self.bus.ensure_subscription(event_type, SUBSCRIPTION_PREFIX + event_type)


def make_stores(tmp_path: Path) -> Stores:
    calls: list[tuple[str, str, Any]] = []
    bus, metadata, blob = MemoryBus(), MemoryMetadata(), FilesystemBlobStore(tmp_path / "blobs")
    providers = Providers(
        bus=Recorder("bus", bus, calls),  # type: ignore[arg-type]
        metadata=Recorder("metadata", metadata, calls),  # type: ignore[arg-type]
        blob=Recorder("blob", blob, calls),  # type: ignore[arg-type]
    )
    stores = Stores(providers, bus, metadata, blob, calls)
    stores.watch("face_detected", "no_face")  # the types the test module publishes
    return stores


def seed_event(
    stores: Stores,
    tmp_path: Path,
    *,
    event_id: str = "parent-event-1",
    event_type: str = "image_uploaded",
    data: dict[str, str] | None = None,
    files: dict[str, bytes] | None = None,
) -> EventContext:
    """Store the triggering event's context and its files, as a dispatcher's input would have."""
    urls: dict[str, str] = {}
    staging = tmp_path / "staging"
    for name, content in (files or {}).items():
        source = staging / name
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_bytes(content)
        urls[name] = stores.blob.put(source, f"corr-1/{event_id}/_input/{name}")
    context = EventContext(
        id=event_id, type=event_type, correlation_id="corr-1", parent_event_id="grandparent-0",
        data=data or {}, files=urls,
    )
    stores.metadata.put_event_context(context)
    return context


def make_config(base_dir: Path, **overrides: Any) -> SidecarConfig:
    values: dict[str, Any] = {
        "SHARED_SECRET": SECRET,
        "SIDECAR_PORT": "0",
        "SIDECAR_BASE_DIR": str(base_dir),
        "ION_EVENT_ID": "parent-event-1",
        "ION_CORRELATION_ID": "corr-1",
        "ION_EVENT_TYPE": "image_uploaded",
        "ION_MODULE_NAME": "detector",
        "ION_JOB_ID": "detector-job-1",
        "ION_ATTEMPT": "1",
        "ION_PUBLISHES": "face_detected,no_face",
        "ION_SIDECAR_GRACE_SECONDS": "0",
    }
    values.update(overrides)
    return SidecarConfig.from_mapping(values)


@dataclass
class Served:
    client: httpx.AsyncClient
    task: asyncio.Task[bool]
    shutdown: asyncio.Event
    port: int

    async def call(self, path: str, secret: str | None = SECRET, method: str = "GET") -> httpx.Response:
        headers = {"secret": secret} if secret is not None else {}
        return await self.client.request(method, path, headers=headers)


@asynccontextmanager
async def served(config: SidecarConfig, providers: Providers, **kwargs: Any) -> AsyncIterator[Served]:
    """The sidecar on a real Hypercorn server in this loop, with an HTTP client pointed at it."""
    loop = asyncio.get_running_loop()
    listening: asyncio.Future[int] = loop.create_future()
    shutdown = asyncio.Event()
    task = asyncio.create_task(
        serve(config, providers, shutdown=shutdown, on_listening=listening.set_result, **kwargs)
    )
    port = await asyncio.wait_for(listening, timeout=30)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        try:
            yield Served(client, task, shutdown, port)
        finally:
            shutdown.set()
            await asyncio.wait_for(task, timeout=30)
