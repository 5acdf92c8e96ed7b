"""`ion demo` with the Azure data-plane providers on emulators: blobs in Azurite, metadata in FerretDB
(MongoDB API) or cosmium (Cosmos DB NoSQL API), messaging embedded, modules run by the local executor."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pymongo
from azure.cosmos import CosmosClient
from azure.storage.blob import BlobServiceClient

from tests.e2e.ion_process import all_jobs, ion_env, run_ion
from tests.emulators import Azurite, Cosmium, FerretDB


def run_demo(env: dict[str, str]) -> dict[str, Any]:
    done = run_ion(["demo", "--json"], env, timeout=240)
    assert done.returncode == 0, done.stderr + done.stdout
    document: dict[str, Any] = json.loads(done.stdout)
    jobs = all_jobs(document)
    assert jobs and {job["status"] for job in jobs} == {"succeeded"}
    return document


def blob_env(azurite: Azurite, container: str) -> dict[str, str]:
    return {"ION_BLOB": "azureblob", "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
            "ION_BLOB_CONTAINER": container}


def correlation_of(document: dict[str, Any]) -> str:
    return str(document["correlation_id"])


def assert_outputs_are_blobs_in_azurite(azurite: Azurite, container: str, files: list[str]) -> None:
    client = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(container)
    stored = {blob.name for blob in client.list_blobs()}
    assert files
    for url in files:
        assert url.startswith(f"{client.url}/"), url
        assert unquote(url[len(client.url) + 1:]) in stored, url


def file_urls(documents: list[dict[str, Any]]) -> list[str]:
    """The blob URLs recorded in event contexts' and insights' `files` maps."""
    return [str(url) for document in documents for url in document.get("files", {}).values()]


def test_demo_on_azurite_and_ferretdb(tmp_path: Path, azurite: Azurite, ferretdb: FerretDB) -> None:
    container, database = f"demo-{uuid.uuid4().hex[:12]}", f"demo_{uuid.uuid4().hex[:12]}"
    env = ion_env(tmp_path, ION_METADATA="mongodb", MONGODB_URI=ferretdb.uri, MONGODB_DATABASE=database,
                  **blob_env(azurite, container))

    document = run_demo(env)

    correlation = correlation_of(document)
    db: Any = pymongo.MongoClient(ferretdb.uri)[database]
    recorded = [*db["event_contexts"].find({"correlation_id": correlation}),
                *db["insights"].find({"correlation_id": correlation})]
    assert_outputs_are_blobs_in_azurite(azurite, container, file_urls(recorded))
    jobs = list(db["jobs"].find({"correlation_id": correlation}))
    assert len(jobs) == len(all_jobs(document))
    assert {job["status"] for job in jobs} == {"succeeded"}
    assert db["insights"].count_documents({"correlation_id": correlation}) == len(jobs)
    assert db["event_contexts"].count_documents({"correlation_id": correlation}) == document["summary"]["events"]
    # Nothing was written to the embedded stores.
    assert not list(tmp_path.rglob("metadata.sqlite3"))
    assert not list(tmp_path.rglob("blobs"))


def test_demo_on_azurite_and_cosmium(tmp_path: Path, azurite: Azurite, cosmium: Cosmium) -> None:
    container, database = f"demo-{uuid.uuid4().hex[:12]}", f"demo-{uuid.uuid4().hex[:12]}"
    env = ion_env(tmp_path, ION_METADATA="cosmos", COSMOS_ENDPOINT=cosmium.endpoint, COSMOS_KEY=cosmium.key,
                  COSMOS_DATABASE=database, **blob_env(azurite, container))

    document = run_demo(env)

    correlation = correlation_of(document)
    db = CosmosClient(cosmium.endpoint, cosmium.key).get_database_client(database)
    query: dict[str, Any] = {"query": "SELECT * FROM c WHERE c.correlation_id = @c",
             "parameters": [{"name": "@c", "value": correlation}], "enable_cross_partition_query": True}
    jobs = list(db.get_container_client("jobs").query_items(**query))
    recorded = [*db.get_container_client("event_contexts").query_items(**query),
                *db.get_container_client("insights").query_items(**query)]
    assert_outputs_are_blobs_in_azurite(azurite, container, file_urls(recorded))
    assert len(jobs) == len(all_jobs(document))
    assert {job["status"] for job in jobs} == {"succeeded"}
