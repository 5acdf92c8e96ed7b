"""Error types shared by every Ion component."""

from __future__ import annotations


class IonError(Exception):
    """Base class for Ion's own errors."""


class ManifestError(IonError):
    """A module manifest is invalid; the message names the file, the entry and the field."""


class ConfigurationError(IonError):
    """A provider is misconfigured or unreachable; names the service and the setting to check."""

    def __init__(self, service: str, setting: str, problem: str) -> None:
        self.service = service
        self.setting = setting
        self.problem = problem
        super().__init__(f"{service}: {problem} (check {setting})")


class TransientError(IonError):
    """A dependency (store, bus, executor) failed in a way that a later retry may fix."""


class PoisonMessage(IonError):
    """A message that can never be processed: dead-letter it at once with this reason."""


class NotFound(IonError):
    """The named record, blob or resource does not exist."""


class InvalidName(IonError):
    """A blob or file name tries to leave its store (absolute, '..', empty)."""
