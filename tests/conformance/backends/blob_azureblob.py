"""The Azure Blob Storage store on Azurite, a fresh container per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pydantic import SecretStr

from shared.blob.azureblob import AzureBlobStore
from shared.settings import IonSettings


@contextmanager
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AzureBlobStore]:
    azurite = request.getfixturevalue("azurite")
    container = f"ion-{uuid.uuid4().hex[:20]}"
    settings = IonSettings(
        ION_BLOB="azureblob", AZURE_STORAGE_CONNECTION_STRING=SecretStr(azurite.connection_string),
        ION_BLOB_CONTAINER=container,
    )
    store = AzureBlobStore.from_settings(settings)
    try:
        yield store
    finally:
        store.delete_container()
        store.close()
