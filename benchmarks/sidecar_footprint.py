"""Sidecar footprint as in production: start-up time to the first 200 from /healthz, and idle RSS.

The sidecar runs as the image runs it (`ion sidecar`) with the production providers: Azure Blob
Storage (on Azurite), Azure Service Bus (a well-formed connection string to a namespace that cannot be
reached) and MongoDB (a URI to a local port where nothing listens). The floor is a bare Quart app on
Hypercorn answering /healthz only. Each side starts several times; the table shows the median.
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.harness import (
    MIB,
    PYTHON,
    Child,
    Row,
    azurite,
    clean_env,
    free_port,
    median,
    ratio,
    rss_bytes,
    scratch,
    wait_healthy,
)

STARTS = 5
# What the sidecar image runs: `ion sidecar`, through the entry point's light path.
ION_SIDECAR = [PYTHON, "-c", "import sys; from shared.cli.entry import main; sys.argv[0] = 'ion'; main()",
               "sidecar"]
IDLE_SECONDS = 2.0  # let start-up work settle before reading RSS
# Syntactically valid; the namespace does not exist and the key is made up.
SERVICEBUS = ("Endpoint=sb://ion-bench-unreachable.servicebus.windows.net/;SharedAccessKeyName=bench;"
              "SharedAccessKey=YmVuY2htYXJrLW9ubHktbm90LWEta2V5")


def _measure(argv: list[str], env: dict[str, str], port: int, log: Path) -> tuple[float, int]:
    child = Child(argv, env, log)
    try:
        seconds = wait_healthy(f"http://127.0.0.1:{port}/healthz", child)
        time.sleep(IDLE_SECONDS)
        if not child.running():
            raise RuntimeError(f"{log.name} exited while idle:\n{child.log_tail()}")
        return seconds, rss_bytes(child.pid)
    finally:
        child.stop()


def sidecar_env(folder: Path, port: int, storage: str) -> dict[str, str]:
    return clean_env(
        ION_HOME=str(folder / "home"),
        ION_BLOB="azureblob", AZURE_STORAGE_CONNECTION_STRING=storage, ION_BLOB_CONTAINER="footprint",
        ION_MESSAGING="servicebus", SERVICEBUS_CONNECTION_STRING=SERVICEBUS,
        ION_METADATA="mongodb", MONGODB_URI=f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=2000",
        SHARED_SECRET="footprint-benchmark-secret-0123456789abcdef", SIDECAR_PORT=str(port),
        SIDECAR_BASE_DIR=str(folder / "job") + "/", ION_EVENT_ID="ev-footprint", ION_CORRELATION_ID="ev-footprint",
        ION_EVENT_TYPE="footprint", ION_MODULE_NAME="footprint", ION_PUBLISHES="",
    )


def run() -> list[Row]:
    ion_start: list[float] = []
    ion_rss: list[int] = []
    floor_start: list[float] = []
    floor_rss: list[int] = []
    with scratch("footprint") as folder, azurite(folder) as storage:
        for index in range(STARTS):
            port = free_port()
            seconds, rss = _measure(ION_SIDECAR, sidecar_env(folder, port, storage.connection_string),
                                    port, folder / f"sidecar-{index}.log")
            ion_start.append(seconds)
            ion_rss.append(rss)
            port = free_port()
            seconds, rss = _measure([PYTHON, "-m", "benchmarks.floor_app", str(port)], clean_env(), port,
                                    folder / f"floor-{index}.log")
            floor_start.append(seconds)
            floor_rss.append(rss)
    start, floor = median(ion_start), median(floor_start)
    memory, floor_memory = median(ion_rss) / MIB, median(floor_rss) / MIB
    return [
        Row("4 sidecar footprint", "start to first /healthz 200 (median of 5)", round(start, 3),
            round(floor, 3), "s", ratio(start, floor), "<= 1 s", start <= 1.0),
        Row("4 sidecar footprint", "idle RSS (median of 5)", round(memory, 1), round(floor_memory, 1), "MiB",
            ratio(memory, floor_memory), "<= 80 MiB", memory <= 80),
    ]
