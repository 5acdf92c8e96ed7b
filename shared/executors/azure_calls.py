"""Calling an Azure management or data-plane SDK from an executor: one mapping of its errors.

Unreachable services and throttling become TransientError (the dispatcher or reconciler retries),
refused credentials a ConfigurationError naming what to check, anything else an IonError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.errors import ConfigurationError, IonError, TransientError


def error_code(exc: Any) -> str:
    """The service's error code (e.g. `TaskExists`), else the HTTP reason phrase."""
    error = getattr(exc, "error", None)
    return str(getattr(error, "code", None) or getattr(exc, "reason", None) or "")


def call_azure(
    prefix: str,
    service: str,
    auth_setting: str,
    what: str,
    method: Callable[..., Any],
    *args: Any,
    exists_ok: bool = False,
    missing_ok: bool = False,
) -> Any:
    """`method(*args)`; None when the resource already exists (exists_ok) or is missing (missing_ok)."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceExistsError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    try:
        return method(*args)
    except ResourceExistsError:
        if exists_ok:
            return None
        raise IonError(f"{prefix}: {what}: already exists") from None
    except ResourceNotFoundError:
        if missing_ok:
            return None
        raise IonError(f"{prefix}: {what}: not found") from None
    except ClientAuthenticationError as exc:
        raise ConfigurationError(
            service, auth_setting, f"{what}: not authorised ({error_code(exc) or type(exc).__name__})"
        ) from None
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise TransientError(f"{prefix}: {what}: service unreachable ({type(exc).__name__})") from None
    except HttpResponseError as exc:
        status = exc.status_code or 0
        if status == 409 and exists_ok:
            return None  # created meanwhile by another dispatcher: launched
        detail = f"HTTP {status} {error_code(exc)}".rstrip()
        if status in (408, 429) or status >= 500:
            raise TransientError(f"{prefix}: {what}: {detail}") from None
        raise IonError(f"{prefix}: {what} failed: {detail}") from None
