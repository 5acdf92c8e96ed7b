"""Starts a real `ion sidecar --development` for the tests and reads the environment it prints."""

from __future__ import annotations

import json
import os
import queue
import shlex
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
START_DEADLINE = 60.0


def ion_command() -> list[str]:
    """ION_BIN, else `ion` on PATH, else the repository's .venv/bin/ion."""
    configured = os.environ.get("ION_BIN")
    if configured:
        return shlex.split(configured)
    found = shutil.which("ion")
    if found:
        return [found]
    venv_ion = REPO / ".venv" / "bin" / "ion"
    if venv_ion.exists():
        return [str(venv_ion)]
    raise RuntimeError("cannot find the ion command: set ION_BIN, put ion on PATH or run `make install`")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DevSidecar:
    """One `ion sidecar --development` process with its own ION_HOME."""

    def __init__(
        self,
        home: Path,
        *,
        port: int = 0,
        base_dir: Path | None = None,
        secret: str | None = None,
        publishes: str | None = None,
        data: dict[str, str] | None = None,
        files: dict[str, Path] | None = None,
        keep_running: bool = False,
    ) -> None:
        self.home = home
        args = [*ion_command(), "sidecar", "--development", "--port", str(port)]
        if base_dir is not None:
            args += ["--base-dir", str(base_dir)]
        if publishes is not None:
            args += ["--publishes", publishes]
        for key, value in (data or {}).items():
            args += ["--data", f"{key}={value}"]
        for name, path in (files or {}).items():
            args += ["--file", f"{name}={path}"]
        if keep_running:
            args.append("--keep-running")
        env = {**os.environ, "ION_HOME": str(home)}
        env.pop("SHARED_SECRET", None)
        if secret is not None:
            env["SHARED_SECRET"] = secret  # read by the command; kept off its command line
        self.process = subprocess.Popen(
            args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=home.parent
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.stderr_lines: list[str] = []
        threading.Thread(target=self._pump_stdout, daemon=True).start()
        threading.Thread(target=self._pump_stderr, daemon=True).start()
        self.environment: dict[str, str] = {}

    def _pump_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _pump_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr_lines.append(line)

    def wait_ready(self) -> dict[str, str]:
        """The printed `export NAME=value` lines, once the sidecar says `ready`."""
        give_up_at = time.monotonic() + START_DEADLINE
        while True:
            try:
                line = self._lines.get(timeout=max(0.1, give_up_at - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"sidecar did not become ready; stderr:\n{self.stderr()}") from None
            if line is None:
                raise AssertionError(f"sidecar exited before ready; stderr:\n{self.stderr()}")
            if line.strip() == "ready":
                return self.environment
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").partition("=")
                self.environment[name] = shlex.split(value)[0] if value else ""

    def stderr(self) -> str:
        return "".join(self.stderr_lines)

    def wait_exit(self, deadline: float = START_DEADLINE) -> int:
        return self.process.wait(timeout=deadline)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def trace(self, correlation_id: str) -> dict[str, object]:
        """`ion trace --json` of the development event's workflow, from this sidecar's ION_HOME."""
        result = subprocess.run(
            [*ion_command(), "trace", correlation_id, "--json"],
            env={**os.environ, "ION_HOME": str(self.home)},
            capture_output=True, text=True, timeout=START_DEADLINE, check=False, cwd=self.home.parent,
        )
        assert result.returncode == 0, result.stderr
        document: dict[str, object] = json.loads(result.stdout)
        return document
