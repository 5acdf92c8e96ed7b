"""The app's own function metadata: what the Functions host indexes."""

from __future__ import annotations

import inspect
import json
import typing
from pathlib import Path

import azure.functions as func
import pytest

from shared.errors import ManifestError
from tests.functions.conftest import LoadedApp, import_function_app, indexed_functions


def raw_bindings(fn: typing.Any) -> list[dict[str, typing.Any]]:
    return [json.loads(raw) for raw in fn.get_raw_bindings()]


def triggers(loaded: LoadedApp, kind: str) -> dict[str, dict[str, typing.Any]]:
    found = {}
    for name, fn in loaded.functions().items():
        for binding in raw_bindings(fn):
            if binding["type"] == kind:
                found[name] = binding
    return found


def test_one_service_bus_topic_trigger_per_module(loaded: LoadedApp) -> None:
    service_bus = triggers(loaded, "serviceBusTrigger")
    assert set(service_bus) == {"dispatch_link_splitter", "dispatch_classifier", "dispatch_captioner"}
    expected = {
        "dispatch_link_splitter": ("new_link", "link-splitter"),
        "dispatch_classifier": ("part_ready", "classifier"),
        "dispatch_captioner": ("part_ready", "captioner"),
    }
    for name, (topic, subscription) in expected.items():
        binding = service_bus[name]
        assert binding["direction"] == "IN"
        assert binding["topicName"] == topic
        assert binding["subscriptionName"] == subscription
        assert binding["connection"] == "ServiceBusConnection"
        assert binding["cardinality"] == "ONE"
        assert binding["autoCompleteMessages"] is True
        assert binding["name"] == "msg"


def test_one_timer_and_one_http_trigger(loaded: LoadedApp) -> None:
    functions = loaded.functions()
    assert len(functions) == 5
    timers = triggers(loaded, "timerTrigger")
    assert list(timers) == ["reconcile"]
    timer = timers["reconcile"]
    assert timer["schedule"] == "*/30 * * * * *"
    assert timer["runOnStartup"] is False
    assert timer["useMonitor"] is True

    http = triggers(loaded, "httpTrigger")
    assert list(http) == ["submit"]
    assert http["submit"]["route"] == "events"
    assert http["submit"]["methods"] == ["POST"]
    assert http["submit"]["authLevel"] == "FUNCTION"
    outputs = [b for b in raw_bindings(functions["submit"]) if b["type"] == "http"]
    assert outputs == [{"type": "http", "direction": "OUT", "name": "$return"}]


def test_schedule_comes_from_the_app_setting_when_set(
    app_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ION_RECONCILE_SCHEDULE", "0 */5 * * * *")
    module = import_function_app()
    reconcile = indexed_functions(module)["reconcile"]
    (timer,) = raw_bindings(reconcile)
    assert timer["schedule"] == "%ION_RECONCILE_SCHEDULE%"


def test_function_signatures_match_their_bindings(loaded: LoadedApp) -> None:
    """What the Python worker checks at indexing: every parameter is a binding, with a usable type."""
    expected_types = {"serviceBusTrigger": func.ServiceBusMessage, "timerTrigger": func.TimerRequest,
                      "httpTrigger": func.HttpRequest}
    for name, fn in loaded.functions().items():
        user_function = fn.get_user_function()
        hints = typing.get_type_hints(user_function)
        parameters = set(inspect.signature(user_function).parameters)
        inputs = {b.name: b.type for b in fn.get_bindings() if b.name != "$return"}
        assert parameters == set(inputs), name
        for parameter, binding_type in inputs.items():
            assert hints[parameter] is expected_types[binding_type], name


def test_a_bad_manifest_fails_indexing_naming_the_file_and_field(
    app_env: Path, manifest_file: Path
) -> None:
    manifest_file.write_text("modules:\n  - name: Bad_Name\n    subscribes_to: x\n    command: [a]\n")
    with pytest.raises(ManifestError) as caught:
        import_function_app()
    assert str(manifest_file) in str(caught.value)
    assert "field 'name'" in str(caught.value)
