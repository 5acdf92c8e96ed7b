"""Misconfigured or unreachable services fail fast with a ConfigurationError naming the service and the
setting to check, and the key, password or connection string never shows in the error or the logs."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import SecretStr

from shared.blob.azureblob import AzureBlobStore
from shared.errors import ConfigurationError
from shared.messaging.servicebus import ServiceBusBus
from shared.metadata.cosmos import CosmosMetadata
from shared.metadata.mongodb import MongoMetadata
from shared.settings import IonSettings
from tests.emulators import Azurite, Cosmium, free_port

# Recognisable fake secrets: valid base64 (so the SDKs get as far as using them), never real.
FAKE_KEY = "RkFLRUtFWWZvcmlvbnRlc3RzMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA="
FAKE_PASSWORD = "FAKEPASSWORDforiontests"
NOT_BASE64_KEY = "FAKE!KEY!not-base64!forIonTests"


def closed_port() -> int:
    return free_port()  # nothing listens there once the probe socket is closed


def expect_configuration_error(
    caplog: pytest.LogCaptureFixture, open_provider: Callable[[], Any], service: str, setting: str,
    *secrets: str,
) -> ConfigurationError:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigurationError) as caught:
        open_provider()
    error = caught.value
    logging.getLogger("test").error("provider failed", exc_info=error)
    shown = "".join(traceback.format_exception(error)) + str(error) + caplog.text
    assert error.service == service
    assert setting in error.setting
    assert str(error).startswith(f"{service}: ")
    assert f"check {error.setting}" in str(error)
    for secret in secrets:
        assert secret not in shown
    return error


# -- Blob Storage -----------------------------------------------------------------------------


def blob_settings(connection_string: str) -> IonSettings:
    return IonSettings(ION_BLOB="azureblob", AZURE_STORAGE_CONNECTION_STRING=SecretStr(connection_string))


def test_blob_unreachable_endpoint(caplog: pytest.LogCaptureFixture) -> None:
    conn = (f"DefaultEndpointsProtocol=http;AccountName=fakeacct;AccountKey={FAKE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{closed_port()}/fakeacct;")
    error = expect_configuration_error(
        caplog, lambda: AzureBlobStore.from_settings(blob_settings(conn)),
        "Azure Blob Storage", "AZURE_STORAGE_CONNECTION_STRING", FAKE_KEY, conn,
    )
    assert "cannot reach" in error.problem


def test_blob_wrong_key_is_refused(caplog: pytest.LogCaptureFixture, azurite: Azurite) -> None:
    conn = azurite.connection_string.replace(azurite.key, FAKE_KEY)
    error = expect_configuration_error(
        caplog, lambda: AzureBlobStore.from_settings(blob_settings(conn)),
        "Azure Blob Storage", "AZURE_STORAGE_CONNECTION_STRING", FAKE_KEY, conn,
    )
    assert "credentials" in error.problem


@pytest.mark.parametrize(
    "conn",
    [f"this is not a connection string {FAKE_KEY}",
     f"DefaultEndpointsProtocol=http;AccountName=a;AccountKey={NOT_BASE64_KEY};BlobEndpoint=http://127.0.0.1:1/a;"],
)
def test_blob_malformed_connection_string(caplog: pytest.LogCaptureFixture, conn: str) -> None:
    expect_configuration_error(
        caplog, lambda: AzureBlobStore.from_settings(blob_settings(conn)),
        "Azure Blob Storage", "AZURE_STORAGE_CONNECTION_STRING", FAKE_KEY, NOT_BASE64_KEY, conn,
    )


def test_blob_nothing_configured(caplog: pytest.LogCaptureFixture) -> None:
    expect_configuration_error(
        caplog, lambda: AzureBlobStore.from_settings(IonSettings(ION_BLOB="azureblob")),
        "Azure Blob Storage", "AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_URL",
    )


# -- MongoDB ----------------------------------------------------------------------------------


def mongo_settings(uri: str) -> IonSettings:
    return IonSettings(ION_METADATA="mongodb", MONGODB_URI=SecretStr(uri))


def test_mongodb_unreachable_server(caplog: pytest.LogCaptureFixture) -> None:
    uri = f"mongodb://ion:{FAKE_PASSWORD}@127.0.0.1:{closed_port()}/?retryWrites=false"
    error = expect_configuration_error(
        caplog, lambda: MongoMetadata.from_settings(mongo_settings(uri)), "MongoDB", "MONGODB_URI",
        FAKE_PASSWORD, uri,
    )
    assert "cannot reach 127.0.0.1" in error.problem


@pytest.mark.parametrize(
    "uri",
    [f"postgres://ion:{FAKE_PASSWORD}@127.0.0.1/", f"mongodb://ion:{FAKE_PASSWORD}@127.0.0.1:notaport/"],
)
def test_mongodb_malformed_uri(caplog: pytest.LogCaptureFixture, uri: str) -> None:
    expect_configuration_error(
        caplog, lambda: MongoMetadata.from_settings(mongo_settings(uri)), "MongoDB", "MONGODB_URI",
        FAKE_PASSWORD, uri,
    )


def test_mongodb_not_configured(caplog: pytest.LogCaptureFixture) -> None:
    expect_configuration_error(
        caplog, lambda: MongoMetadata.from_settings(IonSettings(ION_METADATA="mongodb")), "MongoDB", "MONGODB_URI"
    )


# -- Cosmos DB --------------------------------------------------------------------------------


def cosmos_settings(endpoint: str, key: str) -> IonSettings:
    return IonSettings(ION_METADATA="cosmos", COSMOS_ENDPOINT=endpoint, COSMOS_KEY=SecretStr(key))


def test_cosmos_unreachable_endpoint(caplog: pytest.LogCaptureFixture) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}/"
    error = expect_configuration_error(
        caplog, lambda: CosmosMetadata.from_settings(cosmos_settings(endpoint, FAKE_KEY)),
        "Azure Cosmos DB", "COSMOS_ENDPOINT", FAKE_KEY,
    )
    assert "cannot reach" in error.problem


@pytest.mark.parametrize("key", [FAKE_KEY, NOT_BASE64_KEY])
def test_cosmos_wrong_key_is_refused(caplog: pytest.LogCaptureFixture, cosmium: Cosmium, key: str) -> None:
    expect_configuration_error(
        caplog, lambda: CosmosMetadata.from_settings(cosmos_settings(cosmium.endpoint, key)),
        "Azure Cosmos DB", "COSMOS_KEY", key,
    )


def test_cosmos_not_configured(caplog: pytest.LogCaptureFixture) -> None:
    expect_configuration_error(
        caplog, lambda: CosmosMetadata.from_settings(IonSettings(ION_METADATA="cosmos")),
        "Azure Cosmos DB", "COSMOS_ENDPOINT",
    )


# -- Service Bus ------------------------------------------------------------------------------


def servicebus_settings(connection_string: str) -> IonSettings:
    return IonSettings(ION_MESSAGING="servicebus", SERVICEBUS_CONNECTION_STRING=SecretStr(connection_string))


def test_servicebus_unreachable_namespace(caplog: pytest.LogCaptureFixture) -> None:
    conn = (f"Endpoint=sb://127.0.0.1:{closed_port()}/;SharedAccessKeyName=RootManageSharedAccessKey;"
            f"SharedAccessKey={FAKE_KEY}")
    error = expect_configuration_error(
        caplog, lambda: ServiceBusBus.from_settings(servicebus_settings(conn)),
        "Azure Service Bus", "SERVICEBUS_CONNECTION_STRING", FAKE_KEY, conn,
    )
    assert "cannot reach" in error.problem


@pytest.mark.parametrize("conn", [f"not a connection string {FAKE_KEY}", f"SharedAccessKey={FAKE_KEY}"])
def test_servicebus_malformed_connection_string(caplog: pytest.LogCaptureFixture, conn: str) -> None:
    expect_configuration_error(
        caplog, lambda: ServiceBusBus.from_settings(servicebus_settings(conn)),
        "Azure Service Bus", "SERVICEBUS_CONNECTION_STRING", FAKE_KEY, conn,
    )


def test_servicebus_not_configured(caplog: pytest.LogCaptureFixture) -> None:
    expect_configuration_error(
        caplog, lambda: ServiceBusBus.from_settings(IonSettings(ION_MESSAGING="servicebus")),
        "Azure Service Bus", "SERVICEBUS_CONNECTION_STRING or SERVICEBUS_FULLY_QUALIFIED_NAMESPACE",
    )
