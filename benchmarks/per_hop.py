"""Per-hop overhead: a chain of three trivial modules under a real `ion up`, against the same programs
run one after another by a plain script.

Each module calls /ready, writes one file and one event, and calls /done. The baseline runs the same
three programs in sequence against a stand-in that answers /ready and /done at once: the programs'
own start-up and HTTP calls are in both, so the difference is what Ion adds per hop (dispatch, job
and sidecar start, fetching inputs, committing the file, the insight, the event, and the job's
completion). Ion's chain is timed from publishing the first event to the third job's record
`succeeded`; chains alternate with baseline runs, and the figures are per hop: (Ion - baseline) / 3.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from benchmarks.harness import PYTHON, Child, Row, clean_env, median, percentile, scratch, wait_until
from shared.blob.filesystem import FilesystemBlobStore
from shared.messaging.sqlite import SqliteBus
from shared.metadata.sqlite import SqliteMetadata
from shared.models import JobStatus
from shared.submit import submit_event

CHAINS = 60
HOPS = 3
MODULE = [PYTHON, "-m", "benchmarks.chain_module"]


def _manifest(folder: Path) -> Path:
    lines = ["modules:"]
    for hop in range(1, HOPS + 1):
        lines += [
            f"  - name: hop{hop}",
            f"    subscribes_to: chain_{hop - 1}",
            f"    publishes: [chain_{hop}]",
            "    executor: local",
            f"    command: {json.dumps(MODULE)}",
            f"    env: {{NEXT_EVENT: chain_{hop}, PYTHONPATH: {json.dumps(str(Path(__file__).parent.parent))}}}",
        ]
    path = folder / "modules.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


class _StandIn(BaseHTTPRequestHandler):
    """Answers /ready and /done at once, as a sidecar with nothing to move would."""

    def do_GET(self) -> None:
        body = b'{"statusCode": 200}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


def _baseline_chain(folder: Path, port: int) -> float:
    import subprocess

    started = time.perf_counter()
    for hop in range(1, HOPS + 1):
        base = folder / f"hop{hop}"
        base.mkdir(parents=True)
        env = clean_env(SIDECAR_PORT=str(port), SHARED_SECRET="baseline-secret", SIDECAR_BASE_DIR=str(base) + "/",
                        ION_MODULE_NAME=f"hop{hop}", NEXT_EVENT=f"chain_{hop}")
        subprocess.run(MODULE, env=env, check=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - started


def run() -> list[Row]:
    with scratch("hops") as folder:
        home = folder / "home"
        manifest = _manifest(folder)
        env = clean_env(ION_HOME=str(home))
        bus = SqliteBus(home / "bus.sqlite3")
        metadata = SqliteMetadata(home / "metadata.sqlite3")
        blob = FilesystemBlobStore(home / "blobs")
        for hop in range(1, HOPS + 1):
            bus.ensure_subscription(f"chain_{hop - 1}", f"hop{hop}")
        server = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        ion = Child([PYTHON, "-m", "shared.cli.main", "up", "-m", str(manifest)], env, folder / "ion-up.log")
        ion_chains: list[float] = []
        baseline_chains: list[float] = []
        try:
            for index in range(CHAINS + 1):
                baseline = _baseline_chain(folder / "baseline" / str(index), server.server_address[1])
                started = time.perf_counter()
                context = submit_event(bus, metadata, blob, "chain_0", {"chain": str(index)})

                def finished(correlation_id: str = context.correlation_id) -> bool:
                    if not ion.running():
                        raise RuntimeError(f"ion up exited:\n{ion.log_tail()}")
                    jobs = metadata.jobs(correlation_id)
                    if any(job.status.final and job.status != JobStatus.SUCCEEDED for job in jobs):
                        raise RuntimeError(f"a chain job did not succeed: {[j.reason for j in jobs]}")
                    return len(jobs) == HOPS and all(job.status == JobStatus.SUCCEEDED for job in jobs)

                wait_until(finished, 120, f"chain {index}")
                if index > 0:  # the first chain warms up `ion up` (imports, the sidecar host)
                    ion_chains.append(time.perf_counter() - started)
                    baseline_chains.append(baseline)
        finally:
            ion.stop()
            server.shutdown()
            bus.close()
            metadata.close()
    added = [(i - b) / HOPS * 1000 for i, b in zip(ion_chains, baseline_chains, strict=True)]
    ion_hop = [i / HOPS * 1000 for i in ion_chains]
    base_hop = [b / HOPS * 1000 for b in baseline_chains]
    p50, p99 = median(added), percentile(added, 0.99)
    return [
        Row("2 per hop", f"added per hop, median of {CHAINS} chains", round(p50, 1), None, "ms", None,
            "<= 100 ms", p50 <= 100),
        Row("2 per hop", f"added per hop, p99 of {CHAINS} chains", round(p99, 1), None, "ms", None,
            "<= 300 ms", p99 <= 300),
        Row("2 per hop", "hop time, median (Ion vs plain script)", round(median(ion_hop), 1),
            round(median(base_hop), 1), "ms", median(ion_hop) / median(base_hop), "-", None),
    ]
