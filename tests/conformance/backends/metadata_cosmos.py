"""The Cosmos DB (NoSQL) metadata store on cosmium, a fresh database per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pydantic import SecretStr

from shared.metadata.cosmos import CosmosMetadata
from shared.settings import IonSettings


@contextmanager
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CosmosMetadata]:
    server = request.getfixturevalue("cosmium")
    database = f"ion-{uuid.uuid4().hex[:16]}"
    settings = IonSettings(
        ION_METADATA="cosmos", COSMOS_ENDPOINT=server.endpoint, COSMOS_KEY=SecretStr(server.key),
        COSMOS_DATABASE=database,
    )
    store = CosmosMetadata.from_settings(settings)
    try:
        yield store
    finally:
        store._client.delete_database(database)
        store.close()
