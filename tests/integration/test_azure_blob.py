"""The Azure Blob Storage provider against Azurite: streaming, container creation, URLs."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import BinaryIO

import pytest
from azure.core.exceptions import ServiceResponseError
from azure.storage.blob import BlobServiceClient, StorageStreamDownloader

from shared.blob.azureblob import BLOCK_SIZE, AzureBlobStore
from shared.blob.base import TEMP_PREFIX
from shared.errors import InvalidName, NotFound, TransientError
from shared.settings import IonSettings
from tests.emulators import Azurite


def _settings(azurite: Azurite, container: str) -> IonSettings:
    return IonSettings.model_validate(
        {"ION_BLOB": "azureblob", "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
         "ION_BLOB_CONTAINER": container}
    )


@pytest.fixture
def container() -> str:
    return f"t{uuid.uuid4().hex[:20]}"


def test_from_settings_creates_the_missing_container(azurite: Azurite, container: str) -> None:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    assert not service.get_container_client(container).exists()
    store = AzureBlobStore.from_settings(_settings(azurite, container))
    assert service.get_container_client(container).exists()
    # A second start finds the container and is fine with it.
    AzureBlobStore.from_settings(_settings(azurite, container)).close()
    store.close()


def test_large_file_is_uploaded_in_blocks_and_round_trips(
    azurite: Azurite, container: str, tmp_path: Path
) -> None:
    store = AzureBlobStore.from_settings(_settings(azurite, container))
    source = tmp_path / "big.bin"
    payload = os.urandom(3 * BLOCK_SIZE + 12345)  # above the single-shot size: staged blocks
    source.write_bytes(payload)
    url = store.put(source, "corr/ev/mod/big.bin")
    blocks = (
        BlobServiceClient.from_connection_string(azurite.connection_string)
        .get_blob_client(container, "corr/ev/mod/big.bin")
        .get_block_list("committed")[0]
    )
    assert len(blocks) == 4
    target = tmp_path / "out" / "nested" / "big.bin"
    store.get(store.name_from_url(url), target)
    assert target.read_bytes() == payload
    assert not list(target.parent.glob(".*partial"))


def test_a_get_cut_off_mid_transfer_leaves_no_partial_file_and_keeps_an_existing_one(
    azurite: Azurite, container: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = AzureBlobStore.from_settings(_settings(azurite, container))
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(2 * BLOCK_SIZE + 1))
    store.put(source, "corr/ev/mod/big.bin")
    existing = tmp_path / "in" / "existing.bin"
    existing.parent.mkdir()
    existing.write_bytes(b"old")

    # The real first request to Azurite; then the connection drops after the first block arrived.
    written_to: list[str] = []

    def cut_off(downloader: StorageStreamDownloader, stream: BinaryIO) -> int:
        written_to.append(Path(stream.name).name)
        stream.write(b"x" * BLOCK_SIZE)
        raise ServiceResponseError("connection reset by peer")

    monkeypatch.setattr(StorageStreamDownloader, "readinto", cut_off)
    for target in (tmp_path / "in" / "new.bin", existing):
        with pytest.raises(TransientError):
            store.get("corr/ev/mod/big.bin", target)
    # A new file is written in place, an existing one beside it under a fresh name.
    assert written_to[0] == "new.bin"
    assert written_to[1].startswith(TEMP_PREFIX)
    assert os.listdir(tmp_path / "in") == ["existing.bin"]
    assert existing.read_bytes() == b"old"

    monkeypatch.undo()
    store.get("corr/ev/mod/big.bin", existing)
    assert existing.read_bytes() == source.read_bytes()
    store.close()


def test_url_is_the_blob_url_and_round_trips_awkward_names(
    azurite: Azurite, container: str, tmp_path: Path
) -> None:
    store = AzureBlobStore.from_settings(_settings(azurite, container))
    name = "c/e/m/sub dir/ä #1.txt"
    (tmp_path / "f").write_text("x")
    url = store.put(tmp_path / "f", name)
    assert url.startswith(f"{azurite.blob_endpoint}/{container}/")
    assert url == store.url(name)
    assert store.name_from_url(url) == name
    assert store.exists(name)
    assert not store.exists("c/e/m/other")


def test_foreign_urls_are_rejected(azurite: Azurite, container: str) -> None:
    store = AzureBlobStore.from_settings(_settings(azurite, container))
    with pytest.raises(InvalidName):
        store.name_from_url(f"{azurite.blob_endpoint}/othercontainer/a/b")
    with pytest.raises(InvalidName):
        store.name_from_url(f"http://127.0.0.1:1/otheraccount/{container}/a/b")
    with pytest.raises(InvalidName):
        store.name_from_url(f"{azurite.blob_endpoint}/{container}/a/../../x")


def test_missing_blob_is_not_found_and_leaves_no_file(
    azurite: Azurite, container: str, tmp_path: Path
) -> None:
    store = AzureBlobStore.from_settings(_settings(azurite, container))
    with pytest.raises(NotFound):
        store.get("no/such/blob", tmp_path / "x")
    assert list(tmp_path.iterdir()) == []
