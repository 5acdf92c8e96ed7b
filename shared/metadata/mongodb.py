"""MongoDB metadata store; also runs on Azure Cosmos DB for MongoDB and FerretDB.

Each record is stored as its JSON form plus a few fixed-width sort keys. Keys of free-form maps
(event data, file names such as "image0.png") are escaped, because MongoDB-compatible servers
reject '.' and a leading '$' in field names.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel

from shared.errors import ConfigurationError, NotFound, TransientError
from shared.metadata.base import ACTIVE_STATUSES, CLEANUP_STATUSES, Conflict, MetadataStore
from shared.models import EventContext, Insight, JobRecord
from shared.settings import IonSettings

if TYPE_CHECKING:
    from pymongo import MongoClient
    from pymongo.collection import Collection
    from pymongo.database import Database

SERVICE = "MongoDB"
M = TypeVar("M", bound=BaseModel)
FIRST_CONTACT_MS = 5000
OLDEST_FIRST = [("created_key", 1), ("_id", 1)]


def sort_key(moment: datetime) -> str:
    """Fixed-width UTC timestamp: string order is time order (naive times are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def escape_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_escape(str(k)): escape_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_keys(v) for v in value]
    return value


def unescape_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_unescape(k): unescape_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unescape_keys(v) for v in value]
    return value


def _escape(key: str) -> str:
    key = key.replace("%", "%25").replace(".", "%2E")
    return "%24" + key[1:] if key.startswith("$") else key


def _unescape(key: str) -> str:
    return key.replace("%24", "$").replace("%2E", ".").replace("%25", "%")


class MongoMetadata(MetadataStore):
    """Collections `event_contexts`, `insights` and `jobs`, keyed by `_id` = event / execution / job id."""

    def __init__(self, client: MongoClient[dict[str, Any]], database: str) -> None:
        self._client = client
        self._db: Database[dict[str, Any]] = client[database]
        self._contexts: Collection[dict[str, Any]] = self._db["event_contexts"]
        self._insights: Collection[dict[str, Any]] = self._db["insights"]
        self._jobs: Collection[dict[str, Any]] = self._db["jobs"]

    @classmethod
    def from_settings(cls, settings: IonSettings) -> MongoMetadata:
        import pymongo
        from pymongo.errors import PyMongoError

        if settings.mongodb_uri is None or not settings.mongodb_uri.get_secret_value():
            raise ConfigurationError(SERVICE, "MONGODB_URI", "it is not set")
        uri = settings.mongodb_uri.get_secret_value()
        try:
            client: MongoClient[dict[str, Any]] = pymongo.MongoClient(
                uri,
                appname="ion",
                tz_aware=True,
                serverSelectionTimeoutMS=FIRST_CONTACT_MS,
                connectTimeoutMS=FIRST_CONTACT_MS,
            )
        except (PyMongoError, ValueError, TypeError) as exc:
            raise ConfigurationError(
                SERVICE, "MONGODB_URI", f"the URI is invalid ({redact(str(exc), uri)})"
            ) from None
        store = cls(client, settings.mongodb_database)
        store.ensure_indexes(uri)
        return store

    def ensure_indexes(self, uri: str | None = None) -> None:
        """Create the indexes the queries need (idempotent); the first call, so it fails fast."""
        from pymongo import ASCENDING
        from pymongo.errors import OperationFailure, PyMongoError, ServerSelectionTimeoutError

        try:
            self._db.command("ping")
            # _id already indexes event, execution and job ids uniquely.
            self._contexts.create_index([("correlation_id", ASCENDING), ("created_key", ASCENDING)])
            self._insights.create_index([("correlation_id", ASCENDING), ("created_key", ASCENDING)])
            self._jobs.create_index([("correlation_id", ASCENDING), ("created_key", ASCENDING)])
            self._jobs.create_index([("status", ASCENDING), ("created_key", ASCENDING)])
            self._jobs.create_index(
                [("status", ASCENDING), ("cleaned_up", ASCENDING), ("finished_key", ASCENDING)]
            )
        except ServerSelectionTimeoutError:
            raise ConfigurationError(
                SERVICE, "MONGODB_URI",
                f"cannot reach {_hosts(uri)} within {FIRST_CONTACT_MS / 1000:.0f}s",
            ) from None
        except OperationFailure as exc:
            problem = "authentication failed" if exc.code in (13, 18) else f"the server refused: {exc.code}"
            raise ConfigurationError(SERVICE, "MONGODB_URI", f"{problem} ({redact(str(exc), uri)})") from None
        except PyMongoError as exc:
            raise ConfigurationError(
                SERVICE, "MONGODB_URI", f"{type(exc).__name__}: {redact(str(exc), uri)}"
            ) from None

    # -- event contexts ---------------------------------------------------------------------------
    def put_event_context(self, context: EventContext) -> None:
        with _transient():
            self._contexts.replace_one({"_id": context.id}, _document(context.id, context), upsert=True)

    def get_event_context(self, event_id: str) -> EventContext | None:
        with _transient():
            found = self._contexts.find_one({"_id": event_id})
        return _model(EventContext, found) if found else None

    def event_contexts(self, correlation_id: str) -> list[EventContext]:
        with _transient():
            found = self._contexts.find({"correlation_id": correlation_id}).sort(OLDEST_FIRST)
            return [_model(EventContext, doc) for doc in found]

    # -- insights ---------------------------------------------------------------------------------
    def put_insight(self, insight: Insight) -> None:
        with _transient():
            self._insights.replace_one(
                {"_id": insight.execution_id}, _document(insight.execution_id, insight), upsert=True
            )

    def insights(self, correlation_id: str) -> list[Insight]:
        with _transient():
            found = self._insights.find({"correlation_id": correlation_id}).sort(OLDEST_FIRST)
            return [_model(Insight, doc) for doc in found]

    # -- job records ------------------------------------------------------------------------------
    def create_job(self, record: JobRecord) -> bool:
        from pymongo.errors import DuplicateKeyError

        # The unique _id makes the insert itself the atomic create-if-absent.
        try:
            with _transient():
                self._jobs.insert_one(_job_document(record))
        except DuplicateKeyError:
            return False
        return True

    def get_job(self, job_id: str) -> JobRecord | None:
        with _transient():
            found = self._jobs.find_one({"_id": job_id})
        return _model(JobRecord, found) if found else None

    def update_job(self, record: JobRecord) -> JobRecord:
        updated = record.model_copy(update={"version": record.version + 1})
        # The filter on the version read makes the replace a compare-and-swap.
        with _transient():
            result = self._jobs.replace_one(
                {"_id": record.job_id, "version": record.version}, _job_document(updated)
            )
            if result.matched_count == 1:
                return updated
            exists = self._jobs.count_documents({"_id": record.job_id}, limit=1) > 0
        if exists:
            raise Conflict(f"job {record.job_id!r} changed since version {record.version} was read")
        raise NotFound(f"job {record.job_id!r} does not exist")

    def jobs(self, correlation_id: str) -> list[JobRecord]:
        with _transient():
            found = self._jobs.find({"correlation_id": correlation_id}).sort(OLDEST_FIRST)
            return [_model(JobRecord, doc) for doc in found]

    def active_jobs(self, limit: int = 1000) -> list[JobRecord]:
        with _transient():
            found = self._jobs.find({"status": {"$in": list(ACTIVE_STATUSES)}}).sort(OLDEST_FIRST).limit(limit)
            return [_model(JobRecord, doc) for doc in found]

    def jobs_due_cleanup(self, finished_before: datetime, limit: int = 100) -> list[JobRecord]:
        query = {
            "status": {"$in": list(CLEANUP_STATUSES)},
            "cleaned_up": False,
            "finished_key": {"$lt": sort_key(finished_before)},
        }
        with _transient():
            found = self._jobs.find(query).sort([("finished_key", 1), ("_id", 1)]).limit(limit)
            return [_model(JobRecord, doc) for doc in found]

    def close(self) -> None:
        self._client.close()


