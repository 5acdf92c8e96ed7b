"""Azure Cosmos DB (NoSQL API) metadata store.

Partition keys follow the access paths:

- `event_contexts` and `jobs` are partitioned by `/id` (the event id, the job id). Their hot paths
  are point operations by id: the dispatcher reads and creates job records on every message, the
  reconciler updates them, the sidecar reads the triggering event's context on every job. With the
  id as partition key each of these is a single-partition point read or write, and the conditional
  create and the etag-checked replace of a job need nothing but its id.
- `insights` are partitioned by `/correlation_id`: they are written once and only ever read by
  workflow, so the trace query for insights stays within one partition.

The price is that `event_contexts(correlation_id)` and `jobs(correlation_id)` (the trace view) and
the reconciler's `active_jobs` fan out across partitions; they are rare, interactive or periodic.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from shared.errors import ConfigurationError, NotFound, TransientError
from shared.metadata.base import ACTIVE_STATUSES, CLEANUP_STATUSES, Conflict, MetadataStore
from shared.metadata.mongodb import sort_key
from shared.models import EventContext, Insight, JobRecord
from shared.settings import IonSettings

if TYPE_CHECKING:
    from azure.cosmos import ContainerProxy, CosmosClient

SERVICE = "Azure Cosmos DB"
M = TypeVar("M", bound=BaseModel)
FIRST_CONTACT: dict[str, Any] = {"connection_timeout": 5, "timeout": 20, "retry_total": 1}
CONTAINERS = {"event_contexts": "/id", "jobs": "/id", "insights": "/correlation_id"}
# Keys Ion adds to a record's JSON form, and those Cosmos DB adds itself.
STORE_KEYS = {"id", "created_key", "finished_key", "_rid", "_self", "_etag", "_attachments", "_ts"}


class CosmosMetadata(MetadataStore):
    def __init__(self, client: CosmosClient, database: str) -> None:
        self._client = client
        self._database_name = database
        self._containers: dict[str, ContainerProxy] = {}

    @classmethod
    def from_settings(cls, settings: IonSettings) -> CosmosMetadata:
        from azure.cosmos import CosmosClient

        if not settings.cosmos_endpoint:
            raise ConfigurationError(SERVICE, "COSMOS_ENDPOINT", "it is not set")
        key = settings.cosmos_key.get_secret_value() if settings.cosmos_key else None
        setting = "COSMOS_ENDPOINT and COSMOS_KEY" if key else "COSMOS_ENDPOINT (and the managed identity)"
        credential: Any
        if key:
            credential = key
        else:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential(managed_identity_client_id=settings.azure_client_id)
        try:
            client = CosmosClient(settings.cosmos_endpoint, credential, **FIRST_CONTACT)
        except Exception as exc:
            raise _configuration_error(exc, setting, settings.cosmos_endpoint) from None
        store = cls(client, settings.cosmos_database)
        try:
            store.ensure_containers()
        except Exception as exc:
            raise _configuration_error(exc, setting, settings.cosmos_endpoint) from None
        return store

    def ensure_containers(self) -> None:
        """Create the database and containers if missing (idempotent).

        A managed identity with a data-plane role may not create them (HTTP 403): then they must have
        been deployed (infra/ creates them), and reading their metadata checks that they exist.
        """
        from azure.cosmos import PartitionKey
        from azure.cosmos.exceptions import CosmosHttpResponseError

        try:
            db = self._client.create_database_if_not_exists(self._database_name)
            containers = {
                name: db.create_container_if_not_exists(name, PartitionKey(path=path))
                for name, path in CONTAINERS.items()
            }
        except CosmosHttpResponseError as exc:
            if exc.status_code != 403:
                raise
            db = self._client.get_database_client(self._database_name)
            containers = {name: db.get_container_client(name) for name in CONTAINERS}
            for container in containers.values():
                container.read()
        self._containers = containers

    def _container(self, name: str) -> ContainerProxy:
        if not self._containers:
            with _transient():
                self.ensure_containers()
        return self._containers[name]

    # -- event contexts ---------------------------------------------------------------------------
    def put_event_context(self, context: EventContext) -> None:
        with _transient():
            self._container("event_contexts").upsert_item(_document(context.id, context))

    def get_event_context(self, event_id: str) -> EventContext | None:
        document = self._read("event_contexts", event_id)
        return _model(EventContext, document) if document else None

    def event_contexts(self, correlation_id: str) -> list[EventContext]:
        found = self._query("event_contexts", "c.correlation_id = @c", {"@c": correlation_id})
        return [_model(EventContext, d) for d in found]

    # -- insights ---------------------------------------------------------------------------------
    def put_insight(self, insight: Insight) -> None:
        with _transient():
            self._container("insights").upsert_item(_document(insight.execution_id, insight))

    def insights(self, correlation_id: str) -> list[Insight]:
        found = self._query("insights", "c.correlation_id = @c", {"@c": correlation_id}, partition=correlation_id)
        return [_model(Insight, d) for d in found]

    # -- job records ------------------------------------------------------------------------------
    def create_job(self, record: JobRecord) -> bool:
        from azure.cosmos.exceptions import CosmosResourceExistsError

        # Create fails with 409 when the id exists: the service makes create-if-absent atomic.
        try:
            with _transient():
                self._container("jobs").create_item(_job_document(record))
        except CosmosResourceExistsError:
            return False
        return True

    def get_job(self, job_id: str) -> JobRecord | None:
        document = self._read("jobs", job_id)
        return _model(JobRecord, document) if document else None

    def update_job(self, record: JobRecord) -> JobRecord:
        from azure.core import MatchConditions
        from azure.cosmos.exceptions import CosmosAccessConditionFailedError, CosmosResourceNotFoundError

        current = self._read("jobs", record.job_id)
        if current is None:
            raise NotFound(f"job {record.job_id!r} does not exist")
        if current.get("version") != record.version:
            raise Conflict(f"job {record.job_id!r} changed since version {record.version} was read")
        updated = record.model_copy(update={"version": record.version + 1})
        # The etag of the version just checked: a concurrent update in between fails with 412.
        try:
            with _transient():
                self._container("jobs").replace_item(
                    record.job_id,
                    _job_document(updated),
                    etag=current["_etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
        except CosmosAccessConditionFailedError:
            raise Conflict(f"job {record.job_id!r} changed since version {record.version} was read") from None
        except CosmosResourceNotFoundError:
            raise NotFound(f"job {record.job_id!r} does not exist") from None
        return updated

    def jobs(self, correlation_id: str) -> list[JobRecord]:
        found = self._query("jobs", "c.correlation_id = @c", {"@c": correlation_id})
        return [_model(JobRecord, d) for d in found]

    def active_jobs(self, limit: int = 1000) -> list[JobRecord]:
        found = self._query(
            "jobs", f"c.status IN ({_names('s', ACTIVE_STATUSES)})", _values("s", ACTIVE_STATUSES), limit=limit
        )
        return [_model(JobRecord, d) for d in found]

    def jobs_due_cleanup(self, finished_before: datetime, limit: int = 100) -> list[JobRecord]:
        found = self._query(
            "jobs",
            f"c.status IN ({_names('s', CLEANUP_STATUSES)}) AND c.cleaned_up = false AND c.finished_key < @before",
            {**_values("s", CLEANUP_STATUSES), "@before": sort_key(finished_before)},
            order="finished_key",
            limit=limit,
        )
        return [_model(JobRecord, d) for d in found]

    def close(self) -> None:
        self._client.close()

    # -- helpers ----------------------------------------------------------------------------------
    def _read(self, container: str, item_id: str) -> dict[str, Any] | None:
        from azure.cosmos.exceptions import CosmosResourceNotFoundError

        try:
            with _transient():
                return dict(self._container(container).read_item(item_id, partition_key=item_id))
        except CosmosResourceNotFoundError:
            return None

    def _query(
        self,
        container: str,
        where: str,
        parameters: dict[str, Any],
        *,
        partition: str | None = None,
        order: str = "created_key",
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        query = f"SELECT * FROM c WHERE {where} ORDER BY c.{order} ASC"
        if limit is not None:
            query = f"SELECT TOP {int(limit)} * FROM c WHERE {where} ORDER BY c.{order} ASC"
        options: dict[str, Any] = (
            {"partition_key": partition} if partition is not None else {"enable_cross_partition_query": True}
        )
        with _transient():
            items = self._container(container).query_items(
                query, parameters=[{"name": k, "value": v} for k, v in parameters.items()], **options
            )
            found = [dict(item) for item in items]
        # Sorted again here: the order is part of the contract, whatever the server's query engine does.
        found.sort(key=lambda d: (d.get(order) or "", d.get("id") or ""))
        return found[:limit] if limit is not None else found


def _names(prefix: str, values: Sequence[str]) -> str:
    return ", ".join(f"@{prefix}{i}" for i in range(len(values)))


def _values(prefix: str, values: Sequence[str]) -> dict[str, Any]:
    # Every value travels as a query parameter, never spliced into the query text.
    return {f"@{prefix}{i}": value for i, value in enumerate(values)}


def _document(key: str, model: BaseModel) -> dict[str, Any]:
    body = model.model_dump(mode="json")
    created = getattr(model, "created_at", None)
    body["created_key"] = sort_key(created) if created else ""
    body["id"] = key
    return body


def _job_document(record: JobRecord) -> dict[str, Any]:
    document = _document(record.job_id, record)
    document["finished_key"] = sort_key(record.finished_at or record.updated_at)
    return document


def _model(cls: type[M], document: dict[str, Any]) -> M:
    body = {k: v for k, v in document.items() if k not in STORE_KEYS}
    if cls is EventContext:
        body["id"] = document["id"]  # an event context's own id is the document id
    return cls.model_validate(body)


@contextlib.contextmanager
def _transient() -> Iterator[None]:
    """Throttling, timeouts and lost connections left after the SDK's own retries: retry later."""
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError
    from azure.cosmos.exceptions import CosmosHttpResponseError

    try:
        yield
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise TransientError(f"{SERVICE}: {type(exc).__name__}") from exc
    except CosmosHttpResponseError as exc:
        if exc.status_code in (408, 429, 449, 500, 503):
            raise TransientError(f"{SERVICE}: HTTP {exc.status_code}") from exc
        raise


def _configuration_error(exc: BaseException, setting: str, endpoint: str) -> ConfigurationError:
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
    from azure.cosmos.exceptions import CosmosHttpResponseError

    if isinstance(exc, ClientAuthenticationError):
        problem = "the account refused the credentials"
    elif isinstance(exc, CosmosHttpResponseError) and exc.status_code in (401, 403):
        problem = f"the account refused the credentials (HTTP {exc.status_code})"
    elif isinstance(exc, ServiceRequestError):
        problem = f"cannot reach {endpoint}"
    elif isinstance(exc, CosmosHttpResponseError):
        problem = f"the account answered HTTP {exc.status_code}"
    elif isinstance(exc, ValueError | TypeError):
        problem = "the endpoint or key is malformed (the key must be base64)"
    else:
        problem = f"cannot connect ({type(exc).__name__})"
    return ConfigurationError(SERVICE, setting, problem)  # the texts above never hold the key

