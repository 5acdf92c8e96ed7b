"""ion_module against a real `ion sidecar --development`."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sidecar_process import DevSidecar, free_port

from ion_module import Module, SidecarError

SRC = Path(__file__).resolve().parents[1] / "src"
DEADLINE = 60.0


def _trace_events(trace: Any) -> list[dict[str, Any]]:
    """Every event node of a trace, flattened."""
    found: list[dict[str, Any]] = []

    def walk(events: list[dict[str, Any]]) -> None:
        for event in events:
            found.append(event)
            for job in event.get("jobs", []):
                walk(job.get("events", []))

    walk(trace["events"])
    return found


def _committed_children(sidecar: DevSidecar, env: dict[str, str]) -> list[dict[str, Any]]:
    """The events the sidecar committed for the development event, read back with `ion trace`."""
    trace = sidecar.trace(env["ION_CORRELATION_ID"])
    return [e for e in _trace_events(trace) if e["parent_event_id"] == env["ION_EVENT_ID"]]


def _wait_exit(sidecar: DevSidecar) -> int:
    return sidecar.wait_exit(DEADLINE)


def test_ready_waits_for_a_late_sidecar_then_delivers_inputs(
    tmp_path: Path, start_sidecar: Callable[..., DevSidecar]
) -> None:
    port, secret, base_dir = free_port(), secrets.token_urlsafe(32), tmp_path / "job"
    env = {"SIDECAR_PORT": str(port), "SHARED_SECRET": secret, "SIDECAR_BASE_DIR": str(base_dir)}
    opened: dict[str, Any] = {}

    def open_module() -> None:
        try:
            opened["module"] = Module.open(env, ready_deadline=DEADLINE)
        except Exception as exc:  # reported by the assertions below
            opened["error"] = exc

    waiting = threading.Thread(target=open_module)
    waiting.start()  # nothing listens on the port yet: the module must keep retrying
    time.sleep(0.5)
    assert waiting.is_alive(), f"Module.open gave up before the sidecar started: {opened.get('error')}"

    (tmp_path / "photo.bin").write_bytes(b"\x00\x01binary")
    (tmp_path / "notes.txt").write_text("hello")
    sidecar = start_sidecar(
        port=port, base_dir=base_dir, secret=secret, data={"lang": "en", "count": "3"},
        files={"photo.bin": tmp_path / "photo.bin", "docs/notes.txt": tmp_path / "notes.txt"},
    )
    printed = sidecar.wait_ready()
    waiting.join(DEADLINE)
    assert "error" not in opened, opened.get("error")
    module: Module = opened["module"]
    assert module.data == {"lang": "en", "count": "3"}
    assert module.event_id == printed["ION_EVENT_ID"]
    assert module.correlation_id == printed["ION_CORRELATION_ID"]
    assert module.input_files() == ["docs/notes.txt", "photo.bin"]
    assert module.read_input("photo.bin") == b"\x00\x01binary"
    assert module.read_input_text("docs/notes.txt") == "hello"
    with pytest.raises(FileNotFoundError, match=r"missing\.txt"):
        module.input_path("missing.txt")
    module.done()
    assert _wait_exit(sidecar) == 0


def test_publish_with_files_and_an_object_insight_are_committed(
    tmp_path: Path, start_sidecar: Callable[..., DevSidecar]
) -> None:
    sidecar = start_sidecar(publishes="part_ready", keep_running=True)
    env = sidecar.wait_ready()
    module = Module.open(env)
    module.write_file("parts/a.txt", "first part")
    module.write_file("b.bin", b"\xff")
    module.publish("part_ready", files=["parts/a.txt", "b.bin"], data={"index": 1, "name": "a"})
    module.insight({"parts": 2, "tags": ["x", "y"]})
    module.done()

    children = _committed_children(sidecar, env)
    assert len(children) == 1
    assert children[0]["type"] == "part_ready"
    assert children[0]["files"] == ["b.bin", "parts/a.txt"]
    assert children[0]["data"] == {"index": "1", "name": "a"}
    written = json.loads((Path(env["SIDECAR_BASE_DIR"]) / "out" / "meta.json").read_text())
    assert written == {"parts": 2, "tags": ["x", "y"]}


def test_insight_in_the_list_of_pairs_form(start_sidecar: Callable[..., DevSidecar]) -> None:
    sidecar = start_sidecar()
    env = sidecar.wait_ready()
    module = Module.open(env)
    module.insight({"label": "cat"}, as_pairs=True)
    module.insight([("score", 0.9)], as_pairs=True)
    written = json.loads((Path(env["SIDECAR_BASE_DIR"]) / "out" / "meta.json").read_text())
    assert written == [{"key": "label", "value": "cat"}, {"key": "score", "value": "0.9"}]
    module.done()  # the sidecar accepts the original form
    assert _wait_exit(sidecar) == 0


def test_an_invalid_output_surfaces_the_sidecars_message(start_sidecar: Callable[..., DevSidecar]) -> None:
    sidecar = start_sidecar(publishes="allowed_type", keep_running=True)
    env = sidecar.wait_ready()
    module = Module.open(env)
    module.publish("not_declared", data={"k": "v"})
    with pytest.raises(SidecarError) as raised:
        module.done()
    assert raised.value.status == 400
    assert "out/events/1.json" in raised.value.message
    assert "not_declared" in raised.value.message
    assert _committed_children(sidecar, env) == []  # nothing committed


def _run_module(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    child_env = {**os.environ, **env, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-c", code],
        env=child_env, capture_output=True, text=True, timeout=DEADLINE, check=False,
    )


def _get(env: dict[str, str], path: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{env['SIDECAR_PORT']}{path}", headers={"secret": env["SHARED_SECRET"]}
    )
    try:
        with urllib.request.urlopen(request, timeout=DEADLINE) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


FAILING_MODULE = """
from ion_module import run

