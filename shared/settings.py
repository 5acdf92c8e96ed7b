"""Ion's configuration, read from the environment; the variable names are a public interface."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class IonSettings(BaseSettings):
    """Core settings. Executors keep their own settings classes beside their code."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    home: Path = Field(default=Path(".ion"), validation_alias="ION_HOME")
    messaging: Literal["sqlite", "memory", "servicebus"] = Field(
        default="sqlite", validation_alias="ION_MESSAGING"
    )
    metadata: Literal["sqlite", "memory", "mongodb", "cosmos"] = Field(
        default="sqlite", validation_alias="ION_METADATA"
    )
    blob: Literal["filesystem", "azureblob"] = Field(default="filesystem", validation_alias="ION_BLOB")
    modules: Path = Field(default=Path("modules.yaml"), validation_alias="ION_MODULES")

    # Azure Service Bus
    servicebus_connection_string: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SERVICEBUS_CONNECTION_STRING", "ServiceBusConnection"),
    )
    servicebus_namespace: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "SERVICEBUS_FULLY_QUALIFIED_NAMESPACE", "ServiceBusConnection__fullyQualifiedNamespace"
        ),
    )
    # MongoDB / Cosmos DB for MongoDB
    mongodb_uri: SecretStr | None = Field(default=None, validation_alias="MONGODB_URI")
    mongodb_database: str = Field(default="ion", validation_alias="MONGODB_DATABASE")
    # Azure Cosmos DB (NoSQL)
    cosmos_endpoint: str | None = Field(default=None, validation_alias="COSMOS_ENDPOINT")
    cosmos_key: SecretStr | None = Field(default=None, validation_alias="COSMOS_KEY")
    cosmos_database: str = Field(default="ion", validation_alias="COSMOS_DATABASE")
    # Azure Blob Storage
    storage_connection_string: SecretStr | None = Field(
        default=None, validation_alias="AZURE_STORAGE_CONNECTION_STRING"
    )
    storage_account_url: str | None = Field(default=None, validation_alias="AZURE_STORAGE_ACCOUNT_URL")
    blob_container: str = Field(default="ion", validation_alias="ION_BLOB_CONTAINER")
    # Managed identity: client id of a user-assigned identity for DefaultAzureCredential
    azure_client_id: str | None = Field(default=None, validation_alias="AZURE_CLIENT_ID")

    # Dispatch and reconcile
    max_delivery_count: int = Field(default=5, ge=1, validation_alias="ION_MAX_DELIVERY_COUNT")
    lock_seconds: float = Field(default=60.0, gt=0, validation_alias="ION_LOCK_SECONDS")
    max_event_bytes: int = Field(default=256 * 1024, ge=1024, validation_alias="ION_MAX_EVENT_BYTES")
    retention_seconds: float = Field(default=86400.0, ge=0, validation_alias="ION_RETENTION_SECONDS")
    reconcile_seconds: float = Field(default=1.0, gt=0, validation_alias="ION_RECONCILE_SECONDS")
    # Sidecar
    sidecar_grace_seconds: float = Field(default=2.0, ge=0, validation_alias="ION_SIDECAR_GRACE_SECONDS")
    sidecar_image: str = Field(default="ion-sidecar:latest", validation_alias="ION_SIDECAR_IMAGE")

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()


def split_csv(value: Any) -> Any:
    """A comma-separated setting as a list (a list passes through): for `mode="before"` validators."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def load_settings(**overrides: object) -> IonSettings:
    """Settings from the environment, with explicit overrides (CLI flags) taking precedence."""
    settings = IonSettings()
    return settings.model_copy(update=overrides) if overrides else settings
