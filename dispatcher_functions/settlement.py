"""How a dispatcher function settles its Service Bus message.

- Success: the function returns and the host completes the message (autoCompleteMessages).
- Transient failure (executor, store or bus unreachable, any unexpected error): the function raises,
  the host abandons the message, Service Bus redelivers it, and the subscription's max delivery count
  dead-letters it if the failure never clears. Dispatch is idempotent, so redelivery launches nothing
  twice.
- Poison message (shared.errors.PoisonMessage: not JSON, no type, not an Ion event, too large, wrong
  topic, a rule that cannot run): retrying can never help, so it is *rejected at once*: the message,
  its reason and its body are written to the blob store under `_rejected/<subscription>/<message id>.json`,
  logged, and the function returns so the host completes it.

Why a rejection record instead of a dead-letter: the Python worker can settle messages itself only
through the `azurefunctions-extensions-bindings-servicebus` SDK-type binding, which is published as a
pre-release (1.0.0b2), pulls in the deprecated `uamqp` native AMQP library and grpcio-tools, and settles
over a gRPC channel to the host, so the settlement path could not run anywhere but inside the host.
Raising instead would let Service Bus dead-letter the message only after every delivery was spent,
with the reason "MaxDeliveryCountExceeded" rather than ours. If writing the record fails, the function
raises, so the message is redelivered and nothing is lost.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.blob.base import BlobStore
from shared.dispatch import Dispatcher, DispatchResult
from shared.errors import PoisonMessage

log = logging.getLogger("ion.functions.settlement")

REJECTED_PREFIX = "_rejected"
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


@dataclass(frozen=True)
class IncomingMessage:
    """The parts of a trigger's message that dispatch and rejection records need."""

    message_id: str
    topic: str
    subscription: str
    body: bytes = field(repr=False)
    delivery_count: int = 1


@dataclass(frozen=True)
class Rejection:
    message: IncomingMessage
    reason: str
    rejected_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def document(self) -> dict[str, Any]:
        body = self.message.body
        document: dict[str, Any] = {
            "message_id": self.message.message_id,
            "topic": self.message.topic,
            "subscription": self.message.subscription,
            "delivery_count": self.message.delivery_count,
            "reason": self.reason,
            "rejected_at": self.rejected_at.isoformat(),
            "body_bytes": len(body),
        }
        try:
            document["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            document["body_base64"] = base64.b64encode(body).decode("ascii")
        return document


def rejection_blob_name(subscription: str, message_id: str) -> str:
    """`_rejected/<subscription>/<message id>.json`; ids that are not plain names get a digest suffix."""
    if _SAFE_ID.fullmatch(message_id) and message_id not in (".", ".."):
        safe = message_id
    else:
        digest = hashlib.sha256(message_id.encode()).hexdigest()[:16]
        safe = (re.sub(r"[^A-Za-z0-9._-]", "_", message_id)[:64].strip(".") or "message") + f"-{digest}"
    return f"{REJECTED_PREFIX}/{subscription}/{safe}.json"


def record_rejection(blob: BlobStore, rejection: Rejection) -> str:
    """Write the rejection to the blob store (overwriting an earlier record of the same message)."""
    name = rejection_blob_name(rejection.message.subscription, rejection.message.message_id)
    with tempfile.TemporaryDirectory(prefix="ion-rejected-") as folder:
        path = Path(folder) / "rejection.json"
        path.write_text(json.dumps(rejection.document(), indent=2), encoding="utf-8")
        return blob.put(path, name)


def settle(dispatcher: Dispatcher, blob: BlobStore, message: IncomingMessage) -> DispatchResult | Rejection:
    """Dispatch one message. Returns the result or the recorded rejection; raises for a transient failure."""
    try:
        result = dispatcher.dispatch(message.subscription, message.body)
    except PoisonMessage as exc:
        rejection = Rejection(message, str(exc))
        url = record_rejection(blob, rejection)
        log.warning(
            "rejected message %s on %s/%s (delivery %d): %s; recorded at %s",
            message.message_id, message.topic, message.subscription, message.delivery_count, exc, url,
        )
        return rejection
    except Exception as exc:
        log.warning(
            "dispatching message %s on %s/%s failed (delivery %d), Service Bus will redeliver it: %s",
            message.message_id, message.topic, message.subscription, message.delivery_count, exc,
        )
        raise
    log.info(
        "message %s on %s/%s: %s job %s",
        message.message_id, message.topic, message.subscription, result.outcome, result.job_id,
    )
    return result