def handle(module):
    module.write_file("half.txt", "half done")
    module.publish("anything", files=["half.txt"])
    raise RuntimeError("the model file is corrupt")

run(handle)
"""


def test_run_does_not_call_done_when_the_handler_fails(start_sidecar: Callable[..., DevSidecar]) -> None:
    sidecar = start_sidecar(keep_running=True)
    env = sidecar.wait_ready()
    result = _run_module(FAILING_MODULE, env)
    assert result.returncode == 1
    assert "the model file is corrupt" in result.stderr
    assert env["SHARED_SECRET"] not in result.stderr + result.stdout
    # The first /done is still the sidecar's to accept: the failed module never called it.
    assert _get(env, "/done") == 200


def test_run_calls_done_and_exits_zero_when_the_handler_succeeds(
    start_sidecar: Callable[..., DevSidecar],
) -> None:
    sidecar = start_sidecar(publishes="greeted", keep_running=True)
    env = sidecar.wait_ready()
    code = (
        "from ion_module import run\n"
        "run(lambda m: (m.write_file('hi.txt', 'hi'), m.publish('greeted', files=['hi.txt'])))\n"
    )
    result = _run_module(code, env)
    assert result.returncode == 0, result.stderr
    assert _get(env, "/done") == 409  # already called, once, by run()
    assert [c["files"] for c in _committed_children(sidecar, env)] == [["hi.txt"]]


def test_run_exits_non_zero_with_the_message_when_done_is_refused(
    start_sidecar: Callable[..., DevSidecar],
) -> None:
    sidecar = start_sidecar(publishes="greeted", keep_running=True)
    env = sidecar.wait_ready()
    code = "from ion_module import run\nrun(lambda m: m.publish('greeted', files=['never-written.txt']))\n"
    result = _run_module(code, env)
    assert result.returncode == 1
    assert "out/events/1.json" in result.stderr
    assert "never-written.txt" in result.stderr
