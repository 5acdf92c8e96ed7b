"""Open the providers named by the settings. Azure SDKs are imported only when chosen."""

from __future__ import annotations

from dataclasses import dataclass

from shared.blob.base import BlobStore
from shared.messaging.base import MessageBus
from shared.metadata.base import MetadataStore
from shared.settings import IonSettings


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

    def close(self) -> None:
        for provider in (self.bus, self.metadata, self.blob):
            provider.close()
