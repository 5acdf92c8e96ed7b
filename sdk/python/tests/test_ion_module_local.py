"""ion_module's checks that need no sidecar: environment, paths, the in/meta.json fallback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sidecar_process import free_port

from ion_module import Module, ModuleError, SidecarClient, SidecarUnavailable


def test_missing_environment_names_the_variables() -> None:
    with pytest.raises(ModuleError, match="SHARED_SECRET, SIDECAR_BASE_DIR"):
        Module.open({"SIDECAR_PORT": "1234"})


def test_a_sidecar_that_never_comes_is_reported_with_its_port() -> None:
    port = free_port()
    with pytest.raises(SidecarUnavailable, match=f"port {port}"):
        SidecarClient(port, "s").ready(deadline_seconds=0.3)


def _module(base: Path) -> Module:
    return Module(base, SidecarClient(1, "secret-value"), {"ION_EVENT_ID": "e1"})


def test_paths_must_stay_inside_their_folder(tmp_path: Path) -> None:
    module = _module(tmp_path)
    for bad in ("../escape.txt", "/etc/passwd", "a/../../b", ""):
        with pytest.raises(ModuleError):
            module.write_file(bad, "x")
        with pytest.raises(ModuleError):
            module.publish("t", files=[bad or "."])
    assert not (tmp_path / "out" / "events").exists()  # a rejected publish writes nothing


def test_meta_json_is_read_when_there_is_no_event_json(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    pairs = [{"key": "a", "value": "1"}, {"key": "b", "value": "x"}]
    (tmp_path / "in" / "meta.json").write_text(json.dumps(pairs))
    module = _module(tmp_path)
    module._read_event()
    assert module.data == {"a": "1", "b": "x"}
    assert module.event_id == "e1"


def test_events_are_numbered_in_publish_order_in_the_object_form(tmp_path: Path) -> None:
    module = _module(tmp_path)
    module.publish("first", data={"n": 1})
    module.publish("second", files=["x/y.txt"], name="custom")
    events = tmp_path / "out" / "events"
    assert sorted(p.name for p in events.iterdir()) == ["1.json", "custom.json"]
    first = json.loads((events / "1.json").read_text())
    assert first == {"eventType": "first", "files": [], "data": {"n": "1"}}
    assert json.loads((events / "custom.json").read_text())["files"] == ["x/y.txt"]


def test_the_secret_is_not_in_the_clients_repr() -> None:
    assert "secret-value" not in repr(SidecarClient(1, "secret-value"))
