"""Running the real `ion` command as child processes, the way a user does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ION = [sys.executable, "-m", "shared.cli.main"]


def ion_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ION_", "SERVICEBUS_", "MONGODB_",
                                                                        "COSMOS_", "AZURE_STORAGE"))}
    env.update({"ION_HOME": str(home), "PYTHONPATH": str(REPO), "ION_RECONCILE_SECONDS": "0.5"})
    env.update(extra)
    return env


def run_ion(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ION, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)


class IonUp:
    """`ion up` in the background; stop() ends it with SIGTERM, kill() with SIGKILL."""

    def __init__(self, manifest: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._log_file = open(log, "ab")  # noqa: SIM115 - closed in stop()/kill()
        self.process = subprocess.Popen([*ION, "up", "-m", str(manifest)], env=env, cwd=REPO,
                                        stdout=self._log_file, stderr=subprocess.STDOUT)

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.running():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self._log_file.close()


def publish(env: dict[str, str], manifest: Path, event_type: str, *args: str) -> dict[str, str]:
    done = run_ion(["publish", event_type, "-m", str(manifest), "--json", *args], env)
    assert done.returncode == 0, done.stderr
    result: dict[str, str] = json.loads(done.stdout)
    return result


def trace(env: dict[str, str], correlation_id: str) -> dict[str, Any]:
    done = run_ion(["trace", correlation_id, "--json"], env)
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def wait_for(condition: Callable[[], Any], timeout: float = 90, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


def all_jobs(document: dict[str, Any]) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []

    def walk(events: list[dict[str, Any]]) -> None:
        for event in events:
            for job in event["jobs"]:
                jobs.append(job)
                walk(job["events"])

    walk(document["events"])
    return jobs


def all_events(document: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(events: list[dict[str, Any]]) -> None:
        for event in events:
            found.append(event)
            for job in event["jobs"]:
                walk(job["events"])

    walk(document["events"])
    return found
