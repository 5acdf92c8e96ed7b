"""Open the providers named by the settings. Azure SDKs are imported only when chosen."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.blob.base import BlobStore
from shared.messaging.base import MessageBus
from shared.metadata.base import MetadataStore
from shared.settings import IonSettings

log = logging.getLogger("ion.providers")


def open_bus(settings: IonSettings) -> MessageBus:
    if settings.messaging == "sqlite":
        from shared.messaging.sqlite import SqliteBus

        return SqliteBus(settings.home_dir / "bus.sqlite3")
    if settings.messaging == "memory":
        from shared.messaging.memory import MemoryBus

        return MemoryBus.shared()
    from shared.messaging.servicebus import ServiceBusBus

    return ServiceBusBus.from_settings(settings)


def open_metadata(settings: IonSettings) -> MetadataStore:
    if settings.metadata == "sqlite":
        from shared.metadata.sqlite import SqliteMetadata

        return SqliteMetadata(settings.home_dir / "metadata.sqlite3")
    if settings.metadata == "memory":
        from shared.metadata.memory import MemoryMetadata

        return MemoryMetadata.shared()
    if settings.metadata == "mongodb":
        from shared.metadata.mongodb import MongoMetadata

        return MongoMetadata.from_settings(settings)
    from shared.metadata.cosmos import CosmosMetadata

    return CosmosMetadata.from_settings(settings)


def open_blob(settings: IonSettings) -> BlobStore:
    if settings.blob == "filesystem":
        from shared.blob.filesystem import FilesystemBlobStore

        return FilesystemBlobStore(settings.home_dir / "blobs")
    from shared.blob.azureblob import AzureBlobStore

    return AzureBlobStore.from_settings(settings)


@dataclass
class Providers:
    """The three data-plane providers a dispatcher, reconciler or sidecar works with."""

    bus: MessageBus
    metadata: MetadataStore
    blob: BlobStore

    @classmethod
    def open(cls, settings: IonSettings) -> Providers:
        return cls(open_bus(settings), open_metadata(settings), open_blob(settings))

    @classmethod
    def lazy(cls, settings: IonSettings) -> LazyProviders:
        """Providers opened on first use: a sidecar answers /healthz before any SDK loads or connects."""
        return LazyProviders(settings)

    def close(self) -> None:
        for provider in (self.bus, self.metadata, self.blob):
            provider.close()


class _Opened:
    """A provider slot that opens once, on first use; a failed open is tried again on the next use."""

    def __init__(self, opener: Callable[[IonSettings], Any], settings: IonSettings) -> None:
        self._opener = opener
        self._settings = settings
        self._lock = threading.Lock()
        self.value: Any = None

    def get(self) -> Any:
        if self.value is None:
            with self._lock:
                if self.value is None:
                    self.value = self._opener(self._settings)
        return self.value


class LazyProviders(Providers):
    """Providers that open each store when it is first needed (the sidecar's /ready or /done).

    A sidecar starts without importing the Azure SDKs or contacting any service, so a job is never
    held up by a slow or unreachable provider before its module even asks for its inputs; a provider
    that cannot be opened then fails the call that needed it with a clear (secret-free) error.
    """

    def __init__(self, settings: IonSettings) -> None:
        self._slots = {
            "bus": _Opened(open_bus, settings),
            "metadata": _Opened(open_metadata, settings),
            "blob": _Opened(open_blob, settings),
        }

    @property
    def bus(self) -> MessageBus:  # type: ignore[override]
        value: MessageBus = self._slots["bus"].get()
        return value

    @property
    def metadata(self) -> MetadataStore:  # type: ignore[override]
        value: MetadataStore = self._slots["metadata"].get()
        return value

    @property
    def blob(self) -> BlobStore:  # type: ignore[override]
        value: BlobStore = self._slots["blob"].get()
        return value

    def open_ahead(self, *kinds: str) -> None:
        """Open some providers now, before their first use; on the thread that will use them where it
        matters (the embedded stores keep a connection per thread).

        A failure is only logged: the call that needs the provider opens it again and reports it.
        """
        for kind in kinds:
            try:
                self._slots[kind].get()
                log.info("%s provider open", kind)
            except Exception as error:
                log.warning("opening the %s provider ahead of use failed (retried on first use): %s",
                            kind, error)

    def close(self) -> None:
        for slot in self._slots.values():
            if slot.value is not None:
                slot.value.close()
