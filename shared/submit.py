"""Submitting a first event: store its files, record its context, publish it.

Used by `ion publish`, `ion demo` and the Functions submit endpoint.
"""

from __future__ import annotations

from pathlib import Path

from shared.blob.base import BlobStore, blob_name, check_blob_name
from shared.manifest import Manifest
from shared.messaging.base import MessageBus
from shared.metadata.base import MetadataStore
from shared.models import Event, EventContext

INPUT_PRODUCER = "_input"


def parse_pairs(pairs: list[str]) -> dict[str, str]:
    """`k=v` strings (from -d flags) into data; a pair without '=' is a usage error."""
    data: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{pair!r} must be KEY=VALUE")
        data[key] = value
    return data


def ensure_subscriptions(bus: MessageBus, manifest: Manifest, max_delivery_count: int) -> None:
    """Subscriptions exist before the first publish, so no event is dropped for want of one."""
    for module in manifest:
        bus.ensure_subscription(module.subscribes_to, module.name, max_delivery_count)


def record_first_event(
    metadata: MetadataStore,
    blob: BlobStore,
    event_type: str,
    data: dict[str, str] | None = None,
    files: dict[str, Path] | None = None,
) -> EventContext:
    """Store a first event's files and its context. `files` maps the name the module will see under
    in/data/ to a local path."""
    event = Event.new(event_type, data)
    stored: dict[str, str] = {}
    for name, path in (files or {}).items():
        check_blob_name(name)
        stored[name] = blob.put(path, blob_name(event.correlation_id, event.id, INPUT_PRODUCER, name))
    context = EventContext(**event.model_dump(), files=stored)
    metadata.put_event_context(context)
    return context


def submit_event(
    bus: MessageBus,
    metadata: MetadataStore,
    blob: BlobStore,
    event_type: str,
    data: dict[str, str] | None = None,
    files: dict[str, Path] | None = None,
) -> EventContext:
    """Record a first event (see record_first_event), then publish it."""
    context = record_first_event(metadata, blob, event_type, data, files)
    bus.publish(context.event())
    return context
