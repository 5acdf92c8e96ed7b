"""The sidecar as a process: `python -m sidecar` (the same as the image's `ion sidecar`) and `ion sidecar --development`."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.ids import child_event_id
from shared.models import Event, EventContext, JobStatus
from shared.providers import Providers
from shared.settings import load_settings
from tests.local_tools import free_port

REPO = Path(__file__).resolve().parents[2]
DEADLINE = 60.0
ION = [sys.executable, "-c", "from shared.cli.main import main; main()"]
EMBEDDED = {"ION_MESSAGING": "sqlite", "ION_METADATA": "sqlite", "ION_BLOB": "filesystem"}
EMBEDDED_SETTINGS = {"messaging": "sqlite", "metadata": "sqlite", "blob": "filesystem"}


def base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ION_", "SIDECAR_", "SHARED_SECRET"))}
    return {**env, **EMBEDDED, "ION_HOME": str(home), "PYTHONPATH": str(REPO)}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "ion-home"


@pytest.fixture
def providers(home: Path) -> Iterator[Providers]:
    opened = Providers.open(load_settings(home=home, **EMBEDDED_SETTINGS))
    yield opened
    opened.close()


def wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    give_up = time.monotonic() + DEADLINE
    while time.monotonic() < give_up:
        assert process.poll() is None, "sidecar exited early"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("sidecar did not answer /healthz")


def stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


def start_job_sidecar(home: Path, base_dir: Path, secret: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **base_env(home), "SHARED_SECRET": secret, "SIDECAR_PORT": str(port),
        "SIDECAR_BASE_DIR": str(base_dir),
        "ION_EVENT_ID": "first", "ION_CORRELATION_ID": "first", "ION_EVENT_TYPE": "uploaded",
        "ION_MODULE_NAME": "splitter", "ION_JOB_ID": "splitter-job", "ION_ATTEMPT": "2",
        "ION_PUBLISHES": "part", "ION_SIDECAR_GRACE_SECONDS": "0.5",
    }
    return subprocess.Popen([sys.executable, "-m", "sidecar"], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_job_sidecar_makes_the_job_folders_before_the_first_call(home: Path, tmp_path: Path) -> None:
    secret, port, base_dir = "job-secret-0123456789abcdef0123456789", free_port(), tmp_path / "job"
    folders = [base_dir / "in" / "data", base_dir / "out" / "data", base_dir / "out" / "events"]
    process = start_job_sidecar(home, base_dir, secret, port)
    try:
        wait_healthy(port, process)
        give_up = time.monotonic() + DEADLINE
        while not all(folder.is_dir() for folder in folders) and time.monotonic() < give_up:
            time.sleep(0.05)
        assert [folder.is_dir() for folder in folders] == [True, True, True]
        assert list((base_dir / "in").iterdir()) == [base_dir / "in" / "data"]  # nothing fetched yet
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["phase"] == "new"
    finally:
        stop(process)


def test_job_sidecar_commits_and_exits_zero_after_done(
    home: Path, providers: Providers, tmp_path: Path
) -> None:
    source = tmp_path / "upload.txt"
    source.write_text("abc")
    url = providers.blob.put(source, "first/first/_input/docs/upload.txt")
    providers.metadata.put_event_context(EventContext(
        id="first", type="uploaded", correlation_id="first", data={"lang": "en"},
        files={"docs/upload.txt": url},
    ))
    providers.bus.ensure_subscription("part", "watcher")
    secret, port, base_dir = "job-secret-0123456789abcdef0123456789", free_port(), tmp_path / "job"
    process = start_job_sidecar(home, base_dir, secret, port)
    try:
        wait_healthy(port, process)
        ready = httpx.get(f"http://127.0.0.1:{port}/ready", headers={"secret": secret}, timeout=DEADLINE)
        assert ready.status_code == 200, ready.text
        assert (base_dir / "in" / "data" / "docs" / "upload.txt").read_text() == "abc"
        for index in range(3):
            (base_dir / "out" / "data" / f"part{index}.txt").write_text(str(index))
            (base_dir / "out" / "events" / f"{index}.json").write_text(json.dumps(
                [{"key": "eventType", "value": "part"}, {"key": "files", "value": f"part{index}.txt"}]
            ))
        done = httpx.post(f"http://127.0.0.1:{port}/done",
                          headers={"Authorization": f"Bearer {secret}"}, timeout=DEADLINE)
        assert done.status_code == 200, done.text
        assert process.wait(timeout=DEADLINE) == 0
    finally:
        stop(process)
    _, stderr = process.communicate()
    assert secret.encode() not in stderr

    messages = providers.bus.receive("watcher", max_messages=10, lock_for=5)
    assert sorted(Event.model_validate_json(m.body).id for m in messages) == sorted(
        child_event_id("first", "splitter", f"{i}.json") for i in range(3)
    )
    [insight] = providers.metadata.insights("first")
    assert insight.execution_id == "splitter-job-a2"
    assert sorted(insight.files) == ["part0.txt", "part1.txt", "part2.txt"]


def test_job_sidecar_stopped_by_sigterm_before_done(home: Path, providers: Providers, tmp_path: Path) -> None:
    secret, port = "job-secret-0123456789abcdef0123456789", free_port()
    process = start_job_sidecar(home, tmp_path / "job", secret, port)
    try:
        wait_healthy(port, process)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=DEADLINE) == 128 + signal.SIGTERM
    finally:
        stop(process)


def test_job_sidecar_with_a_bad_environment_names_the_variable_not_the_secret(home: Path) -> None:
    env = {**base_env(home), "SHARED_SECRET": "do-not-print-me", "SIDECAR_PORT": "eighty"}
    result = subprocess.run([sys.executable, "-m", "sidecar"], env=env, cwd=REPO, capture_output=True,
                            text=True, timeout=DEADLINE, check=False)
    assert result.returncode == 2
    assert "SIDECAR_PORT" in result.stderr and "ION_EVENT_ID" in result.stderr
    assert "do-not-print-me" not in result.stderr + result.stdout


def read_environment(process: subprocess.Popen[str]) -> dict[str, str]:
    """The `export NAME=value` lines up to `ready` (the documented development output)."""
    assert process.stdout is not None
    environment: dict[str, str] = {}
    for line in process.stdout:
        line = line.rstrip("\n")
        if line == "ready":
            return environment
        assert line.startswith("export "), line
        name, _, value = line.removeprefix("export ").partition("=")
        environment[name] = shlex.split(value)[0]
    raise AssertionError("development sidecar exited before printing ready")


def test_development_sidecar_for_a_module_author(home: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "photos"
    (inputs / "2024").mkdir(parents=True)
    (inputs / "2024" / "cat.jpg").write_bytes(b"cat")
    single = tmp_path / "notes.txt"
    single.write_text("note")
    env = {**base_env(home), "SHARED_SECRET": "author's dev secret", "ION_SIDECAR_GRACE_SECONDS": "0"}
    # Whatever the environment says, development mode uses the embedded providers.
    env["ION_METADATA"] = "mongodb"
    process = subprocess.Popen(
        [*ION, "sidecar", "--development", "--port", "0", "--module", "tagger", "--publishes", "tagged",
         "--event-type", "photo", "-d", "album=summer", "-d", "owner=me", "-f", str(inputs),
         "-f", f"docs/readme.txt={single}"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        environment = read_environment(process)
        assert environment["SHARED_SECRET"] == "author's dev secret"
        assert environment["ION_EVENT_TYPE"] == "photo" and environment["ION_MODULE_NAME"] == "tagger"
        base = Path(environment["SIDECAR_BASE_DIR"])
        assert base.parent == home.resolve() / "dev"
        url = f"http://127.0.0.1:{environment['SIDECAR_PORT']}"
        headers = {"secret": environment["SHARED_SECRET"]}

        assert httpx.get(f"{url}/ready", headers=headers, timeout=DEADLINE).status_code == 200
        assert (base / "in" / "data" / "photos" / "2024" / "cat.jpg").read_bytes() == b"cat"
        assert (base / "in" / "data" / "docs" / "readme.txt").read_text() == "note"
        assert json.loads((base / "in" / "meta.json").read_text()) == [
            {"key": "album", "value": "summer"}, {"key": "owner", "value": "me"},
        ]
        (base / "out" / "events" / "bad.json").write_text(json.dumps({"eventType": "other"}))
        refused = httpx.get(f"{url}/done", headers=headers, timeout=DEADLINE)
        assert refused.status_code == 400
        assert "eventType 'other' is not in publishes [tagged]" in refused.json()["message"]
        (base / "out" / "events" / "bad.json").unlink()
        event = {"eventType": "tagged", "data": {"t": "cat"}}
        (base / "out" / "events" / "t.json").write_text(json.dumps(event))
        (base / "out" / "meta.json").write_text(json.dumps({"tags": 1}))
        assert httpx.get(f"{url}/done", headers=headers, timeout=DEADLINE).status_code == 200
        assert process.wait(timeout=DEADLINE) == 0
    finally:
        stop(process)
    _, stderr = process.communicate()
    assert "author's dev secret" not in stderr

    opened = Providers.open(load_settings(home=home, **EMBEDDED_SETTINGS))
    try:
        correlation = environment["ION_CORRELATION_ID"]
        child_id = child_event_id(environment["ION_EVENT_ID"], "tagger", "t.json")
        child = opened.metadata.get_event_context(child_id)
        assert child is not None and child.type == "tagged" and child.data == {"t": "cat"}
        [insight] = opened.metadata.insights(correlation)
        assert insight.data == {"tags": 1} and insight.module == "tagger"
    finally:
        opened.close()


def test_development_run_is_recorded_for_trace(home: Path, tmp_path: Path) -> None:
    env = {**base_env(home), "ION_SIDECAR_GRACE_SECONDS": "0"}
    process = subprocess.Popen(
        [*ION, "sidecar", "--development", "--port", "0"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        environment = read_environment(process)
        assert len(environment["SHARED_SECRET"]) >= 40  # generated: 32 random bytes
        url = f"http://127.0.0.1:{environment['SIDECAR_PORT']}"
        headers = {"Authorization": f"Bearer {environment['SHARED_SECRET']}"}
        assert httpx.post(f"{url}/ready", headers=headers, timeout=DEADLINE).status_code == 200
        base = Path(environment["SIDECAR_BASE_DIR"])
        (base / "out" / "events" / "any.json").write_text(json.dumps({"eventType": "whatever"}))
        assert httpx.post(f"{url}/done", headers=headers, timeout=DEADLINE).status_code == 200
        assert process.wait(timeout=DEADLINE) == 0
    finally:
        stop(process)
    process.communicate()
    opened = Providers.open(load_settings(home=home, **EMBEDDED_SETTINGS))
    try:
        correlation = environment["ION_CORRELATION_ID"]
        [job] = opened.metadata.jobs(correlation)
        assert job.module == "dev" and job.status is JobStatus.SUCCEEDED
        types = sorted(c.type for c in opened.metadata.event_contexts(correlation))
        assert types == ["dev", "whatever"]  # any type is allowed without --publishes
    finally:
        opened.close()
