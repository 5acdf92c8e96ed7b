"""Load function_app.py as the Functions worker would (fresh, settings in the environment), no host.

Stores are the real embedded ones (SQLite bus and metadata, filesystem blobs) in a temporary ION_HOME;
the executor is a double of Ion's own Executor interface injected into the app's context.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import azure.functions as func
import azure.functions.servicebus as func_servicebus
import pytest

from dispatcher_functions import context
from shared.models import Event
from tests.functions.doubles import CountingExecutor

MANIFEST = """\
modules:
  - name: link-splitter
    subscribes_to: new_link
    publishes: [part_ready]
    executor: local
    command: ["true"]
    retries: 2
  - name: classifier
    subscribes_to: part_ready
    executor: local
    command: ["true"]
  - name: captioner
    subscribes_to: part_ready
    executor: local
    command: ["true"]
"""

ION_VARIABLES = (
    "ION_HOME", "ION_MESSAGING", "ION_METADATA", "ION_BLOB", "ION_MODULES", "ION_RECONCILE_SCHEDULE",
    "ION_SUBMIT_MAX_BYTES", "ION_MAX_EVENT_BYTES", "ION_MAX_DELIVERY_COUNT",
)


@pytest.fixture
def manifest_file(tmp_path: Path) -> Path:
    path = tmp_path / "modules.yaml"
    path.write_text(textwrap.dedent(MANIFEST), encoding="utf-8")
    return path


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, manifest_file: Path) -> Path:
    for name in ION_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "ion-home"
    monkeypatch.setenv("ION_HOME", str(home))
    monkeypatch.setenv("ION_MESSAGING", "sqlite")
    monkeypatch.setenv("ION_METADATA", "sqlite")
    monkeypatch.setenv("ION_BLOB", "filesystem")
    monkeypatch.setenv("ION_MODULES", str(manifest_file))
    return home


def import_function_app() -> ModuleType:
    """A fresh import, as a worker process does at indexing (the manifest is read then)."""
    sys.modules.pop("function_app", None)
    return importlib.import_module("function_app")


def indexed_functions(module: ModuleType) -> dict[str, Any]:
    """The app's functions by name. Like the worker, ask once: the app refuses a second listing."""
    return {fn.get_function_name(): fn for fn in module.app.get_functions()}


@dataclass
class LoadedApp:
    module: ModuleType
    executor: CountingExecutor
    context: context.AppContext
    indexed: dict[str, Any]

    def functions(self) -> dict[str, Any]:
        return self.indexed

    def call(self, name: str, *args: Any) -> Any:
        return self.functions()[name].get_user_function()(*args)


@pytest.fixture
def loaded(app_env: Path) -> Iterator[LoadedApp]:
    context.reset()
    module = import_function_app()
    executor = CountingExecutor()
    ctx = context.AppContext.open(executors={"local": executor})
    context.install(ctx)
    try:
        yield LoadedApp(module, executor, ctx, indexed_functions(module))
    finally:
        context.reset()
        sys.modules.pop("function_app", None)


def sb_message(body: bytes | str, message_id: str, delivery_count: int = 1) -> func.ServiceBusMessage:
    """A message as the Service Bus trigger hands it to the function."""
    return func_servicebus.ServiceBusMessage(
        body=body.encode() if isinstance(body, str) else body,
        message_id=message_id,
        delivery_count=delivery_count,
        application_properties={},
        user_properties={},
    )


def event_message(event: Event, delivery_count: int = 1) -> func.ServiceBusMessage:
    return sb_message(event.model_dump_json(), event.id, delivery_count)
