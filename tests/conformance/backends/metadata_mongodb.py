"""The MongoDB metadata store on FerretDB (SQLite backend), a fresh database per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pydantic import SecretStr

from shared.metadata.mongodb import MongoMetadata
from shared.settings import IonSettings


@contextmanager
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MongoMetadata]:
    server = request.getfixturevalue("ferretdb")
    database = f"ion_{uuid.uuid4().hex[:16]}"
    settings = IonSettings(ION_METADATA="mongodb", MONGODB_URI=SecretStr(server.uri), MONGODB_DATABASE=database)
    store = MongoMetadata.from_settings(settings)
    try:
        yield store
    finally:
        store._client.drop_database(database)
        store.close()
