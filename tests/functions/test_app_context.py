"""Providers are opened lazily once per worker process; a failed open is retried on the next call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from dispatcher_functions import context
from shared.errors import ConfigurationError
from shared.models import Event
from tests.functions.conftest import event_message, import_function_app, indexed_functions


@pytest.fixture
def functions(app_env: Path) -> Iterator[dict[str, Any]]:
    context.reset()
    indexed = indexed_functions(import_function_app())
    yield indexed
    context.reset()


def submit_request() -> func.HttpRequest:
    body = json.dumps({"type": "new_link", "data": {"url": "https://x.org"}}).encode()
    return func.HttpRequest("POST", "http://localhost/api/events",
                            headers={"Content-Type": "application/json"}, body=body)


def test_the_context_is_opened_once_and_shared(functions: dict[str, Any]) -> None:
    first = context.current()
    assert context.current() is first
    context.reset()
    assert context.current() is not first


def test_an_unreachable_store_is_not_cached_and_is_retried_on_the_next_call(
    functions: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ION_METADATA", "mongodb")  # and no MONGODB_URI
    submit = functions["submit"].get_user_function()
    response = submit(submit_request())
    assert response.status_code == 503
    assert "ConfigurationError" in json.loads(response.get_body())["message"]

    # A dispatcher raises, so Service Bus redelivers the message rather than it being rejected.
    dispatch = functions["dispatch_link_splitter"].get_user_function()
    with pytest.raises(ConfigurationError, match="MONGODB_URI"):
        dispatch(event_message(Event.new("new_link", {"url": "https://x.org"})))

    monkeypatch.setenv("ION_METADATA", "sqlite")
    response = submit(submit_request())
    assert response.status_code == 202
