"""Identifiers: random where they must be unique, derived where redelivery must find the same one."""

from __future__ import annotations

import hashlib
import secrets
import uuid


def new_event_id() -> str:
    return uuid.uuid4().hex


def new_secret() -> str:
    """Per-job shared secret: 32 random bytes, never derived from a message id."""
    return secrets.token_urlsafe(32)


def _digest(*parts: str, length: int = 32) -> str:
    # The separator cannot appear in the hex digest input ambiguity: parts are length-prefixed.
    joined = "".join(f"{len(p)}:{p}" for p in parts)
    return hashlib.sha256(joined.encode()).hexdigest()[:length]


def job_id(event_id: str, module: str) -> str:
    """Deterministic job id for (event, module): a redelivered message maps to the same job."""
    return f"{module}-{_digest(event_id, module, length=24)}"


def child_event_id(parent_event_id: str, module: str, event_file: str) -> str:
    """Deterministic child event id: a retried job republishes the same ids."""
    return _digest(parent_event_id, module, event_file)
