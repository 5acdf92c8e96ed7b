"""Session fixtures that start the emulators the Azure providers are tested on.

Each emulator runs on a free 127.0.0.1 port with its data in a temporary directory and is stopped at
the end of the session. A missing emulator fails the test (never skips): install them with `make tools`.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import local_tools
from tests.local_tools import AZURITE_ACCOUNT, AZURITE_KEY, COSMIUM_KEY, free_port

START_DEADLINE = 90.0  # seconds; generous, a cold start on a busy machine can be slow



@dataclass(frozen=True)
class Azurite:
    blob_endpoint: str
    connection_string: str
    account: str = AZURITE_ACCOUNT
    key: str = AZURITE_KEY


@dataclass(frozen=True)
class FerretDB:
    uri: str


@dataclass(frozen=True)
class Cosmium:
    endpoint: str
    key: str = COSMIUM_KEY


def find_tool(name: str) -> str:
    """The emulator's executable; a missing one fails the run (never a skip)."""
    try:
        return local_tools.find_tool(name)
    except FileNotFoundError as missing:
        pytest.fail(f"emulator {missing} (scripts/install.d/emulators.sh)", pytrace=False)


class EmulatorProcess:
    """A started emulator: waits for its port, keeps its log, stops it (and only it) at the end."""

    def __init__(self, name: str, argv: list[str], port: int, workdir: Path) -> None:
        self.name = name
        self.port = port
        self.log_path = workdir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            argv, cwd=workdir, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                pytest.fail(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        pytest.fail(
            f"{self.name} did not listen on port {self.port} in {START_DEADLINE:.0f}s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self._log.close()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """Azurite's blob service only, telemetry off."""
    binary = find_tool("azurite-blob")
    workdir = tmp_path_factory.mktemp("azurite")
    port = free_port()
    argv = [
        binary, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(workdir / "data"),
        "--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry",
    ]
    process = EmulatorProcess("azurite", argv, port, workdir)
    endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    connection_string = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint={endpoint};"
    )
    try:
        yield Azurite(blob_endpoint=endpoint, connection_string=connection_string)
    finally:
        process.stop()


@pytest.fixture(scope="session")
def ferretdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FerretDB]:
    """FerretDB v1 on its SQLite backend; telemetry off, debug listener on its own free port."""
    binary = find_tool("ferretdb")
    workdir = tmp_path_factory.mktemp("ferretdb")
    (workdir / "data").mkdir()
    port, debug_port = free_port(), free_port()
    argv = [
        binary, "--handler=sqlite", f"--sqlite-url=file:{workdir / 'data'}/",
        f"--listen-addr=127.0.0.1:{port}", f"--debug-addr=127.0.0.1:{debug_port}",
        f"--state-dir={workdir}", "--telemetry=disable", "--log-level=warn",
    ]
    process = EmulatorProcess("ferretdb", argv, port, workdir)
    try:
        yield FerretDB(uri=f"mongodb://127.0.0.1:{port}/")
    finally:
        process.stop()


@pytest.fixture(scope="session")
def cosmium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cosmium]:
    """cosmium over plain HTTP on 127.0.0.1 (the build patched in by emulators.sh), nothing persisted."""
    binary = find_tool("cosmium")
    workdir = tmp_path_factory.mktemp("cosmium")
    port = free_port()
    argv = [
        binary, "-Host", "127.0.0.1", "-Port", str(port), "-DisableTls", "-LogLevel", "error",
        "-AccountKey", COSMIUM_KEY,
    ]
    process = EmulatorProcess("cosmium", argv, port, workdir)
    try:
        yield Cosmium(endpoint=f"http://127.0.0.1:{port}/")
    finally:
        process.stop()
