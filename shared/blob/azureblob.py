"""Azure Blob Storage provider: files stream in fixed-size blocks, so memory stays flat in file size."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import unquote, urlsplit

from shared.blob.base import BlobStore, check_blob_name, write_local
from shared.errors import ConfigurationError, InvalidName, NotFound, TransientError
from shared.redact import first_line, scrubbed
from shared.settings import IonSettings

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient, ContainerClient

SERVICE = "Azure Blob Storage"
SETTING = "AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_URL"

# Transfer tuning: blocks of 4 MiB, at most `max_concurrency` in flight per transfer. Anything above
# the single-shot size is chunked, so peak memory is about block size x concurrency, not file size.
BLOCK_SIZE = 4 * 1024 * 1024
SINGLE_SHOT_SIZE = 8 * 1024 * 1024
MAX_CONCURRENCY = 4
# First contact gives up quickly: a wrong account or an unreachable endpoint is a configuration problem.
# (No retry: the storage retry policy's first back-off alone is 15 s.)
FIRST_CONTACT: dict[str, Any] = {"connection_timeout": 5, "read_timeout": 15, "retry_total": 0}


def _client_options() -> dict[str, Any]:
    return {
        "max_block_size": BLOCK_SIZE,
        "max_single_put_size": SINGLE_SHOT_SIZE,
        "max_chunk_get_size": BLOCK_SIZE,
        "max_single_get_size": SINGLE_SHOT_SIZE,
        "connection_timeout": 20,
    }


class AzureBlobStore(BlobStore):
    """Blobs in one container; the URL recorded in event contexts is the blob's own URL."""

    def __init__(self, service: BlobServiceClient, container: str, max_concurrency: int = MAX_CONCURRENCY):
        self._service = service
        self._container: ContainerClient = service.get_container_client(container)
        self._max_concurrency = max_concurrency
        self._prefix = self._container.url.rstrip("/") + "/"

    @classmethod
    def from_settings(cls, settings: IonSettings) -> AzureBlobStore:
        from azure.storage.blob import BlobServiceClient

        secret = settings.storage_connection_string.get_secret_value() if (
            settings.storage_connection_string
        ) else None
        if secret:
            try:
                service = BlobServiceClient.from_connection_string(secret, **_client_options())
            except (ValueError, TypeError, KeyError) as exc:
                raise ConfigurationError(
                    SERVICE, "AZURE_STORAGE_CONNECTION_STRING", "the connection string is malformed"
                ) from scrubbed(exc, secret)
        elif settings.storage_account_url:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential(managed_identity_client_id=settings.azure_client_id)
            try:
                service = BlobServiceClient(settings.storage_account_url, credential, **_client_options())
            except ValueError as exc:
                raise ConfigurationError(
                    SERVICE, "AZURE_STORAGE_ACCOUNT_URL", f"the account URL is invalid ({exc})"
                ) from None
        else:
            raise ConfigurationError(SERVICE, SETTING, "neither is set")
        store = cls(service, settings.blob_container)
        store.ensure_container(secret)
        return store

    def ensure_container(self, secret: str | None = None) -> None:
        """Create the container if missing; the first call to the service, so it fails fast and clearly."""
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            ResourceExistsError,
            ServiceRequestError,
        )

        setting = "AZURE_STORAGE_CONNECTION_STRING" if secret else "AZURE_STORAGE_ACCOUNT_URL"
        try:
            self._container.create_container(**FIRST_CONTACT)
        except ResourceExistsError:
            pass
        except ClientAuthenticationError as exc:
            raise ConfigurationError(
                SERVICE, setting, "the service refused the credentials (wrong account key or identity)"
            ) from scrubbed(exc, secret)
        except ServiceRequestError as exc:
            raise ConfigurationError(
                SERVICE, setting, f"cannot reach {self._service.url} ({first_line(exc, secret)})"
            ) from scrubbed(exc, secret)
        except (ValueError, TypeError) as exc:
            # e.g. an account key that is not base64: the request cannot even be signed.
            raise ConfigurationError(
                SERVICE, setting, "the credentials are malformed (the account key must be base64)"
            ) from scrubbed(exc, secret)
        except HttpResponseError as exc:
            if exc.status_code in (401, 403):
                raise ConfigurationError(
                    SERVICE, setting,
                    f"the service refused the credentials (HTTP {exc.status_code})",
                ) from scrubbed(exc, secret)
            raise ConfigurationError(
                SERVICE, f"{setting} or ION_BLOB_CONTAINER",
                f"cannot create container {self._container.container_name!r} "
                f"(HTTP {exc.status_code}: {exc.reason})",
            ) from scrubbed(exc, secret)

    def put(self, path: Path, name: str) -> str:
        check_blob_name(name)
        blob = self._container.get_blob_client(name)
        size = Path(path).stat().st_size
        with open(path, "rb") as stream, _transient():
            blob.upload_blob(stream, length=size, overwrite=True, max_concurrency=self._max_concurrency)
        return str(blob.url)

    def get(self, name: str, path: Path) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        check_blob_name(name)
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with _transient():  # the first request: a missing blob fails here, before any local file
                downloader = self._container.get_blob_client(name).download_blob(
                    max_concurrency=self._max_concurrency
                )
        except ResourceNotFoundError:
            raise NotFound(f"blob {name!r} does not exist") from None

        def fill(stream: BinaryIO) -> None:
            with _transient():
                downloader.readinto(stream)

        write_local(target, fill)

    def url(self, name: str) -> str:
        check_blob_name(name)
        return str(self._container.get_blob_client(name).url)

    def name_from_url(self, url: str) -> str:
        if not url.startswith(self._prefix):
            raise InvalidName(f"URL {url!r} is not in container {self._prefix!r}")
        parts = urlsplit(url)
        if parts.query or parts.fragment:
            raise InvalidName(f"URL {url!r} carries a query or fragment; expected a plain blob URL")
        return check_blob_name(unquote(url[len(self._prefix):]))

    def exists(self, name: str) -> bool:
        check_blob_name(name)
        with _transient():
            return bool(self._container.get_blob_client(name).exists())

    def delete_container(self) -> None:
        """Remove the container and every blob in it (test tear-down, decommissioning)."""
        from azure.core.exceptions import ResourceNotFoundError

        with contextlib.suppress(ResourceNotFoundError), _transient():
            self._container.delete_container()

    def close(self) -> None:
        self._service.close()


@contextlib.contextmanager
def _transient() -> Any:
    """Service errors after the SDK's own retries become TransientError: a later attempt may succeed."""
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError

    try:
        yield
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise TransientError(f"{SERVICE}: {type(exc).__name__}: {exc}") from exc
