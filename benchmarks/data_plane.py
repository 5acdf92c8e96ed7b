"""Sidecar data plane: /done committing files and /ready fetching them back, against the plain tools.

Two data sets: 100 files of 1 MiB, and one file of 1 GiB. On Azure Blob Storage (Azurite) the baseline
is the azure-storage-blob SDK's own upload_blob / download_blob with the same concurrency as the
sidecar (files at a time, and blocks at a time per blob); on the filesystem store it is
shutil.copyfile with the same number of files at a time. The sidecar is a real `python -m sidecar`
process; its RSS is sampled throughout. Throughput is the data set's bytes over the call's duration.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import (
    MIB,
    PYTHON,
    Child,
    Row,
    RssSampler,
    azurite,
    clean_env,
    free_port,
    http_status,
    ratio,
    scratch,
    wait_healthy,
    wait_until,
)
from shared.blob.azureblob import MAX_CONCURRENCY as BLOCKS_AT_A_TIME
from shared.contract.transfer import FILES_AT_A_TIME
from shared.ids import child_event_id
from shared.metadata.sqlite import SqliteMetadata
from shared.models import EventContext

SMALL_COUNT, SMALL_BYTES = 100, MIB
LARGE_BYTES = 1024 * MIB
MODULE = "producer"
SECRET = "data-plane-benchmark-secret-0123456789abcdef"
MEMORY_LIMIT = 200 * MIB
# Runs per side (best kept): the small set takes about a second a run and is the most disturbed by
# other work on the machine; a 1 GiB run on Azurite still moves by half between runs here, so three
# of them per side sometimes all miss the quiet moments.
SMALL_REPS = 7
LARGE_REPS = 5


@dataclass
class DataSet:
    label: str
    folder: Path
    files: dict[str, Path]

    @property
    def size(self) -> int:
        return sum(path.stat().st_size for path in self.files.values())


def _write_random(path: Path, size: int) -> None:
    with open(path, "wb") as out:
        left = size
        while left:
            chunk = min(left, 8 * MIB)
            out.write(os.urandom(chunk))
            left -= chunk


def _data_sets(folder: Path) -> list[DataSet]:
    small = folder / "small"
    small.mkdir(parents=True)
    files = {}
    for index in range(SMALL_COUNT):
        path = small / f"part-{index:03d}.bin"
        _write_random(path, SMALL_BYTES)
        files[path.name] = path
    large = folder / "large"
    large.mkdir()
    _write_random(large / "large.bin", LARGE_BYTES)
    return [DataSet(f"{SMALL_COUNT} x 1 MiB", small, files),
            DataSet("1 x 1 GiB", large, {"large.bin": large / "large.bin"})]


# -- Ion: a real sidecar process per job -----------------------------------------------------------
@dataclass
class Measured:
    seconds: float
    peak_rss: int


class IonSide:
    def __init__(self, folder: Path, provider_env: dict[str, str]) -> None:
        self.folder = folder
        self.home = folder / "home"
        self.provider_env = provider_env
        self.metadata = SqliteMetadata(self.home / "metadata.sqlite3")
        self.runs = 0

    @contextmanager
    def _sidecar(self, event: EventContext, publishes: str) -> Iterator[tuple[Child, str, Path]]:
        self.runs += 1
        base = self.folder / f"job-{self.runs}"
        base.mkdir()
        port = free_port()
        env = clean_env(
            ION_HOME=str(self.home), ION_MESSAGING="sqlite", ION_METADATA="sqlite", **self.provider_env,
            SHARED_SECRET=SECRET, SIDECAR_PORT=str(port), SIDECAR_BASE_DIR=str(base) + "/",
            ION_EVENT_ID=event.id, ION_CORRELATION_ID=event.correlation_id, ION_EVENT_TYPE=event.type,
            ION_MODULE_NAME=MODULE, ION_PUBLISHES=publishes, ION_SIDECAR_GRACE_SECONDS="0",
        )
        child = Child([PYTHON, "-m", "sidecar"], env, self.folder / f"sidecar-{self.runs}.log")
        try:
            url = f"http://127.0.0.1:{port}"
            wait_healthy(f"{url}/healthz", child)
            # The sidecar opens its blob store and the embedded stores in the background as it starts
            # (a module starting beside it takes longer than that): time the data plane, not imports.
            wait_until(lambda: "opened ahead: " in child.log_path.read_text(errors="replace"), 60,
                       "the sidecar's stores to open")
            yield child, url, base
        finally:
            child.stop()
            shutil.rmtree(base, ignore_errors=True)

    @staticmethod
    def _call(child: Child, url: str) -> Measured:
        with RssSampler(child.pid) as sampler:
            started = time.perf_counter()
            status, body = http_status(url, {"secret": SECRET})
            seconds = time.perf_counter() - started
        if status != 200:
            raise RuntimeError(f"{url} answered {status}: {body[:500]!r}\n{child.log_tail()}")
        return Measured(seconds, sampler.peak)

    def commit_then_fetch(self, data: DataSet) -> tuple[Measured, Measured]:
        """/done with the data set in out/data, then /ready of the child event that references it."""
        parent = EventContext(id=f"dp-{self.runs}-{time.time_ns()}", type="dp_in", correlation_id="dp")
        self.metadata.put_event_context(parent)
        with self._sidecar(parent, "dp_out") as (child, url, base):
            status, body = http_status(f"{url}/ready", {"secret": SECRET})
            if status != 200:
                raise RuntimeError(f"/ready answered {status}: {body[:500]!r}")
            out_data = base / "out" / "data"
            for name, path in data.files.items():
                path.rename(out_data / name)  # same filesystem: the module's files, in place at once
            event = {"eventType": "dp_out", "files": sorted(data.files)}
            (base / "out" / "events" / "out.json").write_text(json.dumps(event))
            try:
                done = self._call(child, f"{url}/done")
            finally:
                for name, path in data.files.items():
                    (out_data / name).rename(path)
        child_id = child_event_id(parent.id, MODULE, "out.json")
        stored = self.metadata.get_event_context(child_id)
        if stored is None or sorted(stored.files) != sorted(data.files):
            raise RuntimeError(f"/done did not record the child event {child_id} with its files")
        with self._sidecar(stored, "") as (child, url, base):
            ready = self._call(child, f"{url}/ready")
            for name, path in data.files.items():
                fetched = base / "in" / "data" / name
                if fetched.stat().st_size != path.stat().st_size:
                    raise RuntimeError(f"/ready fetched {name} with the wrong size")
        return done, ready

    def close(self) -> None:
        self.metadata.close()


# -- baselines -------------------------------------------------------------------------------------
def _timed(action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _each(files: list[tuple[str, Path]], work: Callable[[str, Path], object]) -> None:
    with ThreadPoolExecutor(max_workers=FILES_AT_A_TIME) as pool:
        for future in [pool.submit(work, name, path) for name, path in files]:
            future.result()


def sdk_round_trip(connection_string: str, data: DataSet, target: Path) -> tuple[float, float]:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(connection_string)
    container = service.get_container_client("baseline")
    if not container.exists():
        container.create_container()
    files = sorted(data.files.items())

    def upload(name: str, path: Path) -> None:
        with open(path, "rb") as stream:
            container.upload_blob(f"{data.label}/{name}", stream, length=path.stat().st_size, overwrite=True,
                                  max_concurrency=BLOCKS_AT_A_TIME)

    def download(name: str, path: Path) -> None:
        with open(target / name, "wb") as stream:
            container.download_blob(f"{data.label}/{name}", max_concurrency=BLOCKS_AT_A_TIME).readinto(stream)

    target.mkdir(parents=True)
    try:
        up = _timed(lambda: _each(files, upload))
        down = _timed(lambda: _each(files, download))
    finally:
        shutil.rmtree(target, ignore_errors=True)
        service.close()
    return up, down


def copy_round_trip(data: DataSet, store: Path, target: Path) -> tuple[float, float]:
    files = sorted(data.files.items())
    store.mkdir(parents=True)
    target.mkdir(parents=True)
    try:
        up = _timed(lambda: _each(files, lambda name, path: shutil.copyfile(path, store / name)))
        down = _timed(lambda: _each(files, lambda name, path: shutil.copyfile(store / name, target / name)))
    finally:
        shutil.rmtree(store, ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)
    return up, down


# -- the benchmark ---------------------------------------------------------------------------------
def _rows(store: str, data: DataSet, done: Measured, ready: Measured, up: float, down: float,
          baseline: str, share: float) -> list[Row]:
    """Throughputs of the best runs; the figure says which side each is."""
    rows = []
    mib = data.size / MIB
    for call, measured, seconds in (("/done", done, up), ("/ready", ready, down)):
        ion_rate, base_rate = mib / measured.seconds, mib / seconds
        part = ratio(ion_rate, base_rate)
        rows.append(Row("3 data plane", f"{store}: {call} {data.label} vs {baseline}", round(ion_rate, 1),
                        round(base_rate, 1), "MiB/s", part, f">= {share} of {baseline}",
                        part is not None and part >= share))
    return rows


def _reps(data: DataSet) -> int:
    return LARGE_REPS if len(data.files) == 1 else SMALL_REPS


def _best(store: str, data: DataSet, ion: IonSide, baseline: Callable[[], tuple[float, float]],
          reps: int) -> tuple[Measured, Measured, float, float, int]:
    """Best of `reps` for each side, alternating which goes first so neither always meets the other's
    disk writeback; dirty pages are flushed before every run."""
    done = ready = Measured(float("inf"), 0)
    up = down = float("inf")
    peak = 0
    for rep in range(reps):
        for side in (("baseline", "ion") if rep % 2 == 0 else ("ion", "baseline")):
            os.sync()
            if side == "ion":
                one_done, one_ready = ion.commit_then_fetch(data)
                done = min(done, one_done, key=lambda m: m.seconds)
                ready = min(ready, one_ready, key=lambda m: m.seconds)
                peak = max(peak, one_done.peak_rss, one_ready.peak_rss)
            else:
                one_up, one_down = baseline()
                up, down = min(up, one_up), min(down, one_down)
    return done, ready, up, down, peak


def run() -> list[Row]:
    rows: list[Row] = []
    peaks: dict[str, int] = {}
    with scratch("dataplane") as folder:
        data_sets = _data_sets(folder / "data")
        with azurite(folder) as storage:
            (folder / "azure").mkdir()
            ion = IonSide(folder / "azure", {"ION_BLOB": "azureblob", "ION_BLOB_CONTAINER": "ion",
                                             "AZURE_STORAGE_CONNECTION_STRING": storage.connection_string})
            try:
                for data in data_sets:
                    def sdk(data: DataSet = data) -> tuple[float, float]:
                        return sdk_round_trip(storage.connection_string, data, folder / "sdk-fetched")

                    done, ready, up, down, peak = _best("azureblob", data, ion, sdk, _reps(data))
                    peaks["azureblob"] = max(peaks.get("azureblob", 0), peak)
                    rows += _rows("azureblob", data, done, ready, up, down, "SDK", 0.9)
            finally:
                ion.close()
        shutil.rmtree(folder / "azure", ignore_errors=True)
        (folder / "fs").mkdir()
        ion = IonSide(folder / "fs", {"ION_BLOB": "filesystem"})
        try:
            for data in data_sets:
                def copy(data: DataSet = data) -> tuple[float, float]:
                    shutil.rmtree(ion.home / "blobs", ignore_errors=True)  # keep one copy on disk at a time
                    return copy_round_trip(data, folder / "copy-store", folder / "copy-fetched")

                done, ready, up, down, peak = _best("filesystem", data, ion, copy, _reps(data))
                peaks["filesystem"] = max(peaks.get("filesystem", 0), peak)
                rows += _rows("filesystem", data, done, ready, up, down, "copyfile", 0.8)
                shutil.rmtree(ion.home / "blobs", ignore_errors=True)
        finally:
            ion.close()
    for store, peak in peaks.items():
        rows.append(Row("3 data plane", f"{store}: sidecar peak RSS", round(peak / MIB, 1), None, "MiB", None,
                        "< 200 MiB", peak < MEMORY_LIMIT))
    return rows