def _document(key: str, model: BaseModel) -> dict[str, Any]:
    body = escape_keys(model.model_dump(mode="json"))
    created = getattr(model, "created_at", None)
    return {**body, "_id": key, "created_key": sort_key(created) if created else ""}


def _job_document(record: JobRecord) -> dict[str, Any]:
    document = _document(record.job_id, record)
    # Jobs finished without a finish time still become due, from their last update.
    document["finished_key"] = sort_key(record.finished_at or record.updated_at)
    return document


def _model(cls: type[M], document: dict[str, Any]) -> M:
    body = {k: v for k, v in document.items() if k not in ("_id", "created_key", "finished_key")}
    return cls.model_validate(unescape_keys(body))


class _transient:
    """Lost connections and timeouts after pymongo's own retries become TransientError."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        from pymongo.errors import AutoReconnect, NetworkTimeout, ServerSelectionTimeoutError

        if isinstance(exc, AutoReconnect | NetworkTimeout | ServerSelectionTimeoutError):
            raise TransientError(f"{SERVICE}: {type(exc).__name__}") from exc


def _hosts(uri: str | None) -> str:
    if not uri:
        return "the server"
    try:
        netloc = urlsplit(uri).netloc
    except ValueError:
        return "the server"
    return netloc.rsplit("@", 1)[-1] or "the server"


def redact(text: str, uri: str | None) -> str:
    """Remove the URI and its user name and password from a message."""
    if not uri:
        return text
    text = text.replace(uri, "***")
    try:
        parts = urlsplit(uri)
        secrets = [parts.password, parts.username]
    except ValueError:
        secrets = []
    if "@" in uri and "://" in uri:
        secrets.append(uri.split("://", 1)[1].rsplit("@", 1)[0])
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    return text
