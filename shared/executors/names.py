"""Resource names and label values derived from job ids, within each service's naming rules.

Every function is deterministic: a redelivered launch derives the same name, so "already exists"
finds the earlier resource. A name that must be shortened keeps a digest of the full name, so two
long ids never collapse into one name.
"""

from __future__ import annotations

import hashlib
import re

_DIGEST_LENGTH = 10


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:_DIGEST_LENGTH]


def _shorten(name: str, original: str, max_length: int, separator: str = "-") -> str:
    if len(name) <= max_length and name == original:
        return name
    keep = max_length - _DIGEST_LENGTH - len(separator)
    head = name[:keep].rstrip("-_.")
    return f"{head}{separator}{_digest(original)}" if head else _digest(original)


def dns_label(name: str, max_length: int = 63) -> str:
    """RFC 1123 label: lowercase letters, digits and '-', starting and ending with an alphanumeric.

    Kubernetes Job and Secret names use it (63, so the pod's job-name label stays valid).
    """
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return _shorten(cleaned or "ion", name, max_length)


def aci_group_name(name: str, max_length: int = 63) -> str:
    """ACI container group name: like a DNS label, without consecutive hyphens."""
    cleaned = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]+", "-", name.lower())).strip("-")
    short = _shorten(cleaned or "ion", name, max_length)
    return re.sub(r"-{2,}", "-", short)


def batch_id(name: str, max_length: int = 64) -> str:
    """Azure Batch job and task ids: letters, digits, '-' and '_', at most 64 characters."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")
    return _shorten(cleaned or "ion", name, max_length)


def label_value(value: str, max_length: int = 63) -> str:
    """Kubernetes label value: at most 63 of [A-Za-z0-9-_.], alphanumeric at both ends."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", value).strip("-_.")
    if len(cleaned) <= max_length and cleaned == value:
        return cleaned
    keep = max_length - _DIGEST_LENGTH - 1
    head = cleaned[:keep].rstrip("-_.")
    return f"{head}-{_digest(value)}" if head else _digest(value)
