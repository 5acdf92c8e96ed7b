"""One mapping of Azure SDK errors for the ACI and Batch executors."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)

from shared.errors import ConfigurationError, IonError, TransientError
from shared.executors.azure_calls import call_azure


def raising(error: Exception) -> Any:
    def method(*_: Any) -> Any:
        raise error

    return method


def http(status: int) -> HttpResponseError:
    error = HttpResponseError(message=f"HTTP {status}")
    error.status_code = status
    return error


def call(error: Exception, **flags: bool) -> Any:
    return call_azure("svc", "Some Service", "SOME_SETTING", "do it", raising(error), **flags)


def test_passes_arguments_and_returns_the_result() -> None:
    assert call_azure("svc", "S", "X", "add", lambda a, b: a + b, 2, 3) == 5


@pytest.mark.parametrize("error", [ServiceRequestError("down"), http(429), http(503), http(408)])
def test_unreachable_or_throttled_is_transient(error: Exception) -> None:
    with pytest.raises(TransientError, match="svc: do it"):
        call(error)


def test_refused_credentials_name_the_setting() -> None:
    with pytest.raises(ConfigurationError, match="SOME_SETTING"):
        call(ClientAuthenticationError("no"))


def test_exists_and_missing_are_none_only_when_allowed() -> None:
    assert call(ResourceExistsError("exists"), exists_ok=True) is None
    assert call(http(409), exists_ok=True) is None
    assert call(ResourceNotFoundError("gone"), missing_ok=True) is None
    with pytest.raises(IonError, match="already exists"):
        call(ResourceExistsError("exists"))
    with pytest.raises(IonError, match="not found"):
        call(ResourceNotFoundError("gone"))
    with pytest.raises(IonError, match="failed: HTTP 400"):
        call(http(400))
