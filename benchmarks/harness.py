"""What every benchmark shares: result rows, child processes, memory sampling, free ports, Azurite."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tests.local_tools import AZURITE_ACCOUNT, AZURITE_KEY, find_tool, free_port

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SCRATCH_ROOT = Path(os.environ.get("ION_BENCH_TMP", "/tmp"))
MIB = 1024 * 1024



@dataclass
class Row:
    """One line of the table: Ion's figure beside its baseline's, and whether the target holds."""

    benchmark: str
    figure: str
    ion: float
    baseline: float | None
    unit: str
    ratio: float | None
    target: str
    met: bool | None  # None: reported for context, no target of its own

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ratio(ion: float, baseline: float | None) -> float | None:
    if baseline is None or baseline == 0:
        return None
    return ion / baseline


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p99 of 150 samples is the 149th smallest)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# -- scratch space and ports -----------------------------------------------------------------------
@contextmanager
def scratch(name: str) -> Iterator[Path]:
    """A temporary folder on /tmp, removed afterwards (the data-plane files are large)."""
    folder = Path(tempfile.mkdtemp(prefix=f"ion-bench-{name}-", dir=SCRATCH_ROOT))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for an Ion child process: no provider settings leak in from the caller's."""
    prefixes = ("ION_", "SERVICEBUS_", "MONGODB_", "COSMOS_", "AZURE_STORAGE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes) or k == "ION_TOOLS"}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


# -- memory ----------------------------------------------------------------------------------------
def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


class RssSampler:
    """Samples a process's RSS every few milliseconds in a thread; `peak` is the highest seen."""

    def __init__(self, pid: int, every: float = 0.01) -> None:
        self.pid = pid
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes(self.pid))


# -- child processes -------------------------------------------------------------------------------
class Child:
    """A child process with its output in a log file; stopped (it and only it) by stop()."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, cwd: Path = REPO) -> None:
        self.log_path = log
        self._log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.started = time.monotonic()
        self.process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 30) -> None:
        if self.running():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def wait_until(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.005) -> Any:
    """Poll until `condition` is truthy; a generous deadline, never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def http_status(url: str, headers: dict[str, str] | None = None, timeout: float = 600) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_healthy(url: str, child: Child, timeout: float = 60) -> float:
    """Seconds from the child's start to its first 200 on `url` (polled every 5 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.running():
            raise RuntimeError(f"{child.log_path.name} exited early:\n{child.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - child.started
        except OSError:
            pass
        time.sleep(0.005)
    raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f}s:\n{child.log_tail()}")


# -- Azurite ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Azurite:
    connection_string: str
    pid: int


@contextmanager
def azurite(workdir: Path) -> Iterator[Azurite]:
    """Azurite's blob service on a free port, its data under `workdir` (removed with it)."""
    port = free_port()
    argv = [find_tool("azurite-blob"), "--blobHost", "127.0.0.1", "--blobPort", str(port),
            "--location", str(workdir / "azurite"), "--skipApiVersionCheck", "--loose", "--silent"]
    child = Child(argv, dict(os.environ), workdir / "azurite.log", cwd=workdir)
    try:
        def listening() -> bool:
            if not child.running():
                raise RuntimeError(f"azurite exited:\n{child.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return True
            except OSError:
                return False

        wait_until(listening, 90, "azurite to listen", every=0.1)
        endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
        yield Azurite(
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={endpoint};",
            child.pid,
        )
    finally:
        child.stop()
