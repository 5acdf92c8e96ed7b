"""Validation of out/: every problem is a 400 naming the file; a valid out/ becomes a plan."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from shared.contract import ContractError, SidecarConfig, validate_outputs
from shared.contract.outputs import MAX_EVENT_FILE_BYTES
from shared.ids import child_event_id


def config_for(base: Path, **overrides: str) -> SidecarConfig:
    values = {
        "SHARED_SECRET": "x" * 40, "SIDECAR_BASE_DIR": str(base), "ION_EVENT_ID": "parent",
        "ION_CORRELATION_ID": "corr", "ION_EVENT_TYPE": "in", "ION_MODULE_NAME": "mod",
        "ION_PUBLISHES": "done,other",
    }
    return SidecarConfig.from_mapping({**values, **overrides})


def put(base: Path, relative: str, content: Any) -> Path:
    path = base / "out" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def refused(base: Path, **overrides: str) -> str:
    with pytest.raises(ContractError) as caught:
        validate_outputs(config_for(base, **overrides))
    assert caught.value.status_code == 400
    return caught.value.message


def test_missing_out_is_an_empty_plan(tmp_path: Path) -> None:
    plan = validate_outputs(config_for(tmp_path))
    assert plan.files == {} and plan.events == [] and plan.insight is None
    assert not plan.stores_insight


def test_pairs_form_event(tmp_path: Path) -> None:
    put(tmp_path, "data/a.png", b"a")
    put(tmp_path, "data/sub/b.png", b"b")
    put(tmp_path, "events/e1.json", [
        {"key": "eventType", "value": "done"},
        {"key": "files", "value": " a.png , ./sub/b.png,"},
        {"key": "score", "value": "0.5"},
    ])
    [event] = validate_outputs(config_for(tmp_path)).events
    assert event.type == "done"
    assert event.files == ["a.png", "sub/b.png"]
    assert event.data == {"score": "0.5"}
    assert event.event_id == child_event_id("parent", "mod", "e1.json")


def test_object_form_event_and_sorted_order(tmp_path: Path) -> None:
    put(tmp_path, "data/a.png", b"a")
    put(tmp_path, "events/z.json", {"eventType": "other"})
    put(tmp_path, "events/m.json", {"eventType": "done", "files": ["a.png"], "data": {"k": "v"}})
    put(tmp_path, "events/notes.txt", "ignored: not an event file")
    plan = validate_outputs(config_for(tmp_path))
    assert [(e.file_name, e.type, e.files, e.data) for e in plan.events] == [
        ("m.json", "done", ["a.png"], {"k": "v"}),
        ("z.json", "other", [], {}),
    ]


def test_insight_forms(tmp_path: Path) -> None:
    put(tmp_path, "meta.json", [{"key": "a", "value": "1"}, {"key": "b", "value": 2}])
    assert validate_outputs(config_for(tmp_path)).insight == {"a": "1", "b": 2}
    put(tmp_path, "meta.json", {"nested": {"x": [1, 2]}})
    plan = validate_outputs(config_for(tmp_path))
    assert plan.insight == {"nested": {"x": [1, 2]}} and plan.stores_insight


def test_output_files_alone_store_an_insight(tmp_path: Path) -> None:
    put(tmp_path, "data/deep/er/x.bin", b"x")
    plan = validate_outputs(config_for(tmp_path))
    assert list(plan.files) == ["deep/er/x.bin"]
    assert plan.insight is None and plan.stores_insight


@pytest.mark.parametrize(("content", "message"), [
    ([{"key": "eventType", "value": "bad"}],
     "out/events/e.json: eventType 'bad' is not in publishes [done, other]"),
    ({"eventType": "bad type!"}, "eventType 'bad type!' is not a valid event type"),
    ([{"key": "files", "value": ""}], "out/events/e.json: eventType is required"),
    ({"files": []}, "eventType is required"),
    ({"eventType": 3}, "eventType must be a string"),
    ({"eventType": "done", "event_data": {}}, "unknown field(s) event_data"),
    ({"eventType": "done", "data": {"n": 1}}, "data value of 'n' must be a string"),
    ({"eventType": "done", "data": ["x"]}, "data must be an object"),
    ({"eventType": "done", "files": "a.png"}, "files must be a list of strings"),
    ([{"key": "eventType", "value": "done"}, {"key": "n", "value": 1}], "value of 'n' must be a string"),
    ([{"key": "eventType", "value": "done"}, {"key": "eventType", "value": "other"}], "more than once"),
    ([{"key": "eventType"}], "item 0 must be an object with exactly"),
    ([{"key": "eventType", "value": "done"}, {"key": "files", "value": "a/../../x"}], "contains '..'"),
    ([{"key": "eventType", "value": "done"}, {"key": "files", "value": "/abs.png"}], "is absolute"),
    ({"eventType": "done", "files": ["nope.png"]}, "files entry 'nope.png' does not exist in out/data"),
    ({"eventType": "done", "files": ["dir"]}, "files entry 'dir' does not exist in out/data"),
    ({"eventType": "done", "files": ["a\\b.png"]}, "contains a backslash"),
    (42, "must be a list of {\"key\", \"value\"} pairs or an object"),
])
def test_invalid_event_files(tmp_path: Path, content: Any, message: str) -> None:
    put(tmp_path, "data/dir/inner.png", b"i")
    put(tmp_path, "events/e.json", content)
    assert message in refused(tmp_path)


def test_invalid_json_names_file_and_position(tmp_path: Path) -> None:
    put(tmp_path, "events/e.json", '{"eventType": "done",}')
    message = refused(tmp_path)
    assert message.startswith("out/events/e.json: is not valid JSON")
    assert "line 1" in message


def test_oversized_event_file(tmp_path: Path) -> None:
    put(tmp_path, "events/big.json", {"eventType": "done", "data": {"k": "v" * MAX_EVENT_FILE_BYTES}})
    assert "out/events/big.json: is" in refused(tmp_path)
    assert "more than the limit" in refused(tmp_path)


def test_event_over_the_bus_limit(tmp_path: Path) -> None:
    put(tmp_path, "events/e.json", {"eventType": "done", "data": {"k": "v" * 5000}})
    message = refused(tmp_path, ION_MAX_EVENT_BYTES="4096")
    assert message.startswith("out/events/e.json: the event is") and "bus limit of 4096 bytes" in message


def test_symlink_out_of_out_data_is_refused_even_unreferenced(tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere.txt"
    secret.write_text("private")
    (tmp_path / "out" / "data").mkdir(parents=True)
    os.symlink(secret, tmp_path / "out" / "data" / "link.txt")
    assert refused(tmp_path) == "out/data/link.txt: is a symlink out of out/data"


def test_symlinked_folder_out_of_out_data_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out" / "data").mkdir(parents=True)
    os.symlink(tmp_path / "elsewhere", tmp_path / "out" / "data" / "linked")
    put(tmp_path, "events/e.json", {"eventType": "done", "files": ["linked/x"]})
    assert "out/data/linked: is a symlink out of out/data" in refused(tmp_path)


def test_symlink_inside_out_data_is_allowed(tmp_path: Path) -> None:
    put(tmp_path, "data/real.png", b"r")
    os.symlink(tmp_path / "out" / "data" / "real.png", tmp_path / "out" / "data" / "alias.png")
    put(tmp_path, "events/e.json", {"eventType": "done", "files": ["alias.png"]})
    plan = validate_outputs(config_for(tmp_path))
    assert sorted(plan.files) == ["alias.png", "real.png"]


@pytest.mark.parametrize(("content", "message"), [
    ("[1]", "out/meta.json: item 0 must be an object"),
    ('"text"', "out/meta.json: must be a list of"),
    ('[{"key": "a", "value": 1}, {"key": "a", "value": 2}]', "key 'a' appears more than once"),
    ("{", "out/meta.json: is not valid JSON"),
])
def test_invalid_insight(tmp_path: Path, content: str, message: str) -> None:
    put(tmp_path, "meta.json", content)
    assert message in refused(tmp_path)


def test_publishes_none_allows_any_type(tmp_path: Path) -> None:
    put(tmp_path, "events/e.json", {"eventType": "anything"})
    config = config_for(tmp_path).model_copy(update={"publishes": None})
    assert [e.type for e in validate_outputs(config).events] == ["anything"]


def test_empty_publishes_allows_nothing(tmp_path: Path) -> None:
    put(tmp_path, "events/e.json", {"eventType": "done"})
    assert "eventType 'done' is not in publishes []" in refused(tmp_path, ION_PUBLISHES="")


def test_nested_folders_are_listed_with_their_relative_paths(tmp_path: Path) -> None:
    put(tmp_path, "data/frames/a/1.png", b"1")
    put(tmp_path, "data/frames/b/2.png", b"2")
    put(tmp_path, "data/top.txt", b"t")
    plan = validate_outputs(config_for(tmp_path))
    assert list(plan.files) == ["frames/a/1.png", "frames/b/2.png", "top.txt"]
    assert plan.files["frames/b/2.png"] == tmp_path / "out" / "data" / "frames" / "b" / "2.png"


def test_a_link_to_nothing_cannot_be_read(tmp_path: Path) -> None:
    (tmp_path / "out" / "data").mkdir(parents=True)
    os.symlink(tmp_path / "out" / "data" / "gone.bin", tmp_path / "out" / "data" / "dangling.bin")
    assert refused(tmp_path).startswith("out/data/dangling.bin: cannot be read (")


def test_a_pipe_is_not_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "out" / "data" / "sub").mkdir(parents=True)
    os.mkfifo(tmp_path / "out" / "data" / "sub" / "pipe")
    assert refused(tmp_path) == "out/data/sub/pipe: is not a regular file"
